"""Core layers: ``Dense``, ``Activation``, ``Lambda``, ``Identity``.

``Dense`` keeps its kernel as Keras does, ``(in, out)`` row-major: forward is ``addmm(b, A, K)``;
its hand-derived backward pass for the analytic engine sits next to it (``_DenseOp``).
"""

from __future__ import annotations

import numpy as np
import torch

from .. import activations, constraints, initializers, regularizers
from .layer import InputSpec, Layer


def _activation_config(layer, module, identifier):
    """The activation's name in a config; a custom function is saved by its registered name only."""
    name = activations.resolve_name(identifier) if not isinstance(identifier, torch.nn.Module) else None
    if name is not None:
        return name
    if isinstance(module, activations.Lambda):
        from ..saving.object_registration import registered_name
        registered = registered_name(module.fn)
        if registered is None:
            raise ValueError(f"Layer {layer.name!r}: the custom activation {module.name!r} cannot be saved by name. "
                             f"Register it with @keras.saving.register_keras_serializable() (and pass it when "
                             f"loading), or save the weights with model.save_weights().")
        return registered
    return activations.name_of(module)


def positive_int(value, arg, owner) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        if isinstance(value, (float, np.floating)) and float(value).is_integer() and value > 0:
            return int(value)
        raise ValueError(f"{owner}: argument `{arg}` must be a positive integer, got {value!r}.")
    return int(value)


class _DenseOp:
    """The lectures' Dense backward pass. Forward ``Z = A K + iota b^T`` (``K = W^T``, Keras's kernel);
    backward ``dL/dK = A^T dL/dZ`` (written straight into the kernel's ``.grad``),
    ``dL/db = (dL/dZ)^T iota``, ``dL/dA = dL/dZ K^T``."""

    fresh_output = True  # Z is a new tensor the op does not keep: the next op may work on it in place

    def __init__(self, layer, need_input_grad: bool):
        self.kernel, self.bias = layer.kernel, layer.bias
        self.k = layer.kernel.detach()
        self.kt = self.k.t()
        self.b = None if layer.bias is None else layer.bias.detach()
        self.gk = self.gb = None  # gradient buffers, bound at the first backward pass
        self.bound = False
        self.need_input_grad = need_input_grad
        self.a = None
        self.in_shape = None

    def forward(self, a):
        if a.dim() != 2:  # Dense on (N, ..., features): work on the flattened rows
            self.in_shape = a.shape
            a = a.reshape(-1, a.shape[-1])
        else:
            self.in_shape = None
        self.a = a
        z = torch.mm(a, self.k) if self.b is None else torch.addmm(self.b, a, self.k)
        return z if self.in_shape is None else z.reshape(*self.in_shape[:-1], z.shape[-1])

    def backward(self, dz):
        if not self.bound:
            self.gk = grad_buffer(self.kernel)
            self.gb = None if self.bias is None else grad_buffer(self.bias)
            self.bound = True
        if self.in_shape is not None:
            dz = dz.reshape(-1, dz.shape[-1])
        if self.gk is not None:
            torch.mm(self.a.t(), dz, out=self.gk)  # dL/dK = A^T dL/dZ
            self.kernel.grad = self.gk
        if self.gb is not None:
            torch.sum(dz, 0, out=self.gb)  # dL/db = (dL/dZ)^T iota
            self.bias.grad = self.gb
        if not self.need_input_grad:
            return None
        da = torch.mm(dz, self.kt)  # dL/dA = dL/dZ K^T
        return da if self.in_shape is None else da.reshape(self.in_shape)


def grad_buffer(param):
    """The tensor the analytic engine writes ``param``'s gradient into (its ``.grad`` when usable)."""
    if not param.requires_grad:
        return None
    grad = param.grad
    if grad is None or grad.shape != param.shape or grad.dtype != param.dtype or grad.device != param.device \
            or grad.stride() != param.stride():
        grad = torch.zeros_like(param)
        param.grad = grad
    return grad


class Dense(Layer):
    """Fully connected layer ``activation(x @ kernel + bias)`` with Keras's ``(in, out)`` kernel."""

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.units = positive_int(units, "units", "Dense")
        self._activation_id = activation
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        initializers.get(kernel_initializer)
        initializers.get(bias_initializer)
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self._linear = activations.name_of(self.activation) == "linear"
        self.supports_masking = True  # Keras: a mask passes through Dense (e.g. Embedding -> Dense -> LSTM)
        self.kernel = None
        self.bias = None

    def build(self, input_shape):
        features = input_shape[-1]
        if features is None:
            raise ValueError(f"Layer {self.name!r} (Dense) needs a known last axis, got input shape {input_shape}.")
        self.kernel = self.add_weight(name="kernel", shape=(features, self.units),
                                      initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.units,), initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self.input_spec = InputSpec(min_ndim=2, axes={-1: features})
        self.built = True

    def call_without_activation(self, inputs):
        if inputs.dim() == 2:
            return torch.mm(inputs, self.kernel) if self.bias is None else torch.addmm(self.bias, inputs, self.kernel)
        out = torch.matmul(inputs, self.kernel)
        return out if self.bias is None else out + self.bias

    def call(self, inputs):
        z = self.call_without_activation(inputs)
        return z if self._linear else self.activation(z)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def analytic_ops(self, need_input_grad, input_owned):
        if activations.unsupported_reason(self.activation):
            return None
        ops = [_DenseOp(self, need_input_grad)]
        if not self._linear:
            ops.append(activations.analytic_op(self.activation, input_owned=True))
        return ops

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "activation": _activation_config(self, self.activation, self._activation_id), "use_bias": self.use_bias,
                "kernel_initializer": initializers.name_of(initializers.get(self.kernel_initializer)),
                "bias_initializer": initializers.name_of(initializers.get(self.bias_initializer)),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "kernel_constraint": constraints.serialize(self.kernel_constraint),
                "bias_constraint": constraints.serialize(self.bias_constraint)}


class Activation(Layer):
    """Applies an activation function by name, kerastyle/torch function or callable."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self._activation_id = activation
        self.activation = activations.get(activation)
        self.supports_masking = True

    def call_without_activation(self, inputs):
        return inputs

    def call(self, inputs):
        return self.activation(inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def analytic_ops(self, need_input_grad, input_owned):
        if activations.unsupported_reason(self.activation):
            return None
        return [activations.analytic_op(self.activation, input_owned=input_owned)]

    def get_config(self):
        return {**super().get_config(), "activation": _activation_config(self, self.activation, self._activation_id)}


class Identity(Layer):
    """Returns its input unchanged."""

    def call(self, inputs):
        return inputs

    def analytic_ops(self, need_input_grad, input_owned):
        return [activations.analytic_op(torch.nn.Identity())]


class Lambda(Layer):
    """Wraps ``function(inputs, **arguments)`` as a layer.

    Saving stores the function by its registered name only (``register_keras_serializable`` or
    ``custom_objects=`` at load), never its code: a file cannot run code when it is loaded."""

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda: argument `function` must be callable, got {function!r}.")
        if mask is not None:
            raise ValueError("Lambda: argument `mask` is not supported by kerastyle.")
        if arguments is not None and not isinstance(arguments, dict):
            raise TypeError(f"Lambda: argument `arguments` must be a dict, got {type(arguments).__name__}.")
        self.function = function
        self.arguments = dict(arguments or {})
        self._declared_output_shape = output_shape

    def call(self, inputs):
        return self.function(inputs, **self.arguments)

    def compute_output_shape(self, input_shape):
        declared = self._declared_output_shape
        if declared is None:
            return Layer.compute_output_shape(self, input_shape)
        if callable(declared):
            return tuple(declared(input_shape))
        return (input_shape[0] if isinstance(input_shape, tuple) else None, *tuple(declared))

    def get_config(self):
        from ..saving.object_registration import registered_name
        name = registered_name(self.function)
        if name is None:
            raise ValueError(f"Lambda layer {self.name!r}: its function {self.function!r} is not registered, so it "
                             f"cannot be saved by name (kerastyle never stores code in files). Define it with def, "
                             f"decorate it with @keras.saving.register_keras_serializable(), and pass it again "
                             f"when loading (or use custom_objects=).")
        declared = self._declared_output_shape
        if callable(declared):
            raise ValueError(f"Lambda layer {self.name!r}: a callable output_shape cannot be saved.")
        return {**super().get_config(), "function": name, "arguments": self.arguments,
                "output_shape": None if declared is None else list(declared)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from ..saving.object_registration import get_registered_object
        config = dict(config)
        name = config.pop("function")
        if not isinstance(name, str):
            raise ValueError("Lambda: the saved 'function' must be the name of a registered function (kerastyle "
                             "does not load Python bytecode, as Keras's safe_mode=True refuses it).")
        function = get_registered_object(name, custom_objects)
        if function is None:
            raise ValueError(f"Lambda: the function {name!r} is not registered. Decorate it with "
                             f"@keras.saving.register_keras_serializable() or pass custom_objects={{{name!r}: fn}}.")
        shape = config.pop("output_shape", None)
        return cls(function, output_shape=None if shape is None else tuple(shape), **config)
