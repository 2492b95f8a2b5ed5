"""Models: ``Model`` (functional and subclassed), ``Sequential``, loading and cloning."""

from ..saving.serialization import register_model_class
from .cloning import clone_model
from .functional import Functional
from .model import Model, load_model, model_from_json
from .sequential import Sequential

register_model_class(Sequential)
register_model_class(Functional)

__all__ = ["Functional", "Model", "Sequential", "clone_model", "load_model", "model_from_json"]
