"""Layer wrappers: ``Bidirectional`` (a recurrent layer run forwards and backwards) and
``TimeDistributed`` (a layer applied to every time step)."""

from __future__ import annotations

import torch

from ._nested import deserialize_inner, serialize_inner
from .layer import Layer

_MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def _removeprefix(name: str, prefix: str) -> str:
    return name[len(prefix):] if name.startswith(prefix) else name


def _copy_layer(layer, **changes):
    """A new, unbuilt layer with ``layer``'s configuration and ``changes`` applied."""
    config = {**layer.get_config(), **changes}
    return type(layer).from_config(config)


class Bidirectional(Layer):
    """Runs a copy of ``layer`` forwards and another backwards over the sequence and merges their outputs
    (``merge_mode``: ``'concat'`` (default), ``'sum'``, ``'mul'``, ``'ave'`` or ``None`` for a list).
    The backward output sequence is reversed back so step ``t`` of both halves refers to input step ``t``.
    Weights: the forward layer's, then the backward layer's (Keras's order)."""

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        super().__init__(weights=weights, **kwargs)
        if not isinstance(layer, Layer) or not hasattr(layer, "go_backwards") or not hasattr(layer,
                                                                                             "return_sequences"):
            raise ValueError(f"Bidirectional: argument `layer` must be a recurrent layer (LSTM, GRU, SimpleRNN or "
                             f"RNN), got {layer!r}.")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"Bidirectional: argument `merge_mode` must be one of 'concat', 'sum', 'mul', 'ave' "
                             f"or None, got {merge_mode!r}.")
        if layer.built:
            raise ValueError(f"Bidirectional: argument `layer` must not be built yet (layer {layer.name!r} is).")
        base = _removeprefix(layer.name, "forward_")
        self.forward_layer = _copy_layer(layer, name=f"forward_{base}")
        if backward_layer is None:
            self.backward_layer = _copy_layer(layer, name=f"backward_{_removeprefix(base, 'backward_')}",
                                              go_backwards=not layer.go_backwards)
            self._custom_backward = False
        else:
            if not isinstance(backward_layer, Layer) or not hasattr(backward_layer, "go_backwards"):
                raise ValueError(f"Bidirectional: argument `backward_layer` must be a recurrent layer, got "
                                 f"{backward_layer!r}.")
            if backward_layer.go_backwards == layer.go_backwards:
                raise ValueError("Bidirectional: `layer` and `backward_layer` must have different `go_backwards` "
                                 f"values, got {layer.go_backwards} for both.")
            for attr in ("return_sequences", "return_state"):
                if getattr(backward_layer, attr) != getattr(layer, attr):
                    raise ValueError(f"Bidirectional: `layer` and `backward_layer` must have the same `{attr}`.")
            self.backward_layer = backward_layer
            self._custom_backward = True
        for sub in (self.forward_layer, self.backward_layer):  # Keras: masked steps output zeros in sequences
            if hasattr(sub, "zero_output_for_mask"):
                sub.zero_output_for_mask = sub.return_sequences
        self.merge_mode = merge_mode
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.supports_masking = True

    def build(self, input_shape):
        for layer in (self.forward_layer, self.backward_layer):
            if not layer.built:
                layer._build_for(input_shape)
        self.input_spec = self.forward_layer.input_spec
        self.built = True

    def _merge(self, y_f, y_b):
        if self.merge_mode == "concat":
            return torch.cat([y_f, y_b], dim=-1)
        if self.merge_mode == "sum":
            return y_f + y_b
        if self.merge_mode == "ave":
            return (y_f + y_b) / 2
        if self.merge_mode == "mul":
            return y_f * y_b
        return [y_f, y_b]

    def call(self, inputs, mask=None, training=None, initial_state=None):
        f_state = b_state = None
        if initial_state is not None:
            half = len(initial_state) // 2
            f_state, b_state = list(initial_state[:half]), list(initial_state[half:])
        kwargs = {} if mask is None else {"mask": mask}
        y_f = self.forward_layer._call(inputs, training, initial_state=f_state, **kwargs)
        y_b = self.backward_layer._call(inputs, training, initial_state=b_state, **kwargs)
        states = []
        if self.return_state:
            states = [*y_f[1:], *y_b[1:]]
            y_f, y_b = y_f[0], y_b[0]
        if self.return_sequences:
            y_b = y_b.flip(1)
        out = self._merge(y_f, y_b)
        if self.return_state:
            return [*(out if isinstance(out, list) else [out]), *states]
        return out

    def compute_output_shape(self, input_shape):
        shape = self.forward_layer.compute_output_shape(input_shape)
        states = []
        if self.return_state:
            shape, states = shape[0], list(shape[1:])
            states = states + states
        shape = tuple(shape)
        if self.merge_mode == "concat":
            out = [(*shape[:-1], shape[-1] * 2)]
        elif self.merge_mode is None:
            out = [shape, shape]
        else:
            out = [shape]
        if self.return_state:
            return out + states
        return out[0] if len(out) == 1 else out

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        out = mask if self.return_sequences else None
        outs = [out, out] if self.merge_mode is None else [out]
        if self.return_state:
            n = len(self.forward_layer._state_sizes()) * 2
            return outs + [None] * n
        return outs if len(outs) > 1 else outs[0]

    def get_config(self):
        config = {**super().get_config(), "merge_mode": self.merge_mode,
                  "layer": serialize_inner(self.forward_layer)}
        if self._custom_backward:
            config["backward_layer"] = serialize_inner(self.backward_layer)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["layer"] = deserialize_inner(config["layer"], cls.__name__, custom_objects)
        if config.get("backward_layer") is not None:
            config["backward_layer"] = deserialize_inner(config["backward_layer"], cls.__name__, custom_objects)
        return cls(**config)


class TimeDistributed(Layer):
    """Applies ``layer`` to every time step of ``(batch, time, ...)`` inputs (one call on the batch and
    time axes folded together), e.g. ``TimeDistributed(Dense(8))`` on ``(N, T, F)`` -> ``(N, T, 8)``."""

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer, Layer):
            raise ValueError(f"TimeDistributed: argument `layer` must be a kerastyle layer, got {layer!r}.")
        self.layer = layer
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) < 3:
            raise ValueError(f"Layer {self.name!r} (TimeDistributed) expects inputs of rank >= 3 (batch, time, "
                             f"...), got shape {tuple(input_shape)}.")
        if not self.layer.built:
            self.layer._build_for((None, *input_shape[2:]))
        self.built = True

    def call(self, inputs, training=None, mask=None):
        n, t = inputs.shape[0], inputs.shape[1]
        folded = inputs.reshape(n * t, *inputs.shape[2:])
        out = self.layer._call(folded, training)
        return out.reshape(n, t, *out.shape[1:])

    def compute_output_shape(self, input_shape):
        inner = self.layer.compute_output_shape((None, *input_shape[2:]))
        return (input_shape[0], input_shape[1], *tuple(inner)[1:])

    def get_config(self):
        return {**super().get_config(), "layer": serialize_inner(self.layer)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["layer"] = deserialize_inner(config["layer"], cls.__name__, custom_objects)
        return cls(**config)
