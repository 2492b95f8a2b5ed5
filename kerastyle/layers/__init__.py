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

# -- convolution, pooling, normalization, reshaping, noise, activation and preprocessing layers (H4a) --------
from .activations import ELU, LeakyReLU, PReLU, ReLU, Softmax  # noqa: E402
from .convolution import (  # noqa: E402
    Conv1D,
    Conv2D,
    Conv2DTranspose,
    Convolution1D,
    Convolution2D,
    Convolution2DTranspose,
    DepthwiseConv2D,
    SeparableConv2D,
    SeparableConvolution2D,
)
from .normalization import BatchNormalization, LayerNormalization, UnitNormalization  # noqa: E402
from .pooling import (  # noqa: E402
    AveragePooling1D,
    AveragePooling2D,
    AvgPool1D,
    AvgPool2D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAvgPool1D,
    GlobalAvgPool2D,
    GlobalMaxPool1D,
    GlobalMaxPool2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    MaxPool1D,
    MaxPool2D,
    MaxPooling1D,
    MaxPooling2D,
)
from .preprocessing import Normalization, RandomFlip, Rescaling, Resizing  # noqa: E402
from .regularization import (  # noqa: E402
    ActivityRegularization,
    GaussianDropout,
    GaussianNoise,
    SpatialDropout1D,
    SpatialDropout2D,
)
from .reshaping import (  # noqa: E402
    Cropping1D,
    Cropping2D,
    Permute,
    RepeatVector,
    Reshape,
    UpSampling1D,
    UpSampling2D,
    ZeroPadding1D,
    ZeroPadding2D,
)

_H4A_LAYERS = (
    Conv1D, Conv2D, Conv2DTranspose, DepthwiseConv2D, SeparableConv2D, MaxPooling1D, MaxPooling2D, AveragePooling1D,
    AveragePooling2D, GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalAveragePooling1D, GlobalAveragePooling2D,
    BatchNormalization, LayerNormalization, UnitNormalization, Reshape, Permute, RepeatVector, UpSampling1D,
    UpSampling2D, ZeroPadding1D, ZeroPadding2D, Cropping1D, Cropping2D, SpatialDropout1D, SpatialDropout2D,
    GaussianNoise, GaussianDropout, ActivityRegularization, ReLU, LeakyReLU, PReLU, ELU, Softmax, Normalization,
    Rescaling, Resizing, RandomFlip)
LAYERS.update({cls.__name__: cls for cls in _H4A_LAYERS})
_H4A_ALIASES = {"Convolution1D": Convolution1D, "Convolution2D": Convolution2D,
                "Convolution2DTranspose": Convolution2DTranspose, "SeparableConvolution2D": SeparableConvolution2D,
                "MaxPool1D": MaxPool1D, "MaxPool2D": MaxPool2D,
                "AvgPool1D": AvgPool1D, "AvgPool2D": AvgPool2D, "GlobalMaxPool1D": GlobalMaxPool1D,
                "GlobalMaxPool2D": GlobalMaxPool2D, "GlobalAvgPool1D": GlobalAvgPool1D,
                "GlobalAvgPool2D": GlobalAvgPool2D}
# -- end of the H4a block ------------------------------------------------------------------------------------

__all__ = ["Layer", "InputSpec", "KerasTensor", *LAYERS, "Input", "add", "subtract", "multiply", "average", "maximum",
           "minimum", "concatenate", "dot", "LAYERS",
           *_H4A_ALIASES]
