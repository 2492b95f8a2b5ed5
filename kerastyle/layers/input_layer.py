"""``keras.Input`` and ``InputLayer``: where a model's data enters.

``Input(shape)`` returns a symbolic ``KerasTensor`` for the Functional API; in a ``Sequential`` it
declares the input shape. Input dtypes are kept: an ``int32`` input stays integer (token ids for an
``Embedding``), float inputs become the model's float type.
"""

from __future__ import annotations

from .. import backend
from .layer import Layer, as_dtype, as_shape, check_kwargs, dtype_name
from .node import KerasTensor, Node


def _input_name() -> str:
    """Keras 2's names for inputs: ``input_1``, ``input_2``, ..."""
    name = backend.unique_name("input")
    return "input_1" if name == "input" else f"input_{int(name.rsplit('_', 1)[1]) + 1}"


class InputLayer(Layer):
    """The layer behind ``keras.Input``: no weights; its output is the model's input tensor."""

    def __init__(self, shape=None, batch_size=None, dtype=None, name=None, input_shape=None,
                 batch_input_shape=None, batch_shape=None, sparse=None, ragged=None, **kwargs):
        check_kwargs("InputLayer", kwargs, ("shape", "batch_size", "dtype", "name", "input_shape",
                                            "batch_input_shape", "batch_shape", "sparse", "ragged"))
        if sparse or ragged:
            raise ValueError("InputLayer: sparse and ragged inputs are not supported by kerastyle.")
        if shape is None:
            shape = input_shape
        full = batch_shape if batch_shape is not None else batch_input_shape
        if shape is None and full is not None:
            shape = tuple(full)[1:]
        if shape is None:
            raise ValueError("Input needs `shape` (without the batch axis), e.g. Input(shape=(784,)).")
        shape = as_shape(shape, "shape", allow_none=True)
        super().__init__(name=name or _input_name(), dtype=dtype, input_shape=shape)
        self.batch_size = batch_size
        self.input_dtype = as_dtype(dtype) if dtype is not None else None
        self.built = True
        self._build_input_shape = self._batch_input_shape
        self._output_shape = self._batch_input_shape
        tensor = KerasTensor(self._batch_input_shape, self.input_dtype or self._dtype, name=self.name)
        Node(self, [], [tensor])

    def call(self, inputs):
        return inputs

    @property
    def output_shape(self):
        return self._batch_input_shape

    def get_config(self):
        config = {"name": self.name, "batch_input_shape": list(self._batch_input_shape)}
        if self.input_dtype is not None:
            config["dtype"] = dtype_name(self.input_dtype)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        shape = config.pop("batch_input_shape", None) or config.pop("batch_shape", None)
        config.pop("trainable", None)
        return cls(shape=tuple(shape[1:]) if shape else None, **config)


def Input(shape=None, batch_size=None, name=None, dtype=None, sparse=None, batch_shape=None, tensor=None,
          **kwargs):
    """``keras.Input``: a symbolic input of ``shape`` (without the batch axis) for the Functional API."""
    if tensor is not None:
        raise ValueError("Input: argument `tensor` is not supported by kerastyle.")
    layer = InputLayer(shape=shape, batch_size=batch_size, name=name, dtype=dtype, sparse=sparse,
                       batch_shape=batch_shape, **kwargs)
    return layer._inbound_nodes[0].outputs[0]
