"""Keras layers: ``torch.nn.Module``s with the Keras layer contract (``layer.py``)."""

from .core import Activation, Dense, Identity, Lambda
from .input_layer import Input, InputLayer
from .layer import InputSpec, Layer
from .merging import (
    Add,
    Average,
    Concatenate,
    Dot,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    concatenate,
    dot,
    maximum,
    minimum,
    multiply,
    subtract,
)
from .node import KerasTensor
from .regularization import Dropout
from .reshaping import Flatten

LAYERS = {cls.__name__: cls for cls in (
    InputLayer, Dense, Activation, Identity, Lambda, Dropout, Flatten, Add, Subtract, Multiply, Average, Maximum,
    Minimum, Concatenate, Dot)}
"""Built-in layer classes by name: the only layer classes a saved file can ask for (plus registered ones)."""

__all__ = ["Layer", "InputSpec", "KerasTensor", *LAYERS, "Input", "add", "subtract", "multiply", "average", "maximum",
           "minimum", "concatenate", "dot", "LAYERS"]
