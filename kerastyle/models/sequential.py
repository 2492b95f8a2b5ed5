"""``Sequential``: a linear stack of layers, each feeding the next."""

from __future__ import annotations

import torch
from torch import nn

from .. import backend
from ..layers.input_layer import InputLayer
from ..layers.layer import Layer, as_shape, call_masked, check_kwargs, creates_masks
from ..layers.node import KerasTensor
from .model import Model


class Sequential(Model):
    """A linear stack of layers, as ``keras.Sequential``."""

    def __init__(self, layers=None, name=None, trainable=True, **kwargs):
        check_kwargs("Sequential", kwargs, ("layers", "name", "trainable"))
        Layer.__init__(self, name=name or backend.unique_name("sequential"), trainable=trainable)
        self._init_training_state()
        self._stack = nn.ModuleList()
        self._input_dtype = None
        if layers is not None and not isinstance(layers, (list, tuple)):
            raise TypeError(f"Sequential: argument `layers` must be a list of layers, got {type(layers).__name__}.")
        for layer in layers or []:
            self.add(layer)

    # -- structure ---------------------------------------------------------------------------
    @property
    def layers(self) -> list[Layer]:
        return list(self._stack)

    def add(self, layer) -> None:
        """Append a layer; builds the model at once when its input shape is known."""
        if isinstance(layer, KerasTensor):  # model.add(keras.Input(shape=...)) (Keras 3 style)
            node = layer.node
            if node is None or not isinstance(node.layer, InputLayer):
                raise TypeError("Sequential.add() takes layers or the output of keras.Input(), got a symbolic tensor "
                                "made by another layer.")
            layer = node.layer
        if isinstance(layer, InputLayer):
            if len(self._stack) or self._batch_input_shape is not None:
                raise ValueError("An Input layer must come first in a Sequential model.")
            self._batch_input_shape = layer._batch_input_shape
            self._input_dtype = layer.input_dtype
            return
        if not isinstance(layer, Layer):
            hint = (" Wrap a torch.nn.Module in keras.layers.Lambda(module) or write a Layer subclass."
                    if isinstance(layer, nn.Module) else "")
            raise TypeError(f"Sequential.add() expects a kerastyle layer (Dense, Conv2D, ..., or an Input), got "
                            f"{layer!r}.{hint}")
        if any(existing is layer for existing in self._stack):
            raise ValueError(f"Layer {layer.name!r} is already in model {self.name!r}.")
        if any(existing.name == layer.name for existing in self._stack):
            raise ValueError(f"Model {self.name!r} already has a layer named {layer.name!r}; layer names in a model "
                             f"must be unique.")
        if not len(self._stack) and self._batch_input_shape is None and layer._batch_input_shape is not None:
            self._batch_input_shape = layer._batch_input_shape
            self._input_dtype = layer._dtype if not layer._dtype.is_floating_point else None
        elif len(self._stack) and layer._batch_input_shape is not None and self.built:
            expected = self._stack[-1].output_shape
            if tuple(layer._batch_input_shape[1:]) != tuple(expected[1:]):
                raise ValueError(f"Layer {layer.name!r} declares input_shape {layer._batch_input_shape[1:]}, but the "
                                 f"previous layer outputs {expected}.")
        self._stack.append(layer)
        try:
            if self.built:
                self._build_layers(self._build_input_shape, start=len(self._stack) - 1)
            elif self._batch_input_shape is not None:
                self.build(self._batch_input_shape)
        except Exception:
            del self._stack[-1]
            raise
        self._plan = None
        self._rebind_optimizer()

    def pop(self) -> Layer:
        """Remove and return the last layer (all or nothing)."""
        if not len(self._stack):
            raise ValueError(f"Model {self.name!r} has no layers to pop.")
        layer = self._stack[-1]
        del self._stack[-1]
        if not len(self._stack):
            self.built = False
            self._output_shape = None
            if self.optimizer is not None and getattr(self.optimizer, "built", False):
                self.optimizer = type(self.optimizer).from_config(self.optimizer.get_config())
        else:
            self._output_shape = self._stack[-1].output_shape
            self._rebind_optimizer()
        self._plan = None
        return layer

    def build(self, input_shape=None) -> None:
        """Build every layer for inputs of ``input_shape`` (with or without the batch axis)."""
        if input_shape is None:
            input_shape = self._batch_input_shape
        if input_shape is None:
            raise ValueError(f"Model {self.name!r} cannot be built: its input shape is unknown. Pass input_shape= to "
                             f"the first layer, add an Input(shape=...), or call build((None, n_features)).")
        input_shape = tuple(input_shape)
        if not input_shape:
            raise ValueError(f"Model {self.name!r} cannot be built for scalar inputs: each sample needs at least one "
                             f"feature (inputs of shape (n_samples, n_features)).")
        if input_shape[0] is not None:
            input_shape = (None, *input_shape)
        shape = (None, *as_shape(input_shape[1:], "input_shape", allow_none=True))
        if not len(self._stack):
            self._batch_input_shape = shape
            return
        self._build_layers(shape, start=0)
        self._batch_input_shape = shape
        self._build_input_shape = shape
        self.built = True
        self._rebind_optimizer()

    def _build_layers(self, shape, start):
        layers = list(self._stack)
        for layer in layers[:start]:
            shape = layer.output_shape
        for layer in layers[start:]:
            if not layer.built:
                layer._build_for(shape)
            elif layer.input_spec is not None:
                layer.input_spec.check(layer, shape)
            shape = tuple(layer.compute_output_shape(shape))
            layer._output_shape = shape
        self._output_shape = shape

    @property
    def input_shape(self):
        return self._build_input_shape if self.built else self._batch_input_shape

    @property
    def output_shape(self):
        if not self.built:
            raise ValueError(f"Model {self.name!r} is not built yet, so it has no output shape.")
        return self._output_shape

    @property
    def output_names(self) -> list[str]:
        return [self._stack[-1].name] if len(self._stack) else []

    def _input_dtypes(self):
        if self._input_dtype is None and len(self._stack):  # an Embedding first: token ids stay integers
            return [getattr(self._stack[0], "input_dtype_hint", None)]
        return [self._input_dtype]

    # -- forward -----------------------------------------------------------------------------
    def call(self, inputs, training=None):
        x = inputs
        if creates_masks(self._stack):
            return _masked_forward(list(self._stack))(x, training)
        for layer in self._stack:
            x = layer._call(x, training)
        return x

    def _forward_function(self, fused_outputs=frozenset()):
        layers = list(self._stack)
        if creates_masks(layers):  # Embedding(mask_zero=True) / Masking: masks flow to the layers after them
            return _masked_forward(layers, fused=bool(fused_outputs))
        if not fused_outputs:
            def forward(x, training):
                for layer in layers:
                    x = layer._call(x, training)
                return x
            return forward
        body, last = layers[:-1], layers[-1]

        def forward_fused(x, training):
            for layer in body:
                x = layer._call(x, training)
            return last.call_without_activation(x)
        return forward_fused

    def to_torch(self) -> nn.Sequential:
        """A plain ``torch.nn.Sequential`` of the layers (same modules and parameters), in this model's mode."""
        net = nn.Sequential(*self._stack)
        net.training = self.training
        return net

    def _check_inputs(self, x) -> None:
        if not torch.is_tensor(x):
            raise ValueError(f"Model {self.name!r} has one input; got {type(x).__name__} of {len(x)} arrays.")
        expected = tuple(self.input_shape[1:])
        got = tuple(x.shape[1:])
        if len(got) != len(expected) or any(e is not None and e != g for e, g in zip(expected, got)):
            hint = ""
            if len(expected) == 1 and x.dim() > 2 and x[0].numel() == expected[0]:
                hint = f" Reshape it with x.reshape(len(x), {expected[0]}) or add a Flatten layer first."
            raise ValueError(f"Argument `x` has shape {tuple(x.shape)}, but model {self.name!r} expects inputs of "
                             f"shape {(None, *expected)}.{hint}")

    # -- Keras 2's class predictions ------------------------------------------------------------------
    def predict_proba(self, x, batch_size=32, verbose=0):
        """Keras 2's ``predict_proba``: the same as ``predict`` (the model's output probabilities)."""
        return self.predict(x, batch_size=batch_size, verbose=verbose)

    def predict_classes(self, x, batch_size=32, verbose=0):
        """Keras 2's ``predict_classes``: the arg-max class for several output units, else
        ``output > 0.5`` as int32 (a binary model), shape ``(n, 1)`` as Keras 2 returned it."""
        proba = self.predict(x, batch_size=batch_size, verbose=verbose)
        if isinstance(proba, list):
            raise ValueError(f"predict_classes() needs a model with one output; {self.name!r} has {len(proba)}.")
        if proba.shape[-1] > 1:
            return proba.argmax(axis=-1)
        return (proba > 0.5).astype("int32")

    # -- config ------------------------------------------------------------------------------
    def get_config(self) -> dict:
        """``{"name", "layers": [{"module", "class_name", "config"}], "build_input_shape"}``."""
        from ..saving import serialization
        shape = self.input_shape
        return {"name": self.name,
                "layers": [serialization.serialize_layer(layer) for layer in self._stack],
                "build_input_shape": None if shape is None else list(shape)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from ..saving import serialization
        if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
            raise ValueError(f"Sequential.from_config expects a dict with a 'layers' list (from get_config()), got "
                             f"{type(config).__name__}.")
        name = config.get("name")
        if name is not None and not isinstance(name, str):
            raise ValueError(f"Sequential.from_config: 'name' must be a string, got {name!r}.")
        model = cls(name=name)
        for entry in config["layers"]:
            model.add(serialization.deserialize(entry, "layer", custom_objects))
        shape = config.get("build_input_shape")
        if shape is not None and not model.built and model.layers:
            if not isinstance(shape, list) or len(shape) < 2:
                raise ValueError(f"Sequential.from_config: 'build_input_shape' must be a list like [None, 784], got "
                                 f"{shape!r}.")
            model.build(shape)
        return model

    def __repr__(self):
        return f"<Sequential name={self.name!r} layers={[layer.name for layer in self._stack]}>"


def _masked_forward(layers, fused=False):
    """The forward pass that carries Keras masks: each layer gets the mask of its input (when its ``call``
    takes ``mask``) and passes on ``compute_mask``'s result."""
    def forward(x, training):
        mask = None
        for i, layer in enumerate(layers):
            if fused and i == len(layers) - 1:
                return layer.call_without_activation(x)
            x, mask = call_masked(layer, x, training, mask)
        return x
    return forward
