"""Recurrent layers: ``SimpleRNN``, ``LSTM``, ``GRU`` (and their cells, and the generic ``RNN``).

Weights are Keras's, in Keras's layout, so they move between Keras and kerastyle unchanged:
``kernel (in, g*u)``, ``recurrent_kernel (u, g*u)``, ``bias (g*u,)`` with the gates in Keras's order
(LSTM i, f, c, o; GRU z, r, h; ``g`` gates), and a GRU with ``reset_after=True`` (the default) has a
``bias (2, 3u)``: input bias and recurrent bias.

Two ways to run a sequence, with the same numbers:
- torch's fused kernels (``torch.lstm``, ``torch.gru``, ``torch.rnn_tanh``/``rnn_relu``; cuDNN on
  GPUs) when they compute what Keras computes: the default activations (LSTM/GRU tanh and sigmoid;
  SimpleRNN tanh or relu), a GRU with ``reset_after=True``, no mask, no ``recurrent_dropout`` in
  training. The weights are handed over as views (LSTM, SimpleRNN: the kernels transposed; GRU: the
  z and r blocks swapped to torch's r, z, n order), and the second bias torch wants is zeros.
- a Python loop over time steps otherwise (masks, ``recurrent_dropout``, other activations, a GRU
  with ``reset_after=False``, user cells given to ``RNN``). The input projection ``x @ kernel`` is
  still one matrix product over all steps; only the recurrent part runs step by step.
"""

from __future__ import annotations

import numpy as np
import torch

from .. import activations, constraints, regularizers
from ._initializer_lookup import initializer_name, resolve_initializer
from ._nested import deserialize_inner, serialize_inner
from .layer import InputSpec, Layer, check_kwargs


def _units(value, owner) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{owner}: argument `units` must be a positive integer, got {value!r}.")
    return int(value)


def _rate(value, arg, owner) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not 0 <= float(value) < 1:
        raise ValueError(f"{owner}: argument `{arg}` must be a number in [0, 1), got {value!r}.")
    return float(value)


def _flag(value, arg, owner) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{owner}: argument `{arg}` must be True or False, got {value!r}.")
    return bool(value)


def _activation_name(module, identifier):
    name = activations.resolve_name(identifier) if not isinstance(identifier, torch.nn.Module) else None
    return name or activations.name_of(module)


# -- cells ------------------------------------------------------------------------------------------
class _Cell(Layer):
    """What the three Keras cells share: ``units``, activations, initializers, regularizers,
    constraints, dropout rates. ``gates`` is the number of ``units``-wide blocks in the kernels."""

    gates = 1
    has_recurrent_activation = True

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 **kwargs):
        owner = type(self).__name__
        super().__init__(**kwargs)
        self.units = _units(units, owner)
        self._activation_id = activation
        self.activation = activations.get(activation)
        self._recurrent_activation_id = recurrent_activation
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = _flag(use_bias, "use_bias", owner)
        self._init_ids = {"kernel_initializer": kernel_initializer, "recurrent_initializer": recurrent_initializer,
                          "bias_initializer": bias_initializer}
        self.kernel_initializer = resolve_initializer(kernel_initializer, "kernel_initializer", owner)
        self.recurrent_initializer = resolve_initializer(recurrent_initializer, "recurrent_initializer", owner)
        self.bias_initializer = resolve_initializer(bias_initializer, "bias_initializer", owner)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = _rate(dropout, "dropout", owner)
        self.recurrent_dropout = _rate(recurrent_dropout, "recurrent_dropout", owner)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ValueError(f"{owner}: argument `seed` must be an integer or None, got {seed!r}.")
        self.seed = None if seed is None else int(seed)
        self.kernel = self.recurrent_kernel = self.bias = None

    @property
    def state_size(self):
        return self.units

    @property
    def output_size(self):
        return self.units

    def _bias_shape(self):
        return (self.gates * self.units,)

    def _bias_initializer(self):
        return self.bias_initializer

    def build(self, input_shape):
        features = input_shape[-1]
        if features is None:
            raise ValueError(f"Layer {self.name!r} ({type(self).__name__}) needs a known feature axis, got input "
                             f"shape {input_shape}.")
        width = self.gates * self.units
        self.kernel = self.add_weight(name="kernel", shape=(features, width), initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(name="recurrent_kernel", shape=(self.units, width),
                                                initializer=self.recurrent_initializer,
                                                regularizer=self.recurrent_regularizer,
                                                constraint=self.recurrent_constraint)
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=self._bias_shape(), initializer=self._bias_initializer(),
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self.built = True

    # The sequence engine: ``project`` maps the whole input (N, T, F) to (N, T, g*u) at once; ``step``
    # adds the recurrent part for one step. ``in_masks``/``rec_masks`` are dropout masks (or None).
    def project(self, x, in_masks=None):
        if in_masks is None:
            z = torch.matmul(x, self.kernel)
        else:
            blocks = self.kernel.split(self.units, dim=1)
            masks = in_masks if len(in_masks) == len(blocks) else in_masks * len(blocks)
            z = torch.cat([torch.matmul(x * m.unsqueeze(1), k) for m, k in zip(masks, blocks)], dim=-1)
        if self.bias is not None:
            z = z + self._input_bias()
        return z

    def _input_bias(self):
        return self.bias

    def call(self, inputs, states, training=None):
        """One step, as Keras cells are called: ``(output, new_states)`` for ``inputs (N, F)``."""
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        out, new = self.step(self.project(inputs.unsqueeze(1))[:, 0], states, None)
        return out, new

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)

    def get_config(self):
        config = {**super().get_config(), "units": self.units,
                  "activation": _activation_name(self.activation, self._activation_id)}
        if self.has_recurrent_activation:
            config["recurrent_activation"] = _activation_name(self.recurrent_activation,
                                                              self._recurrent_activation_id)
        config.update({"use_bias": self.use_bias,
                       **{k: initializer_name(v) for k, v in self._init_ids.items()},
                       "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                       "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
                       "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                       "kernel_constraint": constraints.serialize(self.kernel_constraint),
                       "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
                       "bias_constraint": constraints.serialize(self.bias_constraint),
                       "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout, "seed": self.seed})
        return config

    def _default_activations(self) -> bool:
        return (_activation_name(self.activation, self._activation_id) == "tanh"
                and _activation_name(self.recurrent_activation, self._recurrent_activation_id) == "sigmoid")


class SimpleRNNCell(_Cell):
    """``h_t = activation(x_t kernel + h_{t-1} recurrent_kernel + bias)``."""

    has_recurrent_activation = False

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None, **kwargs):
        super().__init__(units, activation=activation, recurrent_activation="sigmoid", use_bias=use_bias,
                         kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
                         bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                         recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
                         kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
                         bias_constraint=bias_constraint, dropout=dropout, recurrent_dropout=recurrent_dropout,
                         seed=seed, **kwargs)

    def step(self, z, states, rec_masks):
        h = states[0] if rec_masks is None else states[0] * rec_masks[0]
        h = self.activation(z + torch.matmul(h, self.recurrent_kernel))
        return h, [h]

    def fused(self, x, states):
        name = _activation_name(self.activation, self._activation_id)
        if name not in ("tanh", "relu"):
            return None
        params = [self.kernel.t(), self.recurrent_kernel.t()]
        if self.bias is not None:
            params += [self.bias, torch.zeros_like(self.bias)]
        fn = torch.rnn_tanh if name == "tanh" else torch.rnn_relu
        out, h = fn(x, states[0].unsqueeze(0), params, self.bias is not None, 1, 0.0, self.training, False, True)
        return out, [h[0]]


class LSTMCell(_Cell):
    """Keras's LSTM step, gates ``i, f, c, o`` in that order in the kernels."""

    gates = 4

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, implementation=2, **kwargs):
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
                         bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                         recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
                         kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
                         bias_constraint=bias_constraint, dropout=dropout, recurrent_dropout=recurrent_dropout,
                         seed=seed, **kwargs)
        self.unit_forget_bias = _flag(unit_forget_bias, "unit_forget_bias", "LSTMCell")
        if implementation not in (1, 2):
            raise ValueError(f"LSTMCell: argument `implementation` must be 1 or 2, got {implementation!r}.")
        self.implementation = int(implementation)  # Keras 2's choice of kernel split; the numbers are the same

    @property
    def state_size(self):
        return [self.units, self.units]

    def _bias_initializer(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        base, units = self.bias_initializer, self.units

        @torch.no_grad()
        def forget_ones(tensor):  # Keras: [init(u), ones(u), init(2u)]
            for start, size in ((0, units), (2 * units, 2 * units)):
                part = torch.empty(size, dtype=tensor.dtype, device=tensor.device)
                _fill(base, part)
                tensor[start:start + size] = part
            tensor[units:2 * units] = 1.0
            return tensor
        forget_ones.fills_in_place = True
        return forget_ones

    def step(self, z, states, rec_masks):
        h, c = states
        if rec_masks is None:
            z = z + torch.matmul(h, self.recurrent_kernel)
        else:
            blocks = self.recurrent_kernel.split(self.units, dim=1)
            z = z + torch.cat([torch.matmul(h * m, k) for m, k in zip(rec_masks, blocks)], dim=-1)
        i, f, g, o = z.chunk(4, dim=-1)
        i, f, o = self.recurrent_activation(i), self.recurrent_activation(f), self.recurrent_activation(o)
        c = f * c + i * self.activation(g)
        h = o * self.activation(c)
        return h, [h, c]

    def fused(self, x, states):
        if not self._default_activations():
            return None
        params = [self.kernel.t(), self.recurrent_kernel.t()]  # Keras's i, f, c, o is torch's i, f, g, o
        if self.bias is not None:
            params += [self.bias, torch.zeros_like(self.bias)]
        hx = (states[0].unsqueeze(0), states[1].unsqueeze(0))
        out, h, c = torch.lstm(x, hx, params, self.bias is not None, 1, 0.0, self.training, False, True)
        return out, [h[0], c[0]]

    def get_config(self):
        config = super().get_config()
        config["unit_forget_bias"] = self.unit_forget_bias
        return config


class GRUCell(_Cell):
    """Keras's GRU step, gates ``z, r, h`` in that order in the kernels. ``reset_after=True`` (Keras 3
    default, cuDNN-compatible) applies the reset gate after the recurrent product and keeps two
    biases ``(2, 3u)``; ``reset_after=False`` (Keras 2.2) applies it before, with one bias ``(3u,)``."""

    gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0,
                 reset_after=True, seed=None, implementation=2, **kwargs):
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
                         bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                         recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
                         kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
                         bias_constraint=bias_constraint, dropout=dropout, recurrent_dropout=recurrent_dropout,
                         seed=seed, **kwargs)
        self.reset_after = _flag(reset_after, "reset_after", "GRUCell")
        if implementation not in (1, 2):
            raise ValueError(f"GRUCell: argument `implementation` must be 1 or 2, got {implementation!r}.")
        self.implementation = int(implementation)
        self._torch_order = None

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _input_bias(self):
        return self.bias[0] if self.reset_after else self.bias

    def step(self, z, states, rec_masks):
        h = states[0]
        u = self.units
        hm = [h, h, h] if rec_masks is None else [h * m for m in rec_masks]
        rk = self.recurrent_kernel
        if self.reset_after:
            if rec_masks is None:
                rec = torch.matmul(h, rk)
            else:
                rec = torch.cat([torch.matmul(hh, k) for hh, k in zip(hm, rk.split(u, dim=1))], dim=-1)
            if self.bias is not None:
                rec = rec + self.bias[1]
            zx, rx, hx = z.chunk(3, dim=-1)
            zr, rr, hr = rec.chunk(3, dim=-1)
            zg = self.recurrent_activation(zx + zr)
            r = self.recurrent_activation(rx + rr)
            cand = self.activation(hx + r * hr)
        else:
            zx, rx, hx = z.chunk(3, dim=-1)
            zg = self.recurrent_activation(zx + torch.matmul(hm[0], rk[:, :u]))
            r = self.recurrent_activation(rx + torch.matmul(hm[1], rk[:, u:2 * u]))
            cand = self.activation(hx + torch.matmul(r * hm[2], rk[:, 2 * u:]))
        h = zg * h + (1 - zg) * cand
        return h, [h]

    def fused(self, x, states):
        if not self.reset_after or not self._default_activations():
            return None
        u = self.units
        if self._torch_order is None or self._torch_order.device != self.kernel.device:
            # Keras's z, r, h blocks -> torch's r, z, n
            self._torch_order = torch.cat([torch.arange(u, 2 * u), torch.arange(u), torch.arange(2 * u, 3 * u)]
                                          ).to(self.kernel.device)
        order = self._torch_order
        params = [self.kernel.index_select(1, order).t(), self.recurrent_kernel.index_select(1, order).t()]
        if self.bias is not None:
            params += [self.bias[0].index_select(0, order), self.bias[1].index_select(0, order)]
        out, h = torch.gru(x, states[0].unsqueeze(0), params, self.bias is not None, 1, 0.0, self.training, False,
                           True)
        return out, [h[0]]

    def get_config(self):
        config = super().get_config()
        config["reset_after"] = self.reset_after
        return config


def _fill(initializer, tensor):
    from .. import initializers
    initializers.fill(initializer, tensor)


# -- the sequence layers -----------------------------------------------------------------------------
_RNN_ARGS = ("return_sequences", "return_state", "go_backwards", "stateful", "unroll", "zero_output_for_mask",
             "time_major")


class RNN(Layer):
    """Runs ``cell`` over the time axis of ``(batch, time, features)`` inputs (Keras's ``RNN``).

    ``cell`` is a kerastyle cell (``LSTMCell``, ...) or a Keras-style user cell: a layer with
    ``state_size`` and ``call(inputs, states) -> (output, new_states)``.
    """

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, zero_output_for_mask=False, time_major=False, **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        if isinstance(cell, (list, tuple)):
            raise ValueError(f"{owner}: a list of cells (StackedRNNCells) is not supported by kerastyle; stack "
                             f"several recurrent layers with return_sequences=True instead.")
        if not isinstance(cell, Layer) or not hasattr(cell, "state_size"):
            raise ValueError(f"{owner}: argument `cell` must be a layer with a `state_size` attribute and a "
                             f"call(inputs, states) method, got {cell!r}.")
        self.cell = cell
        self.return_sequences = _flag(return_sequences, "return_sequences", owner)
        self.return_state = _flag(return_state, "return_state", owner)
        self.go_backwards = _flag(go_backwards, "go_backwards", owner)
        if _flag(stateful, "stateful", owner):
            raise ValueError(f"{owner}: argument `stateful=True` is not supported by kerastyle; pass the state "
                             f"between calls with return_state=True and initial_state=.")
        self.stateful = False
        self.unroll = _flag(unroll, "unroll", owner)  # accepted; the loop/fused kernels give the same numbers
        self.zero_output_for_mask = _flag(zero_output_for_mask, "zero_output_for_mask", owner)
        if _flag(time_major, "time_major", owner):
            raise ValueError(f"{owner}: argument `time_major=True` is not supported; inputs are (batch, time, "
                             f"features).")
        self.supports_masking = True
        self.input_spec = InputSpec(ndim=3)

    # -- shapes -------------------------------------------------------------------------------
    def _state_sizes(self):
        sizes = self.cell.state_size
        return list(sizes) if isinstance(sizes, (list, tuple)) else [sizes]

    def build(self, input_shape):
        shape = input_shape[0] if isinstance(input_shape, list) else input_shape
        if len(shape) != 3:
            raise ValueError(f"Layer {self.name!r} ({type(self).__name__}) expects inputs of rank 3 (batch, time, "
                             f"features), got shape {tuple(shape)}.")
        if not self.cell.built:
            self.cell._build_for((shape[0], shape[-1]))
        self.input_spec = InputSpec(ndim=3, axes={-1: shape[-1]})
        self.built = True

    def compute_output_shape(self, input_shape):
        shape = input_shape[0] if isinstance(input_shape, list) else input_shape
        units = getattr(self.cell, "output_size", self._state_sizes()[0])
        out = (shape[0], shape[1], units) if self.return_sequences else (shape[0], units)
        if self.return_state:
            return [out] + [(shape[0], s) for s in self._state_sizes()]
        return out

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        out = mask if self.return_sequences else None
        if self.return_state:
            return [out] + [None] * len(self._state_sizes())
        return out

    # -- running ------------------------------------------------------------------------------
    def call(self, inputs, mask=None, training=None, initial_state=None):
        if isinstance(inputs, (list, tuple)):  # Keras 2: layer([x, *initial_states])
            inputs, rest = inputs[0], list(inputs[1:])
            if rest:
                initial_state = rest
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        if inputs.dim() != 3:
            raise ValueError(f"Layer {self.name!r} ({type(self).__name__}) expects inputs of rank 3 (batch, time, "
                             f"features), got shape {tuple(inputs.shape)}.")
        batch = inputs.shape[0]
        states = self._initial_states(initial_state, batch, inputs)
        training = bool(training)
        x = inputs.flip(1) if self.go_backwards else inputs
        if mask is not None:
            mask = mask.to(torch.bool)
            if self.go_backwards:
                mask = mask.flip(1)
        cell = self.cell
        ours = isinstance(cell, _Cell)
        in_masks = rec_masks = None
        if ours and training and cell.dropout > 0:
            in_masks = self._dropout_masks(x[:, 0], cell.dropout, cell.gates if cell.recurrent_dropout > 0 else 1)
        if ours and training and cell.recurrent_dropout > 0:
            rec_masks = self._dropout_masks(states[0], cell.recurrent_dropout, cell.gates)
        result = None
        if ours and mask is None and rec_masks is None:
            x_in = x if in_masks is None else x * in_masks[0].unsqueeze(1)
            result = cell.fused(x_in, states)
        if result is not None:
            sequence, states = result
            last = sequence[:, -1]
        else:
            sequence, last, states = self._loop(x, states, mask, in_masks, rec_masks, training)
        output = sequence if self.return_sequences else last
        if self.return_state:
            return [output, *states]
        return output

    def _loop(self, x, states, mask, in_masks, rec_masks, training):
        cell = self.cell
        steps = x.shape[1]
        if isinstance(cell, _Cell):
            z = cell.project(x, in_masks)

            def step(t, states):
                return cell.step(z[:, t], states, rec_masks)
        else:  # a user's cell: call(inputs, states) per step, states a list when state_size is one
            single = not isinstance(cell.state_size, (list, tuple))
            extra = {"training": training} if _takes_training(cell) else {}

            def step(t, states):
                out, new = cell.call(x[:, t], states[0] if single else states, **extra)
                return out, list(new) if isinstance(new, (list, tuple)) else [new]
        outputs = []
        previous = None
        for t in range(steps):
            out, new = step(t, states)
            if mask is not None:
                keep = mask[:, t].unsqueeze(-1)
                new = [torch.where(keep, n, s) for n, s in zip(new, states)]
                if previous is None:
                    previous = torch.zeros_like(out)
                out = torch.where(keep, out, torch.zeros_like(out) if self.zero_output_for_mask else previous)
                previous = out
            states = new
            outputs.append(out)
        return torch.stack(outputs, dim=1), outputs[-1], states

    def _initial_states(self, initial_state, batch, like):
        sizes = self._state_sizes()
        if initial_state is None:
            return [like.new_zeros(batch, s, dtype=torch.get_default_dtype() if not like.is_floating_point()
                                   else like.dtype) for s in sizes]
        given = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
        if len(given) != len(sizes):
            raise ValueError(f"Layer {self.name!r} ({type(self).__name__}) has {len(sizes)} state(s), but "
                             f"initial_state holds {len(given)} tensor(s).")
        states = []
        for i, (state, size) in enumerate(zip(given, sizes)):
            state = torch.as_tensor(state, device=like.device, dtype=like.dtype)
            if tuple(state.shape) != (batch, size):
                raise ValueError(f"Layer {self.name!r}: initial_state[{i}] must have shape ({batch}, {size}), got "
                                 f"{tuple(state.shape)}.")
            states.append(state)
        return states

    def _dropout_masks(self, like, rate, count):
        keep = 1.0 - rate
        return [torch.bernoulli(torch.full_like(like, keep)) / keep for _ in range(count)]

    def get_config(self):
        config = {**super().get_config(), "return_sequences": self.return_sequences,
                  "return_state": self.return_state, "go_backwards": self.go_backwards, "stateful": self.stateful,
                  "unroll": self.unroll, "zero_output_for_mask": self.zero_output_for_mask}
        if type(self) is RNN:
            config["cell"] = serialize_inner(self.cell)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if cls is RNN:
            config["cell"] = deserialize_inner(config["cell"], cls.__name__, custom_objects)
        return cls(**config)


def _takes_training(cell) -> bool:
    import inspect
    return "training" in inspect.signature(cell.call).parameters


def _split_kwargs(kwargs, cell_keys):
    """The layer's keyword arguments split into the cell's and the RNN base's."""
    cell_args = {k: kwargs.pop(k) for k in list(kwargs) if k in cell_keys}
    return cell_args, kwargs


_CELL_COMMON = ("activation", "use_bias", "kernel_initializer", "recurrent_initializer", "bias_initializer",
                "kernel_regularizer", "recurrent_regularizer", "bias_regularizer", "kernel_constraint",
                "recurrent_constraint", "bias_constraint", "dropout", "recurrent_dropout", "seed")


_CELL_ATTRIBUTES = frozenset((
    "units", "activation", "recurrent_activation", "use_bias", "dropout", "recurrent_dropout", "unit_forget_bias",
    "reset_after", "kernel_initializer", "recurrent_initializer", "bias_initializer", "kernel_regularizer",
    "recurrent_regularizer", "bias_regularizer", "kernel_constraint", "recurrent_constraint", "bias_constraint",
    "seed", "implementation"))


class _KerasRNN(RNN):
    """``SimpleRNN``/``LSTM``/``GRU``: the RNN layer with its cell built from the layer's arguments."""

    cell_class = None
    cell_name = None
    cell_keys = _CELL_COMMON

    def __init__(self, units, **kwargs):
        owner = type(self).__name__
        cell_args, rest = _split_kwargs(dict(kwargs), self.cell_keys)
        base_keys = (*_RNN_ARGS, "activity_regularizer", "name", "trainable", "dtype", "input_shape", "input_dim",
                     "batch_input_shape", "batch_size", "weights", "autocast", "use_cudnn", "input_length")
        unknown = {k: v for k, v in rest.items() if k not in base_keys}
        check_kwargs(owner, unknown, ("units", *self.cell_keys, *base_keys))
        rest.pop("use_cudnn", None)  # Keras 3: 'auto' | True | False; kerastyle picks the fused kernel itself
        input_length = rest.pop("input_length", None)  # Keras 2 first-layer form
        if input_length is not None and "input_shape" not in rest and "input_dim" in rest:
            rest["input_shape"] = (input_length, rest.pop("input_dim"))
        elif "input_dim" in rest:
            rest["input_shape"] = (None, rest.pop("input_dim"))
        cell = self.cell_class(units, name=self.cell_name, dtype=rest.get("dtype"), **cell_args)
        super().__init__(cell, **rest)

    def __getattr__(self, name):
        if name in _CELL_ATTRIBUTES and "cell" in self.__dict__.get("_modules", {}):
            return getattr(self._modules["cell"], name)
        return super().__getattr__(name)

    @property
    def kernel(self):
        return self.cell.kernel

    @property
    def recurrent_kernel(self):
        return self.cell.recurrent_kernel

    @property
    def bias(self):
        return self.cell.bias

    def get_config(self):
        cell_config = self.cell.get_config()
        for key in ("name", "trainable", "dtype"):
            cell_config.pop(key, None)
        return {**super().get_config(), **cell_config,
                "activity_regularizer": regularizers.serialize(self.activity_regularizer)}


class SimpleRNN(_KerasRNN):
    """Fully connected RNN: ``h_t = activation(x_t kernel + h_{t-1} recurrent_kernel + bias)``."""

    cell_class = SimpleRNNCell
    cell_name = "simple_rnn_cell"

    def __init__(self, units, **kwargs):
        super().__init__(units, **kwargs)


class LSTM(_KerasRNN):
    """Long short-term memory (Hochreiter and Schmidhuber 1997) with Keras's weights and defaults."""

    cell_class = LSTMCell
    cell_name = "lstm_cell"
    cell_keys = (*_CELL_COMMON, "recurrent_activation", "unit_forget_bias", "implementation")

    def __init__(self, units, **kwargs):
        super().__init__(units, **kwargs)


class GRU(_KerasRNN):
    """Gated recurrent unit (Cho et al. 2014) with Keras's weights and defaults (``reset_after=True``)."""

    cell_class = GRUCell
    cell_name = "gru_cell"
    cell_keys = (*_CELL_COMMON, "recurrent_activation", "reset_after", "implementation")

    def __init__(self, units, **kwargs):
        super().__init__(units, **kwargs)
