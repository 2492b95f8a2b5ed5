"""kerastyle: the Keras API, trained by PyTorch.

``import kerastyle as keras`` and a Keras script runs with only its imports changed.
"""

from . import (
    activations,
    backend,
    backprop,
    callbacks,
    constraints,
    datasets,
    distributed,
    engines,
    initializers,
    layers,
    losses,
    metrics,
    mixed_precision,
    models,
    ops,
    optimizers,
    preprocessing,
    regularizers,
    saving,
    trainers,
    utils,
)
from .layers import Input
from .models import Model, Sequential
from .plotting import plot_history

__version__ = "0.2.0"

__all__ = ["activations", "backend", "backprop", "callbacks", "constraints", "datasets", "distributed", "engines",
           "initializers", "layers", "losses", "metrics", "mixed_precision", "models", "ops", "optimizers",
           "preprocessing", "regularizers", "saving", "trainers", "utils",
           "Input", "Model", "Sequential", "plot_history", "__version__"]
