"""Training engines: how one step's gradients are computed.

``output_plan`` decides once per compile how outputs meet their losses; ``autograd`` uses
``torch.autograd``; ``analytic`` runs the lectures' hand-derived backward passes;
``gradient_check`` compares the two.
"""

from .analytic import AnalyticEngine, unsupported_reason
from .autograd import AutogradEngine
from .gradient_check import GradientCheckReport, check_gradients
from .output_plan import OutputPlan, OutputSpec

ENGINES = ("auto", "autograd", "analytic")


def make_engine(name, model, plan):
    """The engine for ``fit(engine=...)``: 'auto' takes the analytic one when it supports the model;
    returns ``(engine, reason the analytic engine was not used or None)``."""
    if name not in ENGINES:
        raise ValueError(f"Argument `engine` must be one of {', '.join(map(repr, ENGINES))}, got {name!r}.")
    reason = None
    if name != "autograd":
        reason = unsupported_reason(model, plan)
        if reason is None:
            return AnalyticEngine(model, plan), None
        if name == "analytic":
            raise ValueError(f"engine='analytic' cannot train this model: {reason}. Use engine='autograd'.")
    return AutogradEngine(model, plan), reason


__all__ = ["AnalyticEngine", "AutogradEngine", "GradientCheckReport", "OutputPlan", "OutputSpec", "ENGINES",
           "check_gradients", "make_engine", "unsupported_reason"]
