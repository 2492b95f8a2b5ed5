"""Trainers: the fit, evaluate and predict loops (``trainer``) and the data they consume (``data_adapters``)."""

from .trainer import NonFiniteLossError, evaluate, fit, predict

__all__ = ["NonFiniteLossError", "evaluate", "fit", "predict"]
