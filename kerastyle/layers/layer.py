"""``Layer``: the Keras layer contract on a ``torch.nn.Module``.

A layer is configured in ``__init__``, creates its weights in ``build(input_shape)`` with
``add_weight`` (real ``nn.Parameter``s, stored in Keras layouts), and computes in
``call(inputs, training=None)`` with torch operations. Calling a layer builds it lazily from the
first input's shape. Called on ``KerasTensor``s (``keras.Input``) it computes nothing and records a
node of the Functional API graph instead.

Shapes follow Keras: ``input_shape`` arguments exclude the batch axis, built shapes include it as
``None``. Layers start in inference mode (``layer.training`` is False), so ``layer(x)`` and
``model(x)`` are inference calls as in Keras; ``fit`` switches the model to training mode for its
duration, and PyTorch code using ``model.to_torch()`` calls ``.train()`` as usual.
"""

from __future__ import annotations

import inspect
import math
import re

import numpy as np
import torch
from torch import nn

from .. import backend, constraints, initializers, regularizers
from ..backend import limits
from .node import KerasTensor, Node, flatten, is_symbolic, map_structure

BASE_ARGUMENTS = ("name", "trainable", "dtype", "input_shape", "input_dim", "batch_input_shape", "batch_size",
                  "activity_regularizer", "weights", "autocast")
_DTYPES = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16,
           "bfloat16": torch.bfloat16, "int32": torch.int32, "int64": torch.int64, "uint8": torch.uint8,
           "int8": torch.int8, "int16": torch.int16, "bool": torch.bool}


def snake_case(name: str) -> str:
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()  # Keras: conv2d, not conv2_d


def as_dtype(dtype, arg="dtype") -> torch.dtype:
    """A torch dtype from a Keras name ('float32', 'int32', ...), a torch dtype or a numpy dtype."""
    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    if isinstance(dtype, dict) and dtype.get("class_name") == "DTypePolicy":  # a Keras 3 serialized policy
        dtype = dtype.get("config", {}).get("name")
    name = getattr(dtype, "name", dtype)
    if isinstance(name, str):
        name = {"mixed_float16": "float32", "mixed_bfloat16": "float32"}.get(name, name)
        if name in _DTYPES:
            return _DTYPES[name]
    try:
        return _DTYPES[np.dtype(dtype).name]
    except (TypeError, KeyError):
        raise ValueError(f"Argument `{arg}` must be a dtype name such as 'float32' or 'int32', got {dtype!r}. "
                         f"Valid names: {', '.join(_DTYPES)}.") from None


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


def as_shape(shape, arg: str, allow_none: bool = False) -> tuple:
    """``784``, ``(784,)`` or ``[28, 28]`` as a tuple of positive ints (``None`` allowed where asked).
    Non-integer sizes (``4.5``) are refused, never truncated."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)) and not (isinstance(shape, torch.Size)):
        raise ValueError(f"Argument `{arg}` must be an int or a tuple of ints, got {shape!r}.")
    dims = []
    for d in shape:
        if d is None and allow_none:
            dims.append(None)
            continue
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)):
            if isinstance(d, (float, np.floating)) and float(d).is_integer() and d > 0:
                dims.append(int(d))
                continue
            raise ValueError(f"Argument `{arg}` must hold positive integers{' or None' if allow_none else ''}, "
                             f"got {tuple(shape)!r} (the size {d!r} is not an integer).")
        dims.append(int(d))
    if not dims or any(d is not None and d <= 0 for d in dims):
        raise ValueError(f"Argument `{arg}` must be non-empty with positive sizes, got {tuple(shape)!r}.")
    return tuple(dims)


def check_kwargs(owner: str, kwargs: dict, valid) -> None:
    """Refuse unknown keyword arguments, naming them and listing the valid ones."""
    if kwargs:
        raise TypeError(f"{owner}: unrecognized keyword argument(s) {', '.join(map(repr, sorted(kwargs)))}. "
                        f"Valid arguments: {', '.join(sorted(valid))}.")


class InputSpec:
    """What a layer accepts: ``ndim``/``min_ndim`` and fixed sizes of some ``axes`` (``{-1: 784}``)."""

    def __init__(self, ndim=None, min_ndim=None, axes=None, dtype=None):
        self.ndim, self.min_ndim, self.axes, self.dtype = ndim, min_ndim, dict(axes or {}), dtype

    def check(self, layer, shape) -> None:
        rank = len(shape)
        problem = None
        if self.ndim is not None and rank != self.ndim:
            problem = f"expected rank {self.ndim}"
        elif self.min_ndim is not None and rank < self.min_ndim:
            problem = f"expected rank >= {self.min_ndim}"
        else:
            for axis, size in self.axes.items():
                if size is not None and -rank <= axis < rank and shape[axis] is not None and shape[axis] != size:
                    problem = f"expected axis {axis} of size {size}"
                    break
        if problem:
            expected = layer._build_input_shape if layer._build_input_shape is not None else problem
            raise ValueError(f"Layer {layer.name!r} ({type(layer).__name__}) was called on an input of shape "
                             f"{tuple(shape)}, but it expects inputs of shape {expected} ({problem}).")


class Layer(nn.Module):
    """Base class of every kerastyle layer and model."""

    def __init__(self, *, name=None, trainable=True, dtype=None, input_shape=None, input_dim=None,
                 batch_input_shape=None, batch_size=None, activity_regularizer=None, weights=None, autocast=True,
                 **kwargs):
        nn.Module.__init__(self)
        owner = type(self).__name__
        check_kwargs(owner, kwargs, BASE_ARGUMENTS)
        if name is not None and (not isinstance(name, str) or not name):
            raise ValueError(f"{owner}: argument `name` must be a non-empty string, got {name!r}.")
        if "/" in (name or ""):
            raise ValueError(f"{owner}: argument `name` must not contain '/', got {name!r}.")
        self.name = name or backend.unique_name(snake_case(owner))
        self._dtype = as_dtype(dtype)
        if input_dim is not None:
            input_shape = (input_dim,)
        if batch_input_shape is not None:
            shape = tuple(batch_input_shape)
            self._batch_input_shape = (None, *as_shape(shape[1:], "batch_input_shape", allow_none=True))
        elif input_shape is not None:
            self._batch_input_shape = (None, *as_shape(input_shape, "input_shape", allow_none=True))
        else:
            self._batch_input_shape = None
        self._trainable = bool(trainable)
        self.built = False
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.input_spec = None
        self.supports_masking = False
        self._own_weights: list[nn.Parameter] = []
        self._weight_names: list[str] = []
        self._weight_trainable: list[bool] = []
        self._regularizers: list = []  # (weight, regularizer)
        self._constraints: list = []  # (weight, constraint)
        self._initial_weights = None if weights is None else list(weights)
        self._inbound_nodes: list[Node] = []
        self._eager_losses: list[torch.Tensor] = []
        self._build_input_shape = None
        self._output_shape = None
        self.train(False)

    # -- torch module plumbing ---------------------------------------------------------------
    def __setattr__(self, name, value):
        if isinstance(value, nn.Parameter) and "_parameters" in self.__dict__:
            for key, param in list(self._parameters.items()):
                if param is value and key != name:  # self.w = self.add_weight(name="kernel"): one entry, named w
                    del self._parameters[key]
                    break
        elif isinstance(value, (list, tuple)) and value and all(isinstance(v, nn.Module) for v in value) \
                and "_modules" in self.__dict__:
            value = nn.ModuleList(value)  # Keras tracks lists of layers; torch needs a ModuleList
        super().__setattr__(name, value)

    def _apply(self, fn, *args, **kwargs):
        """torch's ``module.to(...)``/``.double()``: the layer's float type follows its converted weights."""
        result = super()._apply(fn, *args, **kwargs)
        if self._dtype.is_floating_point:
            probe = fn(torch.empty(0, dtype=self._dtype))
            if probe.is_floating_point():
                self._dtype = probe.dtype
        return result

    # -- the contract ----------------------------------------------------------------------
    def build(self, input_shape) -> None:
        """Create the weights for inputs of ``input_shape`` (batch axis included, as ``None``)."""
        self.built = True

    def call(self, inputs, *args, **kwargs):
        raise NotImplementedError(f"Layer {self.name!r} ({type(self).__name__}) has no call() method: a layer "
                                  f"subclass must define call(self, inputs) returning its outputs.")

    # -- masking (Keras's compute_mask; the models propagate masks, see models/masking.py) ---------
    _creates_masks = False  # True on layers that make a mask from their inputs (Embedding(mask_zero), Masking)

    def compute_mask(self, inputs, mask=None):
        """The mask of this layer's outputs: the input mask passed through when the layer
        ``supports_masking``, else None (Keras's rule)."""
        return mask if self.supports_masking else None

    def compute_output_shape(self, input_shape):
        """The output shape for ``input_shape``; by default found by running ``call`` on zeros."""
        inputs = _tensors_for_shapes(_shapes_structure(input_shape), self._dtype)
        outputs = self._infer_outputs(inputs, {})
        return map_structure(lambda t: t.shape, outputs)

    def get_config(self) -> dict:
        config = {"name": self.name, "trainable": self.trainable, "dtype": dtype_name(self._dtype)}
        if self._batch_input_shape is not None:
            config["batch_input_shape"] = list(self._batch_input_shape)
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        return config

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    # -- calling -------------------------------------------------------------------------------
    def __call__(self, inputs, *args, **kwargs):
        if is_symbolic(inputs):
            return self._symbolic_call(inputs, *args, **kwargs)
        inputs = map_structure(self._as_input_tensor, inputs)
        if not self.built:
            self._build_for(map_structure(lambda t: (None, *t.shape[1:]), inputs))
        if self.input_spec is not None and torch.is_tensor(inputs):
            self.input_spec.check(self, (None, *inputs.shape[1:]))
        return super().__call__(inputs, *args, **kwargs)

    def forward(self, inputs, *args, training=None, **kwargs):
        """torch's entry point: ``call`` with ``training`` taken from the module's mode when not given."""
        return self._call(inputs, self.training if training is None else bool(training), *args, **kwargs)

    def _call(self, inputs, training, *args, **kwargs):
        """``call`` with ``training`` passed when the signature takes it (the models' fast path)."""
        if _accepts(type(self), "training"):
            kwargs["training"] = training
        outputs = self.call(inputs, *args, **kwargs)
        if self.activity_regularizer is not None:
            for out in flatten(outputs):
                self.add_loss(self.activity_regularizer(out) / out.shape[0])
        return outputs

    integer_inputs = False
    """True for layers whose inputs are integer ids (an embedding): those are not cast to float."""

    def _casts_integer_inputs(self) -> bool:
        if hasattr(self, "_input_dtypes"):  # a model: when all its inputs are float inputs
            return all(dtype is None for dtype in self._input_dtypes())
        return not self.integer_inputs

    def _as_input_tensor(self, value):
        if not torch.is_tensor(value):
            if isinstance(value, (np.ndarray, np.generic, list, tuple, float, int)):
                value = torch.as_tensor(np.asarray(value))
            else:
                return value
        if value.dtype != self._dtype and self._dtype.is_floating_point and (
                value.is_floating_point() or self._casts_integer_inputs()):
            value = value.to(self._dtype)  # integer/bool data too (as Keras), except where ids are expected
        device = self._device()
        return value if value.device == device else value.to(device)

    def _device(self) -> torch.device:
        for param in self.parameters():
            return param.device
        return backend.get_device()

    def _build_for(self, input_shape) -> None:
        """Build once, from a shape (batch axis None) or a list of shapes, then apply ``weights=``."""
        if self.built:
            return
        self._build_input_shape = input_shape
        build_shape = input_shape
        self.build(build_shape)
        self.built = True
        if self._initial_weights is not None:
            initial, self._initial_weights = self._initial_weights, None
            self.set_weights(initial)

    def _symbolic_call(self, inputs, *args, **kwargs):
        if args:
            raise TypeError(f"Layer {self.name!r}: in the Functional API pass extra arguments by keyword, got "
                            f"{len(args)} positional ones.")
        if "training" in kwargs:
            raise TypeError(f"Layer {self.name!r}: `training` cannot be fixed in the Functional API; fit, "
                            f"evaluate and predict set it.")
        shapes = map_structure(lambda t: t.shape, inputs)
        if not self.built:
            self._build_for(shapes)
        if self.input_spec is not None and isinstance(inputs, KerasTensor):
            self.input_spec.check(self, inputs.shape)
        outputs = self._infer_outputs(inputs, kwargs)
        declared = type(self).compute_output_shape is not Layer.compute_output_shape
        if declared:
            expected = self.compute_output_shape(shapes)
            for tensor, shape in zip(flatten(outputs), _leaf_shapes(expected)):
                if not _compatible(tensor.shape, shape):
                    raise ValueError(f"Layer {self.name!r} ({type(self).__name__}): compute_output_shape() returns "
                                     f"{tuple(shape)}, but call() returns outputs of shape {tensor.shape}. Make the "
                                     f"two agree.")
        for tensor in flatten(outputs):
            tensor.name = self.name
        Node(self, inputs, outputs, kwargs)
        if self._output_shape is None:
            self._output_shape = map_structure(lambda t: t.shape, outputs)
        return outputs

    @torch.no_grad()
    def _infer_outputs(self, inputs, kwargs):
        """Output KerasTensors of ``call`` on ``inputs``: ``call`` runs on zeros twice, with unknown sizes
        (``None``) set to 2 and then 3; output sizes that follow them are unknown too."""
        runs = []
        for fill in (2, 3):
            dummy = map_structure(lambda t: torch.zeros([fill if d is None else d for d in t.shape], dtype=t.dtype,
                                                        device=self._device()), inputs)
            try:
                with collect_losses():  # terms added by a shape-only run are dropped
                    out = self._call(dummy, False, **kwargs)
            except (ValueError, TypeError, RuntimeError, IndexError) as err:
                raise type(err)(f"Layer {self.name!r} ({type(self).__name__}) failed on inputs of shape "
                                f"{map_structure(lambda t: t.shape, inputs)}: {err}") from err
            runs.append(out)
        first, second = runs

        def spec(a, b):
            if not torch.is_tensor(a):
                raise TypeError(f"Layer {self.name!r}: call() must return tensors, got {type(a).__name__}.")
            shape = [None] + [da if da == db else None for da, db in zip(a.shape[1:], b.shape[1:])]
            return KerasTensor(shape, a.dtype)

        return _map_pairs(spec, first, second)

    # -- weights ---------------------------------------------------------------------------
    def add_weight(self, *args, shape=None, initializer=None, dtype=None, trainable=True, regularizer=None,
                   constraint=None, name=None, autocast=True, aggregation=None, synchronization=None,
                   overwrite_with_gradient=False, use_resource=None):
        """Create a weight (an ``nn.Parameter`` of this module) and track it in Keras order.

        Keras 3 order ``add_weight(shape, initializer, ...)`` and Keras 2 order ``add_weight(name, shape,
        ...)`` are both accepted. Non-trainable weights (``trainable=False``: moving statistics, ...)
        are parameters that never receive gradients."""
        if args:
            if isinstance(args[0], str):  # Keras 2: add_weight(name, shape, dtype, initializer, ...)
                keys = ("name", "shape", "dtype", "initializer", "regularizer", "trainable", "constraint")
            else:  # Keras 3: add_weight(shape, initializer, dtype, trainable, ...)
                keys = ("shape", "initializer", "dtype", "trainable", "autocast", "regularizer", "constraint")
            if len(args) > len(keys):
                raise TypeError(f"Layer {self.name!r}: add_weight() takes at most {len(keys)} positional arguments.")
            given = dict(zip(keys, args))
            name = given.get("name", name)
            shape = given.get("shape", shape)
            dtype = given.get("dtype", dtype)
            initializer = given.get("initializer", initializer)
            regularizer = given.get("regularizer", regularizer)
            trainable = given.get("trainable", trainable)
            constraint = given.get("constraint", constraint)
        shape = () if shape is None else shape
        if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
            shape = (shape,)
        if not isinstance(shape, (tuple, list, torch.Size)) or not all(
                isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 0 for d in shape):
            raise ValueError(f"Layer {self.name!r}: add_weight() argument `shape` must be a tuple of non-negative "
                             f"integers, got {shape!r}.")
        shape = tuple(int(d) for d in shape)
        if name is not None and not isinstance(name, str):
            raise ValueError(f"Layer {self.name!r}: add_weight() argument `name` must be a string, got {name!r}.")
        weight_dtype = as_dtype(dtype) if dtype is not None else self._dtype
        if initializer is None:
            initializer = "glorot_uniform" if weight_dtype.is_floating_point else "zeros"
        limits.claim(self.name, name or "weight", shape)  # before allocating (files being loaded)
        tensor = torch.empty(shape, dtype=weight_dtype, device=backend.get_device())
        initializers.fill(initializer, tensor)
        param = nn.Parameter(tensor, requires_grad=bool(trainable) and self._trainable
                             and weight_dtype.is_floating_point)
        base = name or "weight"
        key = re.sub(r"\W", "_", base)
        if not key.isidentifier():
            key = f"w_{key}"
        candidate, i = key, 1
        while candidate in self._parameters or (hasattr(self, candidate) and candidate not in self._parameters):
            candidate = f"{key}_{i}"
            i += 1
        self.register_parameter(candidate, param)
        self._own_weights.append(param)
        self._weight_names.append(base)
        self._weight_trainable.append(bool(trainable))
        regularizer = regularizers.get(regularizer)
        if regularizer is not None:
            self._regularizers.append((param, regularizer))
        constraint = constraints.get(constraint)
        if constraint is not None:
            self._constraints.append((param, constraint))
        return param

    def _sublayers(self) -> list:
        """Direct sub-modules in registration order (layers, torch modules, module lists flattened)."""
        subs = []
        for module in self._modules.values():
            if isinstance(module, (nn.ModuleList, nn.ModuleDict)) and not isinstance(module, Layer):
                subs.extend(module.values() if isinstance(module, nn.ModuleDict) else module)
            elif module is not None:
                subs.append(module)
        return subs

    def _weights_with_names(self) -> list[tuple[str, nn.Parameter]]:
        """``(name, weight)`` in Keras order: this layer's own weights, then its sub-layers'."""
        pairs = list(zip(self._weight_names, self._own_weights))
        seen = {id(p) for p in self._own_weights}
        for sub in self._sublayers():
            if isinstance(sub, Layer):
                sub_pairs = [(f"{sub.name}/{n}", p) for n, p in sub._weights_with_names()]
            else:
                sub_pairs = list(sub.named_parameters())
            for n, p in sub_pairs:
                if id(p) not in seen:
                    seen.add(id(p))
                    pairs.append((n, p))
        own_extra = [(n, p) for n, p in self._parameters.items() if p is not None and id(p) not in seen]
        return pairs + own_extra

    @property
    def weights(self) -> list[nn.Parameter]:
        """All weights, in Keras order and layout."""
        return [p for _, p in self._weights_with_names()]

    def _is_trainable(self, param) -> bool:
        return param.requires_grad

    @property
    def trainable_weights(self) -> list[nn.Parameter]:
        return [p for p in self.weights if p.requires_grad]

    @property
    def non_trainable_weights(self) -> list[nn.Parameter]:
        return [p for p in self.weights if not p.requires_grad]

    @property
    def variables(self):
        return self.weights

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value) -> None:
        """Freeze or unfreeze this layer and every layer inside it (Keras semantics); ``fit`` honours the
        change after the next ``compile()``, as in Keras."""
        self._set_trainable(bool(value))

    def _set_trainable(self, value: bool) -> None:
        self._trainable = value
        for param, own in zip(self._own_weights, self._weight_trainable):
            param.requires_grad_(value and own and param.dtype.is_floating_point)
        for sub in self._sublayers():
            if isinstance(sub, Layer):
                sub._set_trainable(value)
            else:
                sub.requires_grad_(value)

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(f"Layer {self.name!r} is not built yet, so it has no weights to count; call it on an "
                             f"input or build it first.")
        return sum(p.numel() for p in self.weights)

    def get_weights(self) -> list[np.ndarray]:
        """The weights as numpy arrays, Keras order and layout (Dense kernel ``(in, out)``)."""
        return [p.detach().cpu().numpy().copy() for p in self.weights]

    def set_weights(self, weights) -> None:
        """Load weights given as ``get_weights()`` returns them; checked first, all or nothing."""
        params = self.weights
        if isinstance(weights, (str, bytes)) or not hasattr(weights, "__len__"):
            raise ValueError(f"Layer {self.name!r}: set_weights() expects a list of arrays, got "
                             f"{type(weights).__name__}.")
        weights = list(weights)
        if not self.built:
            raise ValueError(f"Layer {self.name!r} is not built yet, so it has no weights to set; build it (call it "
                             f"on an input, or give the model an input shape) first.")
        if len(weights) != len(params):
            raise ValueError(f"Layer {self.name!r} expects {len(params)} weight arrays, got {len(weights)}.")
        values = []
        for i, (param, value) in enumerate(zip(params, weights)):
            array = value.detach().cpu().numpy() if torch.is_tensor(value) else np.asarray(value)
            if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
                raise ValueError(f"Layer {self.name!r}: weight {i} must be a numeric array, got dtype {array.dtype}.")
            if tuple(array.shape) != tuple(param.shape):
                raise ValueError(f"Layer {self.name!r}: weight {i} must have shape {tuple(param.shape)}, got "
                                 f"{tuple(array.shape)}.")
            values.append(torch.as_tensor(array))
        with torch.no_grad():
            for param, value in zip(params, values):
                param.copy_(value.to(dtype=param.dtype, device=param.device))

    # -- losses ----------------------------------------------------------------------------
    def add_loss(self, loss) -> None:
        """Add a scalar term to the training loss (called from ``call``; ``fit`` adds it to the loss)."""
        if not torch.is_tensor(loss):
            loss = torch.as_tensor(float(loss))
        collector = _LOSS_COLLECTOR[-1] if _LOSS_COLLECTOR else None
        if collector is not None:
            collector.append(loss)
        else:
            self._eager_losses.append(loss)

    @property
    def losses(self) -> list[torch.Tensor]:
        """Weight-regularization penalties (computed now) and the ``add_loss`` terms of the last call."""
        terms = list(self._eager_losses_all())
        terms += [reg(param) for param, reg in self._all_regularizers()]
        return terms

    def _eager_losses_all(self):
        yield from self._eager_losses
        for sub in self._sublayers():
            if isinstance(sub, Layer):
                yield from sub._eager_losses_all()

    def _all_regularizers(self) -> list:
        pairs = list(self._regularizers)
        for sub in self._sublayers():
            if isinstance(sub, Layer):
                pairs.extend(sub._all_regularizers())
        return pairs

    def _all_constraints(self) -> list:
        pairs = list(self._constraints)
        for sub in self._sublayers():
            if isinstance(sub, Layer):
                pairs.extend(sub._all_constraints())
        return pairs

    # -- graph and shapes ------------------------------------------------------------------------
    def _single_node(self, what):
        if not self._inbound_nodes:
            raise AttributeError(f"Layer {self.name!r} has never been called on a symbolic input, so it has no "
                                 f"{what}.")
        if len(self._inbound_nodes) > 1:
            raise AttributeError(f"Layer {self.name!r} has been called {len(self._inbound_nodes)} times, so its "
                                 f"{what} is ambiguous.")
        return self._inbound_nodes[0]

    @property
    def input(self):
        node = self._single_node("input")
        return node.inputs

    @property
    def output(self):
        outputs = self._single_node("output").outputs
        return outputs[0] if len(outputs) == 1 else outputs

    @property
    def input_shape(self):
        if self._build_input_shape is not None:
            return self._build_input_shape
        return self._batch_input_shape

    @property
    def output_shape(self):
        if self._output_shape is None:
            if not self.built or self._build_input_shape is None:
                raise AttributeError(f"Layer {self.name!r} has not been built, so it has no output shape.")
            self._output_shape = self.compute_output_shape(self._build_input_shape)
        return self._output_shape

    @property
    def dtype(self) -> str:
        return dtype_name(self._dtype)

    @property
    def compute_dtype(self) -> str:
        return dtype_name(self._dtype)

    # -- analytic engine ---------------------------------------------------------------------------
    def analytic_ops(self, need_input_grad: bool, input_owned: bool):
        """Forward/backward ops for the analytic engine, or None when this layer has no hand-derived
        backward pass (layers that have one override this next to their ``call``)."""
        return None

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}, built={self.built}>"


_LOSS_COLLECTOR: list = []  # stack of lists that add_loss appends to while a model runs


class collect_losses:
    """Context: ``add_loss`` terms of the calls inside go to the list it yields."""

    def __enter__(self):
        self.terms = []
        _LOSS_COLLECTOR.append(self.terms)
        return self.terms

    def __exit__(self, *exc):
        _LOSS_COLLECTOR.pop()
        return False


_SIGNATURES: dict = {}


def _accepts(cls, argument: str) -> bool:
    """Whether ``cls.call`` takes ``argument`` (by name or through ``**kwargs``); cached per class."""
    key = (cls, argument)
    if key not in _SIGNATURES:
        params = inspect.signature(cls.call).parameters
        _SIGNATURES[key] = argument in params or any(p.kind is p.VAR_KEYWORD for p in params.values())
    return _SIGNATURES[key]


def accepts_mask(cls) -> bool:
    """Whether ``cls.call`` names a ``mask`` argument (the models then pass the input mask); cached."""
    key = (cls, "mask!")
    if key not in _SIGNATURES:
        _SIGNATURES[key] = "mask" in inspect.signature(cls.call).parameters
    return _SIGNATURES[key]


def call_masked(layer, inputs, training, mask, **kwargs):
    """Run ``layer`` inside a model that carries masks: ``mask`` (a tensor, or a list with one entry per
    input, None where unmasked) is passed to ``call`` when it takes one. Returns ``(outputs, output mask)``."""
    if mask is not None and all(m is None for m in flatten(mask)):
        mask = None
    if mask is not None and accepts_mask(type(layer)):
        outputs = layer._call(inputs, training, mask=mask, **kwargs)
    else:
        outputs = layer._call(inputs, training, **kwargs)
    return outputs, layer.compute_mask(inputs, mask)


def creates_masks(layers) -> bool:
    """Whether any of ``layers`` makes masks: models use the masked forward
    path only then, so models without masks keep their plain fast path."""
    return any(getattr(layer, "_creates_masks", False) for layer in layers)


def _shapes_structure(shape):
    """A shape (tuple with ints/None) stays one; a list of shapes becomes a list."""
    if isinstance(shape, (list, tuple)) and shape and all(isinstance(s, (list, tuple)) for s in shape):
        return [_shapes_structure(s) for s in shape]
    return tuple(shape)


def _tensors_for_shapes(shapes, dtype):
    """KerasTensors for a shape (a tuple) or a list of shapes."""
    if isinstance(shapes, list):
        return [_tensors_for_shapes(s, dtype) for s in shapes]
    return KerasTensor(shapes, dtype)


def _leaf_shapes(shape):
    if isinstance(shape, (list, tuple)) and shape and all(isinstance(s, (list, tuple)) for s in shape):
        for s in shape:
            yield from _leaf_shapes(s)
    else:
        yield tuple(shape)


def _compatible(a, b) -> bool:
    return len(a) == len(b) and all(x is None or y is None or x == y for x, y in zip(a, b))


def _map_pairs(fn, a, b):
    if isinstance(a, (list, tuple)):
        return type(a)(_map_pairs(fn, x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return {k: _map_pairs(fn, a[k], b[k]) for k in a}
    return fn(a, b)


def prod(shape) -> int:
    return math.prod(shape)
