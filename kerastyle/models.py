"""``Sequential``: a stack of layers that compiles, trains, evaluates and predicts.

The model is a list of kerastyle layers plus one ``torch.nn.Sequential`` made of
their modules; ``to_torch()`` hands out that module (same parameters), so plain
PyTorch code can take over at any point.
"""

from __future__ import annotations

import torch
from torch import nn

from . import backend, inputs, losses, optimizers, saving, trainer
from . import layers as layers_module
from . import metrics as metrics_module
from . import summary as summary_module
from .layers import InputLayer, Layer


class Sequential:
    """A linear stack of layers, as ``keras.Sequential``."""

    def __init__(self, layers=None, name=None):
        self.name = name or backend.unique_name("sequential")
        self._layers: list[Layer] = []
        self._input_shape = None
        self._net = nn.Sequential()
        self.built = False
        self.compiled = False
        self.loss = None
        self.optimizer = None
        self.metrics = []
        self.history = None
        self.stop_training = False
        for layer in layers or []:
            self.add(layer)

    # -- structure --------------------------------------------------------------
    @property
    def layers(self) -> list[Layer]:
        """The model's layers (an ``Input`` is not listed, as in Keras)."""
        return list(self._layers)

    def add(self, layer) -> None:
        """Append a layer; builds it at once when the input shape is known."""
        if isinstance(layer, InputLayer):
            if self._layers or self._input_shape is not None:
                raise ValueError("An Input layer must come first in a Sequential model.")
            self._input_shape = layer.batch_input_shape
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add() expects a kerastyle layer (Dense, Activation, Dropout, "
                            f"Flatten, Input), got {layer!r}.")
        if any(existing is layer for existing in self._layers):
            raise ValueError(f"Layer {layer.name!r} is already in model {self.name!r}.")
        if not self._layers and self._input_shape is None and layer.batch_input_shape is not None:
            self._input_shape = layer.batch_input_shape
        elif self._layers and layer.batch_input_shape is not None and self.built:
            expected = self._layers[-1].output_shape
            if tuple(layer.batch_input_shape[1:]) != tuple(expected[1:]):
                raise ValueError(f"Layer {layer.name!r} declares input_shape {layer.batch_input_shape[1:]}, "
                                 f"but the previous layer outputs {expected}.")
        self._layers.append(layer)
        if self.built:
            layer.build(self._layers[-2].output_shape if len(self._layers) > 1 else self._input_shape)
            self._net.extend(layer.modules)
            self._rebind_optimizer()
        elif self._input_shape is not None:
            self.build(self._input_shape)

    def pop(self) -> Layer:
        """Remove and return the last layer."""
        if not self._layers:
            raise ValueError(f"Model {self.name!r} has no layers to pop.")
        layer = self._layers.pop()
        self._net = nn.Sequential(*[m for lay in self._layers for m in lay.modules])
        self._rebind_optimizer()
        return layer

    def build(self, input_shape=None) -> None:
        """Build every layer for inputs of ``input_shape`` (with or without the batch axis)."""
        if input_shape is None:
            input_shape = self._input_shape
        if input_shape is None:
            raise ValueError(f"Model {self.name!r} cannot be built: its input shape is unknown. Pass "
                             f"input_shape= to the first layer, add an Input(shape=...), or call "
                             f"build((None, n_features)).")
        input_shape = tuple(input_shape)
        if input_shape[0] is not None:
            input_shape = (None, *input_shape)
        self._input_shape = (None, *layers_module._as_shape(input_shape[1:], "input_shape"))
        shape = self._input_shape
        for layer in self._layers:
            shape = layer.build(shape)
        self._net = nn.Sequential(*[m for layer in self._layers for m in layer.modules])
        self.built = bool(self._layers)
        self._rebind_optimizer()

    @property
    def input_shape(self):
        return self._input_shape

    @property
    def output_shape(self):
        if not self.built:
            raise ValueError(f"Model {self.name!r} is not built yet, so it has no output shape.")
        return self._layers[-1].output_shape

    def to_torch(self) -> nn.Sequential:
        """The underlying ``torch.nn.Sequential`` (shares parameters with this model)."""
        return self._net

    def __call__(self, x):
        """Run the model on a tensor (inference with autograd as usual)."""
        self._require_built("call", x if torch.is_tensor(x) else inputs.to_tensor(x, "x"))
        return self._net(x)

    # -- weights ----------------------------------------------------------------
    @property
    def weights(self):
        return [w for layer in self._layers for w in layer.weights]

    @property
    def trainable_weights(self):
        return [w for layer in self._layers for w in layer.trainable_weights]

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(f"Model {self.name!r} is not built yet; give it an input shape first.")
        return sum(layer.count_params() for layer in self._layers)

    def get_weights(self) -> list:
        """All weights as numpy arrays, Keras order and layout (Dense kernel ``(in, out)``)."""
        return [w for layer in self._layers for w in layer.get_weights()]

    def set_weights(self, weights) -> None:
        weights = list(weights)
        expected = sum(len(layer.weights) for layer in self._layers)
        if len(weights) != expected:
            raise ValueError(f"Model {self.name!r} has {expected} weight arrays, got {len(weights)}.")
        start = 0
        for layer in self._layers:
            count = len(layer.weights)
            layer.set_weights(weights[start:start + count])
            start += count

    # -- summary ----------------------------------------------------------------
    def summary(self, line_length=None, positions=None, print_fn=None, breakdown=False) -> None:
        """Print the Keras 2 summary table; ``breakdown=True`` adds the lecture's
        weights-and-biases table."""
        if not self.built:
            raise ValueError(f"Model {self.name!r} has not been built yet, so summary() cannot count "
                             f"its parameters. Pass input_shape= to the first layer or call build().")
        lines = summary_module.summary_lines(self, line_length, positions)
        if breakdown:
            lines += ["", *summary_module.breakdown_lines(self)]
        emit = print_fn or print
        for line in lines:
            emit(line)

    # -- training ---------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None):
        """Set the optimizer, the loss and the metrics (names or objects)."""
        if loss is None:
            raise ValueError("compile() needs a loss, e.g. loss='categorical_crossentropy'. Valid names: "
                             + ", ".join(sorted(losses.ALIASES)) + ".")
        self.loss = losses.get(loss)
        self.optimizer = optimizers.get(optimizer)
        if metrics is not None and not isinstance(metrics, (list, tuple)):
            metrics = [metrics]
        units = self.output_shape[-1] if self.built else None
        self.metrics = [metrics_module.get(m, self.loss, units) for m in metrics or []]
        names = [m.name for m in self.metrics]
        if len(set(names)) != len(names) or "loss" in names:
            raise ValueError(f"Argument `metrics` has repeated names or 'loss': {names}.")
        self.compiled = True
        self._rebind_optimizer()

    def _rebind_optimizer(self):
        if isinstance(self.optimizer, optimizers.Optimizer) and self.built:
            if self.optimizer.built:
                bound = {id(p) for g in self.optimizer.param_groups for p in g["params"]}
                if bound != {id(p) for p in self._net.parameters()}:
                    self.optimizer = type(self.optimizer).from_config(self.optimizer.get_config())
            self.optimizer.build(p for p in self._net.parameters() if p.requires_grad)

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, engine="auto"):
        """Train for ``epochs`` (absolute, counting from ``initial_epoch``); returns a History.

        ``engine`` picks how gradients are computed: ``'autograd'``, ``'analytic'``
        (the hand-derived backward pass) or ``'auto'`` (analytic when supported).
        """
        return trainer.fit(self, x, y, batch_size, epochs, verbose, callbacks, validation_split,
                           validation_data, shuffle, class_weight, sample_weight, initial_epoch, engine)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 return_dict=False):
        """Loss (and metrics) over ``x, y``: a float, ``[loss, *metrics]`` or a dict."""
        return trainer.evaluate(self, x, y, batch_size, verbose, sample_weight, return_dict)

    def predict(self, x, batch_size=None, verbose="auto"):
        """Model outputs as a float32 numpy array."""
        return trainer.predict(self, x, batch_size, verbose)

    # -- saving (kerastyle/saving.py, docs/saving.md) ----------------------------------
    def get_config(self) -> dict:
        """The architecture, Keras-shaped: ``{"name", "layers": [{"class_name", "config"}], "build_input_shape"}``."""
        return saving.model_config(self)

    @classmethod
    def from_config(cls, config):
        """A new model from ``get_config()``: layers rebuilt by class name, then built."""
        return saving.model_from_config(cls, config)

    def save(self, filepath, overwrite=True) -> None:
        """Write architecture, compile settings, optimizer state and weights to one file, atomically."""
        saving.save_model(self, filepath, overwrite)

    def save_weights(self, filepath, overwrite=True) -> None:
        """Write the weights only (Keras names and layout), atomically."""
        saving.save_weights(self, filepath, overwrite)

    def load_weights(self, filepath) -> None:
        """Load weights saved by ``save_weights``/``save``, layer by layer in order; all or nothing."""
        saving.load_weights(self, filepath)

    def export_onnx(self, filepath) -> None:
        """Write the inference graph as ONNX (needs the ``onnx`` and ``onnxscript`` packages)."""
        saving.export_onnx(self, filepath)

    # -- checks used by the trainer -----------------------------------------------------
    def _require_compiled(self, what):
        if not self.compiled:
            raise RuntimeError(f"Model {self.name!r} must be compiled before {what}(): call "
                               f"model.compile(optimizer=..., loss=..., metrics=[...]) first.")
        if not self._layers:
            raise ValueError(f"Model {self.name!r} has no layers; add some before {what}().")

    def _require_built(self, what, x):
        if not self._layers:
            raise ValueError(f"Model {self.name!r} has no layers; add some before {what}().")
        if not self.built:
            raise ValueError(f"Model {self.name!r} has not been built, so {what}() cannot run: its input "
                             f"shape is unknown. Pass input_shape= to the first layer, add an "
                             f"Input(shape=...), call build(), or fit() it first.")
        self._check_features(x, "x")

    def _ensure_built(self, x, arg):
        if not self.built:
            self.build((None, *x.shape[1:]))
        self._check_features(x, arg)

    def _check_features(self, x, arg):
        expected = tuple(self._input_shape[1:])
        if tuple(x.shape[1:]) != expected:
            hint = ""
            if len(expected) == 1 and x.dim() > 2 and x[0].numel() == expected[0]:
                hint = f" Reshape it with x.reshape(len(x), {expected[0]}) or add a Flatten layer first."
            raise ValueError(f"Argument `{arg}` has shape {tuple(x.shape)}, but model {self.name!r} expects "
                             f"inputs of shape {(None, *expected)}.{hint}")

    def __repr__(self):
        return f"<Sequential name={self.name!r} layers={[layer.name for layer in self._layers]}>"


Model = Sequential


def load_model(filepath, compile=True):
    """A model saved by ``model.save``, compiled with its saved optimizer state unless ``compile=False``."""
    return saving.load_model(filepath, compile)
