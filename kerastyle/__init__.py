"""kerastyle: the Keras Sequential API, trained by PyTorch.

``import kerastyle as keras`` and a Keras 2 lecture script runs with only its
imports changed.
"""

from . import (
           activations,
           backend,
           callbacks,
           datasets,
           initializers,
           layers,
           losses,
           metrics,
           models,
           optimizers,
           preprocessing,
           utils,
)
from .layers import Input
from .models import Model, Sequential
from .plotting import plot_history

__version__ = "0.1.0"

__all__ = ["activations", "backend", "callbacks", "datasets", "initializers", "layers", "losses", "metrics", "models",
           "optimizers", "preprocessing", "utils", "Input", "Model", "Sequential", "plot_history", "__version__"]
