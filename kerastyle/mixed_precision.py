"""Mixed precision with Keras's names: ``set_global_policy('mixed_float16' | 'mixed_bfloat16' | 'float32')``.

Under a mixed policy ``fit`` runs the forward pass and the loss under ``torch.autocast`` in the
policy's compute dtype while the weights (and the optimizer's slots) stay float32, as in Keras.
``mixed_float16`` also scales the loss with a ``torch.amp.GradScaler`` (float16's range is small:
gradients would underflow); a step whose gradients overflow is skipped and the scale lowered. Its
state goes into ``BackupAndRestore`` backups. ``mixed_float16`` needs CUDA; ``mixed_bfloat16`` also
runs on CPU. The analytic engine computes in float32 only, so under a mixed policy
``engine='auto'`` trains with autograd and ``engine='analytic'`` is refused.
"""

from __future__ import annotations

import torch

__all__ = ["DTypePolicy", "Policy", "global_policy", "set_global_policy"]

_COMPUTE = {"float32": torch.float32, "mixed_float16": torch.float16, "mixed_bfloat16": torch.bfloat16}


class DTypePolicy:
    """A dtype policy: ``name``, ``compute_dtype`` (forward pass) and ``variable_dtype`` (weights)."""

    def __init__(self, name="float32"):
        if name not in _COMPUTE:
            raise ValueError(f"DTypePolicy: argument `name` must be one of {', '.join(map(repr, _COMPUTE))}, "
                             f"got {name!r}.")
        self.name = name

    @property
    def compute_dtype(self) -> str:
        return str(_COMPUTE[self.name]).replace("torch.", "")

    @property
    def variable_dtype(self) -> str:
        return "float32"

    @property
    def torch_compute_dtype(self) -> torch.dtype:
        return _COMPUTE[self.name]

    @property
    def mixed(self) -> bool:
        return self.name != "float32"

    def get_config(self) -> dict:
        return {"name": self.name}

    def __eq__(self, other):
        return isinstance(other, DTypePolicy) and other.name == self.name

    def __hash__(self):
        return hash(self.name)

    def __repr__(self):
        return f'<DTypePolicy "{self.name}">'


Policy = DTypePolicy  # Keras 2's name

_policy = DTypePolicy("float32")


def set_global_policy(policy) -> None:
    """Set the policy ``fit`` trains under: a name ('float32', 'mixed_float16', 'mixed_bfloat16'), a
    ``DTypePolicy`` or None (back to float32)."""
    global _policy
    if policy is None:
        _policy = DTypePolicy("float32")
    elif isinstance(policy, DTypePolicy):
        _policy = policy
    elif isinstance(policy, str):
        if policy not in _COMPUTE:
            raise ValueError(f"set_global_policy: argument `policy` must be one of "
                             f"{', '.join(map(repr, _COMPUTE))}, got {policy!r}.")
        _policy = DTypePolicy(policy)
    else:
        raise TypeError(f"set_global_policy: argument `policy` must be a policy name or a DTypePolicy, "
                        f"got {type(policy).__name__}.")


def global_policy() -> DTypePolicy:
    """The current global policy (``float32`` unless set)."""
    return _policy


def analytic_reason() -> str | None:
    """Why the analytic engine cannot train under the global policy, or None."""
    if _policy.mixed:
        return (f"the mixed precision policy {_policy.name!r} is active and the analytic engine computes in "
                f"float32 only (its hand-derived backward passes are not written for autocast)")
    return None


class Autocast:
    """The fit's autocast context factory (None when the policy is float32), and the GradScaler for
    float16 (None otherwise). Decided once per fit from the policy and the training device."""

    def __init__(self, device: torch.device):
        self.dtype = _policy.torch_compute_dtype if _policy.mixed else None
        self.device_type = device.type
        self.scaler = None
        if self.dtype is torch.float16:
            if device.type != "cuda":
                raise ValueError("The mixed precision policy 'mixed_float16' needs a CUDA device (this fit trains on "
                                 f"{device}); on CPU use 'mixed_bfloat16'.")
            self.scaler = torch.amp.GradScaler("cuda")

    @property
    def active(self) -> bool:
        return self.dtype is not None

    def __call__(self):
        return torch.autocast(self.device_type, dtype=self.dtype)
