"""``clone_model``: the same architecture with new weights (drawn from the initializers again)."""

from __future__ import annotations

from ..saving import serialization


def clone_model(model, input_tensors=None, clone_function=None):
    """A new model with ``model``'s architecture and freshly initialized weights, as Keras's ``clone_model``.
    Layers get the same names; the new model is not compiled."""
    if input_tensors is not None or clone_function is not None:
        raise ValueError("clone_model(): `input_tensors` and `clone_function` are not supported by kerastyle.")
    doc = serialization.serialize(model, "layer")
    clone = serialization.deserialize(doc, "layer")
    if not clone.built and model.built and getattr(model, "input_shape", None) is not None:
        clone.build(model.input_shape)
    return clone
