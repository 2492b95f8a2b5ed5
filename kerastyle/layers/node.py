"""Symbolic tensors and the graph they record: the Functional API's bookkeeping.

``keras.Input(shape)`` returns a ``KerasTensor``: a shape and a dtype, no data. Calling a layer on
KerasTensors computes nothing; it records a ``Node`` (the layer, the tensors it was called on, the
tensors it returned) and returns new KerasTensors whose ``_keras_history`` points at that node.
``Model(inputs, outputs)`` walks these records back from the outputs to get its layers and the
order to run them in.
"""

from __future__ import annotations

import torch


class KerasTensor:
    """A placeholder with a Keras shape (batch axis ``None``) and a torch dtype."""

    def __init__(self, shape, dtype=torch.float32, name=None):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = dtype
        self.name = name
        self._keras_history = None  # (node, index in node.outputs), set by the node that makes it

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def node(self):
        return None if self._keras_history is None else self._keras_history[0]

    def __repr__(self):
        dtype = str(self.dtype).replace("torch.", "")
        return f"<KerasTensor shape={self.shape}, dtype={dtype}, name={self.name}>"

    def _refuse(self, *args, **kwargs):
        raise TypeError(
            f"{self!r} is a symbolic tensor of the Functional API: it holds no values, and arithmetic on it is "
            f"not recorded. Use a layer instead: keras.layers.Add()([a, b]), Multiply, Concatenate, or "
            f"keras.layers.Lambda(lambda t: ...)(x) for other torch operations.")

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _refuse
    __matmul__ = __rmatmul__ = __neg__ = __pow__ = __getitem__ = _refuse

    def __bool__(self):
        raise TypeError(f"{self!r} is symbolic and has no truth value.")

    def __array__(self, *args, **kwargs):
        raise TypeError(f"{self!r} is symbolic: it cannot be converted to a numpy array.")


class Node:
    """One call of ``layer`` on symbolic ``inputs`` (a KerasTensor or a list of them) giving ``outputs``."""

    def __init__(self, layer, inputs, outputs, call_kwargs=None):
        self.layer = layer
        self.inputs = inputs
        self.input_tensors = list(flatten(inputs))
        self.outputs = list(flatten(outputs))
        self.call_kwargs = dict(call_kwargs or {})
        for index, tensor in enumerate(self.outputs):
            tensor._keras_history = (self, index)
        layer._inbound_nodes.append(self)

    @property
    def parent_nodes(self) -> list[Node]:
        return [t.node for t in self.input_tensors if t.node is not None]

    @property
    def index(self) -> int:
        """This node's position among its layer's calls (the ``[0]`` in ``dense[0][0]``)."""
        return self.layer._inbound_nodes.index(self)


def flatten(structure):
    """The leaves of nested lists, tuples and dicts (dicts in key order), in order."""
    if isinstance(structure, (list, tuple)):
        for item in structure:
            yield from flatten(item)
    elif isinstance(structure, dict):
        for key in structure:
            yield from flatten(structure[key])
    else:
        yield structure


def is_symbolic(structure) -> bool:
    return any(isinstance(t, KerasTensor) for t in flatten(structure))


def map_structure(fn, structure):
    """``structure`` with every leaf replaced by ``fn(leaf)``."""
    if isinstance(structure, list):
        return [map_structure(fn, s) for s in structure]
    if isinstance(structure, tuple):
        return tuple(map_structure(fn, s) for s in structure)
    if isinstance(structure, dict):
        return {k: map_structure(fn, v) for k, v in structure.items()}
    return fn(structure)
