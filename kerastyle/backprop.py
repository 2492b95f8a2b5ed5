"""Placeholder until the analytic engine lands: reports that it is unavailable."""


def unsupported_reason(model, plan):
    return "the analytic engine is not available yet"
