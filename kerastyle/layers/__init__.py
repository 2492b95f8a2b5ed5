"""Keras layers: ``torch.nn.Module``s with the Keras layer contract (``layer.py``), one family per module."""

from .activations import ELU, LeakyReLU, PReLU, ReLU, Softmax
from .convolution import (
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
from .core import Activation, Dense, Identity, Lambda
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
from .normalization import BatchNormalization, LayerNormalization, UnitNormalization
from .pooling import (
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
from .preprocessing import Normalization, RandomFlip, Rescaling, Resizing
from .recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, SimpleRNN, SimpleRNNCell
from .regularization import (
    ActivityRegularization,
    Dropout,
    GaussianDropout,
    GaussianNoise,
    SpatialDropout1D,
    SpatialDropout2D,
)
from .reshaping import (
    Cropping1D,
    Cropping2D,
    Flatten,
    Permute,
    RepeatVector,
    Reshape,
    UpSampling1D,
    UpSampling2D,
    ZeroPadding1D,
    ZeroPadding2D,
)
from .wrappers import Bidirectional, TimeDistributed

LAYERS = {cls.__name__: cls for cls in (
    InputLayer, Dense, Activation, Identity, Lambda, Dropout, Flatten,
    Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot,
    Conv1D, Conv2D, Conv2DTranspose, DepthwiseConv2D, SeparableConv2D,
    MaxPooling1D, MaxPooling2D, AveragePooling1D, AveragePooling2D,
    GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalAveragePooling1D, GlobalAveragePooling2D,
    BatchNormalization, LayerNormalization, UnitNormalization,
    Reshape, Permute, RepeatVector, UpSampling1D, UpSampling2D, ZeroPadding1D, ZeroPadding2D, Cropping1D, Cropping2D,
    SpatialDropout1D, SpatialDropout2D, GaussianNoise, GaussianDropout, ActivityRegularization,
    ReLU, LeakyReLU, PReLU, ELU, Softmax,
    Normalization, Rescaling, Resizing, RandomFlip,
    Embedding, Masking, SimpleRNN, LSTM, GRU, RNN, SimpleRNNCell, LSTMCell, GRUCell, Bidirectional, TimeDistributed)}
"""Built-in layer classes by name: the only layer classes a saved file can ask for (plus registered ones)."""

ALIASES = {"Convolution1D": Convolution1D, "Convolution2D": Convolution2D,
           "Convolution2DTranspose": Convolution2DTranspose, "SeparableConvolution2D": SeparableConvolution2D,
           "MaxPool1D": MaxPool1D, "MaxPool2D": MaxPool2D, "AvgPool1D": AvgPool1D, "AvgPool2D": AvgPool2D,
           "GlobalMaxPool1D": GlobalMaxPool1D, "GlobalMaxPool2D": GlobalMaxPool2D, "GlobalAvgPool1D": GlobalAvgPool1D,
           "GlobalAvgPool2D": GlobalAvgPool2D}
"""Keras 2 spellings of the same classes."""

__all__ = ["Layer", "InputSpec", "KerasTensor", "Input", *LAYERS, *ALIASES, "add", "subtract", "multiply", "average",
           "maximum", "minimum", "concatenate", "dot", "LAYERS", "ALIASES"]
