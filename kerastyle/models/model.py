"""``Model``: a layer that trains. ``compile``, ``fit``, ``evaluate``, ``predict``, ``summary``, saving.

Three ways to make one, as in Keras: ``Sequential`` (``sequential.py``), the Functional API
``Model(inputs, outputs)`` (``functional.py``), and subclassing ``Model`` with layers as attributes
and a ``call`` method. The training loops live in ``kerastyle.trainers``; a model passes itself to
them.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import torch
from torch import nn

from .. import backend, distributed, inputs, losses, optimizers, saving, trainers
from ..engines.output_plan import OutputPlan
from ..layers.layer import BASE_ARGUMENTS, Layer, check_kwargs
from ..layers.node import KerasTensor, flatten, map_structure
from ..trainers import batch_api
from . import summary as summary_module


class Model(Layer):
    """``keras.Model``: functional (``Model(inputs, outputs)``) or subclassed (define ``call``)."""

    functional_class = None  # set by functional.py: the class ``Model(inputs, outputs)`` makes

    def __new__(cls, *args, **kwargs):
        if cls is Model and (args or "inputs" in kwargs or "outputs" in kwargs):
            return cls.functional_class.__new__(cls.functional_class)
        return super().__new__(cls)

    def __init__(self, *args, **kwargs):
        if args or "inputs" in kwargs:
            raise TypeError(f"{type(self).__name__}: a subclassed Model takes no inputs/outputs; call "
                            f"super().__init__(name=...) and define call().")
        name = kwargs.pop("name", None)
        check_kwargs(type(self).__name__, kwargs, BASE_ARGUMENTS)
        super().__init__(name=name or backend.unique_name(_default_name(type(self))), **kwargs)
        self._init_training_state()

    def _init_training_state(self):
        self.compiled = False
        self.optimizer = None
        self.loss = None
        self.loss_weights = None
        self.metrics = []
        self.history = None
        self.stop_training = False
        self._plan = None

    # -- structure ---------------------------------------------------------------------------
    @property
    def layers(self) -> list[Layer]:
        """The model's layers, in order (an ``Input`` is not listed for Sequential, as in Keras)."""
        return [m for m in self._sublayers() if isinstance(m, Layer)]

    def get_layer(self, name=None, index=None) -> Layer:
        """A layer by ``name`` or by ``index`` (one of the two)."""
        if (name is None) == (index is None):
            raise ValueError("get_layer() needs exactly one of `name` or `index`.")
        layers = self.layers
        if index is not None:
            if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not -len(layers) <= index < \
                    len(layers):
                raise ValueError(f"get_layer(): argument `index` must be an int in [{-len(layers)}, {len(layers)}), "
                                 f"got {index!r} (model {self.name!r} has {len(layers)} layers).")
            return layers[int(index)]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No layer named {name!r} in model {self.name!r}. Layers: "
                         f"{', '.join(layer.name for layer in layers)}.")

    @property
    def output_names(self) -> list[str]:
        return [f"output_{i + 1}" for i in range(len(self._output_tensors_shapes()))]

    def _output_tensors_shapes(self):
        shape = self.output_shape
        return shape if isinstance(shape, list) else [shape]

    def build(self, input_shape=None):
        """Build a subclassed model by running ``call`` on zeros of ``input_shape``."""
        if input_shape is None:
            raise ValueError(f"Model {self.name!r}: build() needs an input shape, e.g. build((None, 784)).")
        shape = tuple(input_shape) if not isinstance(input_shape, list) else input_shape
        self._build_input_shape = shape
        self.built = True  # so compute_output_shape's trial call does not recurse into build
        self._output_shape = self.compute_output_shape(shape)

    def _ensure_built(self, x) -> None:
        """Build from the first data seen (as Keras does), then bind the optimizer to the new weights."""
        if not self.built:
            self._build_for(map_structure(lambda t: (None, *t.shape[1:]), x))
            self._plan = None
            self._rebind_optimizer()
        self._check_inputs(x)

    def _check_inputs(self, x) -> None:
        """Refuse inputs whose shape the model cannot take (subclasses know their input shapes)."""

    # -- forward ---------------------------------------------------------------------------------
    def _forward_function(self, fused_outputs=frozenset()):
        """``fn(x, training) -> outputs`` used by the engines; subclasses with a graph may run fused
        output layers without their final activation (``fused_outputs``)."""
        return lambda x, training: self._call(x, training)

    def to_torch(self) -> nn.Module:
        """A plain ``torch.nn.Module`` sharing this model's parameters (``forward(x)``, ``.train()``)."""
        return self

    # -- weights ---------------------------------------------------------------------------------
    def get_weights(self) -> list[np.ndarray]:
        """All weights as numpy arrays, Keras order and layout (Dense kernel ``(in, out)``)."""
        return super().get_weights()

    def set_weights(self, weights) -> None:
        if not self.built:
            raise ValueError(f"Model {self.name!r} is not built yet, so it has no weights to set: give it an input "
                             f"shape (input_shape=, Input or build()) first.")
        super().set_weights(weights)

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(f"Model {self.name!r} is not built yet; give it an input shape first.")
        return super().count_params()

    # -- summary ---------------------------------------------------------------------------------
    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False, show_trainable=False,
                layer_range=None, breakdown=False) -> None:
        """Print the Keras 2 summary table; ``breakdown=True`` adds the lectures' weights-and-biases table."""
        if not self.built:
            raise ValueError(f"Model {self.name!r} has not been built yet, so summary() cannot count its "
                             f"parameters. Pass input_shape= to the first layer, start from keras.Input, or call "
                             f"build().")
        if layer_range is not None:
            raise ValueError("summary(): argument `layer_range` is not supported by kerastyle.")
        lines = summary_module.summary_lines(self, line_length, positions, show_trainable=show_trainable)
        if breakdown:
            lines += ["", *summary_module.breakdown_lines(self)]
        if print_fn is None and not distributed.is_chief():
            return  # on several processes, rank 0 prints
        emit = print_fn or print
        for line in lines:
            emit(line)

    # -- training ----------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
                run_eagerly=None, steps_per_execution=1, jit_compile=None, auto_scale_loss=None, **kwargs):
        """Set the optimizer, the loss(es) and the metrics. With several outputs, ``loss``,
        ``loss_weights`` and ``metrics`` may be lists (output order) or dicts (output names)."""
        check_kwargs("compile", kwargs, ("optimizer", "loss", "loss_weights", "metrics", "weighted_metrics",
                                         "run_eagerly", "steps_per_execution", "jit_compile", "auto_scale_loss"))
        if loss is None:
            raise ValueError("compile() needs a loss, e.g. loss='categorical_crossentropy'. Valid names: "
                             + ", ".join(sorted(losses.ALIASES)) + ".")
        if weighted_metrics:
            raise ValueError("compile(): `weighted_metrics` is not supported by kerastyle yet.")
        if isinstance(steps_per_execution, bool) or not isinstance(steps_per_execution, (int, np.integer)) \
                or steps_per_execution < 1:
            raise ValueError(f"compile(): argument `steps_per_execution` must be a positive integer, got "
                             f"{steps_per_execution!r}.")
        self.optimizer = optimizers.get(optimizer)
        self._compile_args = {"loss": loss, "loss_weights": loss_weights, "metrics": metrics}
        self.compiled = True
        self._plan = None
        if self.built:
            self._compile_outputs()
        self._rebind_optimizer()

    def _compile_outputs(self) -> OutputPlan:
        """Resolve the compile arguments against the built model's outputs (once per compile)."""
        if self._plan is None:
            args = self._compile_args
            self._plan = OutputPlan(self, args["loss"], args["loss_weights"], args["metrics"])
            single = self._plan.single
            self.loss = self._plan.outputs[0].loss if single else [o.loss for o in self._plan.outputs]
            self.loss_weights = args["loss_weights"]
            self.metrics = [m for o in self._plan.outputs for m in o.metrics]
        return self._plan

    def _rebind_optimizer(self):
        if isinstance(self.optimizer, optimizers.Optimizer) and self.built:
            trainable = [p for p in self.parameters() if p.requires_grad]
            if not trainable:  # nothing to train (yet): the optimizer stays unbound
                return
            if self.optimizer.built:
                bound = {id(p) for g in self.optimizer.param_groups for p in g["params"]}
                if bound != {id(p) for p in trainable}:
                    self.optimizer = type(self.optimizer).from_config(self.optimizer.get_config())
            self.optimizer.build(trainable)

    @property
    def metrics_names(self) -> list[str]:
        if not self.compiled:
            return []
        plan = self._compile_outputs() if self.built else None
        return ["loss"] + ([] if plan is None else plan.metric_log_names())

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
            steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1,
            engine="auto", distribute="auto", **kwargs):
        """Train for ``epochs`` (absolute, counting from ``initial_epoch``); returns a History.

        ``engine`` picks how gradients are computed: ``'autograd'``, ``'analytic'`` (the hand-derived
        backward pass) or ``'auto'`` (analytic when the model supports it). ``distribute='auto'`` trains
        on every process of a torch.distributed group (or torchrun launch); False opts out."""
        check_kwargs("fit", kwargs, ("x", "y", "batch_size", "epochs", "verbose", "callbacks", "validation_split",
                                     "validation_data", "shuffle", "class_weight", "sample_weight", "initial_epoch",
                                     "steps_per_epoch", "validation_steps", "validation_batch_size",
                                     "validation_freq", "engine", "distribute"))
        return trainers.fit(self, x, y, batch_size=batch_size, epochs=epochs, verbose=verbose, callbacks=callbacks,
                            validation_split=validation_split, validation_data=validation_data, shuffle=shuffle,
                            class_weight=class_weight, sample_weight=sample_weight, initial_epoch=initial_epoch,
                            steps_per_epoch=steps_per_epoch, validation_steps=validation_steps,
                            validation_batch_size=validation_batch_size, validation_freq=validation_freq,
                            engine=engine, distribute=distribute)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False, **kwargs):
        """Loss (and metrics) over ``x, y``: a float, ``[loss, *metrics]`` or a dict."""
        check_kwargs("evaluate", kwargs, ("x", "y", "batch_size", "verbose", "sample_weight", "steps", "callbacks",
                                          "return_dict"))
        return trainers.evaluate(self, x, y, batch_size=batch_size, verbose=verbose, sample_weight=sample_weight,
                                 steps=steps, callbacks=callbacks, return_dict=return_dict)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None, **kwargs):
        """Model outputs as numpy arrays (a list of them for several outputs). ``x`` may be arrays, a list
        of samples, a single sample (shaped exactly like one input sample), or a dataset/generator."""
        check_kwargs("predict", kwargs, ("x", "batch_size", "verbose", "steps", "callbacks"))
        x = batch_api.as_batch_of_one(self, x)
        return trainers.predict(self, x, batch_size=batch_size, verbose=verbose, steps=steps, callbacks=callbacks)

    # -- batch-level API (kerastyle/trainers/batch_api.py) ----------------------------------------
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, reset_metrics=True,
                       return_dict=False):
        """One gradient step on ``(x, y)``: the loss, ``[loss, *metrics]`` or a dict (``return_dict``)."""
        return batch_api.train_on_batch(self, x, y, sample_weight, class_weight, reset_metrics, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, reset_metrics=True, return_dict=False):
        """Loss and metrics of ``(x, y)`` in inference mode, no update (same return forms)."""
        return batch_api.test_on_batch(self, x, y, sample_weight, reset_metrics, return_dict)

    def predict_on_batch(self, x):
        """Outputs of ``x`` in one forward pass (numpy)."""
        return batch_api.predict_on_batch(self, batch_api.as_batch_of_one(self, x))

    def reset_metrics(self) -> None:
        """Reset the compiled metrics and the values the batch-level API accumulates."""
        batch_api.reset_metrics(self)

    # -- Keras 2's generator methods (deprecated there; fit/evaluate/predict take generators) ----------
    def fit_generator(self, generator, steps_per_epoch=None, epochs=1, verbose=1, callbacks=None,
                      validation_data=None, validation_steps=None, validation_freq=1, class_weight=None,
                      max_queue_size=10, workers=1, use_multiprocessing=False, shuffle=True, initial_epoch=0):
        """Keras 2's ``fit_generator``: ``fit(generator, ...)``. Batches are produced in the calling thread
        (``workers``, ``use_multiprocessing``, ``max_queue_size`` are checked, not used)."""
        _deprecated("fit_generator", "fit")
        _check_worker_args(max_queue_size, workers, use_multiprocessing)
        return self.fit(generator, steps_per_epoch=steps_per_epoch, epochs=epochs, verbose=verbose,
                        callbacks=callbacks, validation_data=validation_data, validation_steps=validation_steps,
                        validation_freq=validation_freq, class_weight=class_weight, shuffle=shuffle,
                        initial_epoch=initial_epoch)

    def evaluate_generator(self, generator, steps=None, callbacks=None, max_queue_size=10, workers=1,
                           use_multiprocessing=False, verbose=0):
        """Keras 2's ``evaluate_generator``: ``evaluate(generator, ...)``."""
        _deprecated("evaluate_generator", "evaluate")
        _check_worker_args(max_queue_size, workers, use_multiprocessing)
        return self.evaluate(generator, steps=steps, callbacks=callbacks, verbose=verbose)

    def predict_generator(self, generator, steps=None, callbacks=None, max_queue_size=10, workers=1,
                          use_multiprocessing=False, verbose=0):
        """Keras 2's ``predict_generator``: ``predict(generator, ...)``."""
        _deprecated("predict_generator", "predict")
        _check_worker_args(max_queue_size, workers, use_multiprocessing)
        return self.predict(generator, steps=steps, callbacks=callbacks, verbose=verbose)

    # -- saving (kerastyle/saving, docs/saving.md) ---------------------------------------------
    def get_config(self) -> dict:
        raise NotImplementedError(f"Model {self.name!r} is a subclassed model: its architecture is Python code, so "
                                  f"it has no config. Save its weights with save_weights(), or define get_config().")

    def to_json(self, **kwargs) -> str:
        """The architecture as JSON (``models.model_from_json`` rebuilds it)."""
        return json.dumps({"module": "kerastyle", "class_name": type(self).__name__, "config": self.get_config()},
                          **kwargs)

    def save(self, filepath, overwrite=True, format=None, **kwargs) -> None:
        """Write architecture, compile settings, optimizer state and weights to one file, atomically
        (on several processes, rank 0 writes).

        kerastyle's own checked format by default, whatever the name; ``format="keras"`` writes a
        Keras 3 ``.keras`` archive that real Keras loads (docs/coming-from-keras.md)."""
        check_kwargs("save", kwargs, ("filepath", "overwrite", "format"))
        if format not in ("keras", "keras3", None, "kerastyle"):
            raise ValueError(f"save(): argument `format` must be None or 'kerastyle' (kerastyle's own format) or "
                             f"'keras' (a Keras 3 .keras archive), got {format!r}.")
        if not distributed.is_chief():
            return
        if format in ("keras", "keras3"):
            saving.save_as_keras(self, filepath, overwrite)
        else:
            saving.save_model(self, filepath, overwrite)

    def save_weights(self, filepath, overwrite=True) -> None:
        """Write the weights only (Keras names and layout), atomically: kerastyle's format, or Keras 3's
        HDF5 layout when the name ends in ``.h5`` (``m.weights.h5``); on several processes, rank 0 writes."""
        if distributed.is_chief():
            saving.save_weights(self, filepath, overwrite)

    def load_weights(self, filepath, skip_mismatch=False, by_name=False, **kwargs) -> None:
        """Load weights saved by ``save_weights``/``save`` (kerastyle or Keras files: ``.weights.h5``,
        ``.keras``, Keras 2 ``.h5`` by layer order or ``by_name``); all or nothing."""
        check_kwargs("load_weights", kwargs, ("filepath", "skip_mismatch", "by_name"))
        saving.load_weights(self, filepath, by_name=by_name, skip_mismatch=skip_mismatch)

    def export_onnx(self, filepath) -> None:
        """Write the inference graph as ONNX (needs the ``onnx`` and ``onnxscript`` packages)."""
        saving.export_onnx(self, filepath)

    # -- checks used by the trainers --------------------------------------------------------------
    def _require_compiled(self, what):
        if not self.compiled:
            raise RuntimeError(f"Model {self.name!r} must be compiled before {what}(): call "
                               f"model.compile(optimizer=..., loss=..., metrics=[...]) first.")
        if not self.layers:
            raise ValueError(f"Model {self.name!r} has no layers; add some before {what}().")

    def _require_built(self, what, x=None):
        if not self.layers:
            raise ValueError(f"Model {self.name!r} has no layers; add some before {what}().")
        if not self.built:
            raise ValueError(f"Model {self.name!r} has not been built, so {what}() cannot run: its input shape is "
                             f"unknown. Pass input_shape= to the first layer, add an Input(shape=...), call build(), "
                             f"or fit() it first.")
        if x is not None:
            self._check_inputs(x)

    def _input_dtypes(self) -> list:
        """The dtype each input is converted to (None: the model's float type)."""
        return [None]

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} layers={[layer.name for layer in self.layers]}>"


def _deprecated(old, new):
    warnings.warn(f"`Model.{old}` is deprecated and will be removed in a future version (Keras 3 removed it). "
                  f"Please use `Model.{new}`, which supports generators.", DeprecationWarning, stacklevel=3)


def _check_worker_args(max_queue_size, workers, use_multiprocessing):
    for arg, value in (("max_queue_size", max_queue_size), ("workers", workers)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"Argument `{arg}` must be an integer >= 0, got {value!r}.")
    if not isinstance(use_multiprocessing, (bool, np.bool_)):
        raise ValueError(f"Argument `use_multiprocessing` must be True or False, got {use_multiprocessing!r}.")


def _default_name(cls) -> str:
    from ..layers.layer import snake_case
    return snake_case(cls.__name__)


def _is_symbolic_structure(value) -> bool:
    return any(isinstance(t, KerasTensor) for t in flatten(value))


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """A model saved by ``model.save``, compiled with its saved optimizer state unless ``compile=False``."""
    if safe_mode is not True:
        raise ValueError("load_model(): kerastyle always loads in safe mode; files never run code.")
    return saving.load_model(filepath, custom_objects=custom_objects, compile=compile)


def model_from_json(json_string, custom_objects=None):
    """A new, uncompiled model from ``model.to_json()``."""
    try:
        doc = json.loads(json_string)
    except (TypeError, ValueError) as err:
        raise ValueError(f"model_from_json(): the argument is not valid JSON ({err}).") from None
    return saving.deserialize_model(doc, custom_objects)


_ = (inputs, torch)
