"""Keras layers: ``torch.nn.Module``s with the Keras layer contract (``layer.py``)."""

from .core import Activation, Dense, Identity, Lambda

# -- embedding, masking, recurrent layers and wrappers (H4b) --
from .embedding import Embedding, Masking
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
from .recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, SimpleRNN, SimpleRNNCell
from .regularization import Dropout
from .reshaping import Flatten
from .wrappers import Bidirectional, TimeDistributed

_RECURRENT_LAYERS = (Embedding, Masking, SimpleRNN, LSTM, GRU, RNN, SimpleRNNCell, LSTMCell, GRUCell, Bidirectional,
                     TimeDistributed)
# -- end H4b --

LAYERS = {cls.__name__: cls for cls in (
    InputLayer, Dense, Activation, Identity, Lambda, Dropout, Flatten, Add, Subtract, Multiply, Average, Maximum,
    Minimum, Concatenate, Dot, *_RECURRENT_LAYERS)}
"""Built-in layer classes by name: the only layer classes a saved file can ask for (plus registered ones)."""

__all__ = ["Layer", "InputSpec", "KerasTensor", *LAYERS, "Input", "add", "subtract", "multiply", "average", "maximum",
           "minimum", "concatenate", "dot", "LAYERS"]
