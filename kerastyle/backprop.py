"""The lectures' hand-derived backpropagation, as a training engine and a gradient check.

``fit(engine='analytic')`` (the default ``'auto'`` picks it whenever the model supports it) trains
with ``AnalyticEngine``; ``check_gradients`` compares it with ``torch.autograd`` on one batch. The
backward passes live next to their forward maths: ``Dense`` in ``kerastyle.layers.core``,
activations in ``kerastyle.activations``; the engine is ``kerastyle.engines.analytic``.
"""

from .engines.analytic import AnalyticEngine, unsupported_reason
from .engines.gradient_check import GradientCheckReport, check_gradients

__all__ = ["AnalyticEngine", "GradientCheckReport", "check_gradients", "unsupported_reason"]
