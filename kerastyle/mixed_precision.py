"""Mixed precision with Keras's names: ``set_global_policy('mixed_float16' | 'mixed_bfloat16' | 'float32')``.

Under a mixed policy ``fit`` runs the forward pass and the loss under ``torch.autocast`` in the
policy's compute dtype while the weights (and the optimizer's slots) stay float32, as in Keras.
``mixed_float16`` also scales the loss with a ``torch.amp.GradScaler`` (float16's range is small:
gradients would underflow); a step whose gradients overflow is skipped and the scale lowered. The
scaler belongs to the optimizer, as Keras's ``LossScaleOptimizer`` does: its scale carries over from one
``fit`` to the next, and its state is saved with the optimizer's (``model.save``, ``BackupAndRestore``)
and restored on load. ``mixed_float16`` needs CUDA; ``mixed_bfloat16`` also
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


# -- the GradScaler of an optimizer (saved with the optimizer's state) ----------------------------
_SCALER_KEYS = {"scale": float, "growth_factor": float, "backoff_factor": float, "growth_interval": int,
                "_growth_tracker": int}


def grad_scaler(optimizer, device_type: str = "cuda") -> torch.amp.GradScaler:
    """``optimizer``'s GradScaler, made on first use (with the state a loaded file gave the optimizer)
    and kept on the optimizer, so that the loss scale carries over from fit to fit."""
    scaler = getattr(optimizer, "_kerastyle_grad_scaler", None)
    if scaler is None:
        scaler = torch.amp.GradScaler(device_type)
        pending = getattr(optimizer, "_kerastyle_grad_scaler_state", None)
        if pending:
            scaler.load_state_dict(pending)
        if optimizer is not None:
            optimizer._kerastyle_grad_scaler = scaler
            optimizer._kerastyle_grad_scaler_state = None
    return scaler


def scaler_state(optimizer) -> dict | None:
    """The state of ``optimizer``'s GradScaler as JSON data (None when it has none): the live scaler's,
    else the one loaded from a file and not used yet."""
    scaler = getattr(optimizer, "_kerastyle_grad_scaler", None)
    state = scaler.state_dict() if scaler is not None else getattr(optimizer, "_kerastyle_grad_scaler_state", None)
    if not state:  # none, or a disabled scaler (float16 without CUDA)
        return None
    return {key: kind(state[key]) for key, kind in _SCALER_KEYS.items()}


def check_scaler_state(state) -> dict:
    """``state`` as saved by :func:`scaler_state`, checked (ValueError naming what is wrong)."""
    if not isinstance(state, dict) or set(state) != set(_SCALER_KEYS):
        raise ValueError(f"the GradScaler state must have the keys {sorted(_SCALER_KEYS)}, got "
                         f"{sorted(state) if isinstance(state, dict) else type(state).__name__}")
    for key, kind in _SCALER_KEYS.items():
        value = state[key]
        if isinstance(value, bool) or not isinstance(value, int if kind is int else (int, float)):
            raise ValueError(f"GradScaler `{key}` must be {'an integer' if kind is int else 'a number'}, "
                             f"got {value!r}")
    if not (0 < state["scale"] < float("inf")) or not state["growth_factor"] > 1 \
            or not 0 < state["backoff_factor"] < 1 or state["growth_interval"] < 1 or state["_growth_tracker"] < 0:
        raise ValueError(f"GradScaler state out of range: {state}")
    return dict(state)


def set_scaler_state(optimizer, state) -> None:
    """Give ``optimizer``'s GradScaler the (checked) ``state``: at once to a live scaler, else when the
    scaler is made. None (a file without scaler state) leaves a live scaler as it is."""
    if state is None:
        optimizer._kerastyle_grad_scaler_state = None
        return
    scaler = getattr(optimizer, "_kerastyle_grad_scaler", None)
    if scaler is not None and scaler.is_enabled():
        scaler.load_state_dict(state)
    else:
        optimizer._kerastyle_grad_scaler_state = dict(state)


class Autocast:
    """The fit's autocast context factory (None when the policy is float32), and the GradScaler for
    float16 (None otherwise): the optimizer's own (:func:`grad_scaler`). Decided once per fit from the
    policy and the training device."""

    def __init__(self, device: torch.device, optimizer=None):
        self.dtype = _policy.torch_compute_dtype if _policy.mixed else None
        self.device_type = device.type
        self.scaler = None
        if self.dtype is torch.float16:
            if device.type != "cuda":
                raise ValueError("The mixed precision policy 'mixed_float16' needs a CUDA device (this fit trains on "
                                 f"{device}); on CPU use 'mixed_bfloat16'.")
            self.scaler = grad_scaler(optimizer, "cuda")

    @property
    def active(self) -> bool:
        return self.dtype is not None

    def __call__(self):
        return torch.autocast(self.device_type, dtype=self.dtype)
