"""``Embedding`` (token ids -> vectors) and ``Masking`` (skip padded time steps): where masks start.

A mask is a boolean tensor ``(batch, time)``, True where a step holds data. Layers that make one
set ``_creates_masks`` and return it from ``compute_mask``; the models then pass each layer the mask
of its input (to ``call(..., mask=)`` when the layer takes one), so padded steps are skipped by the
recurrent layers and pooling after them, as in Keras.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .. import constraints, regularizers
from ._initializer_lookup import initializer_name, resolve_initializer
from .layer import Layer


def _positive_int(value, arg, owner) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{owner}: argument `{arg}` must be a positive integer, got {value!r}.")
    return int(value)


class Embedding(Layer):
    """Turns integer ids ``(batch, ...)`` into vectors ``(batch, ..., output_dim)`` by table lookup.

    The table ``embeddings`` is ``(input_dim, output_dim)``, Keras's layout. ``mask_zero=True`` makes
    id 0 padding: the layer outputs a mask (True where the id is not 0) that flows to later layers, and
    ``input_dim`` must then count the 0 (vocabulary size + 1). Float inputs are cast to integers (as
    Keras casts them); in a ``Sequential`` whose first layer is an Embedding the inputs stay integers.
    """

    input_dtype_hint = torch.int64  # what a model converts its inputs to when this layer reads them first

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 activity_regularizer=None, embeddings_constraint=None, mask_zero=False, input_length=None,
                 sparse=False, lora_rank=None, **kwargs):
        if input_length is not None and "input_shape" not in kwargs and "batch_input_shape" not in kwargs \
                and "input_dim" not in kwargs:
            # Keras 2: input_length declares the sequence length, i.e. the input shape of a first layer.
            if isinstance(input_length, (list, tuple)):
                kwargs["input_shape"] = tuple(input_length)
            else:
                kwargs["input_shape"] = (input_length,)
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.input_dim = _positive_int(input_dim, "input_dim", "Embedding")
        self.output_dim = _positive_int(output_dim, "output_dim", "Embedding")
        self.embeddings_initializer = resolve_initializer(embeddings_initializer, "embeddings_initializer",
                                                          "Embedding")
        self._embeddings_initializer_id = embeddings_initializer
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = constraints.get(embeddings_constraint)
        if not isinstance(mask_zero, (bool, np.bool_)):
            raise ValueError(f"Embedding: argument `mask_zero` must be True or False, got {mask_zero!r}.")
        self.mask_zero = bool(mask_zero)
        self._creates_masks = self.mask_zero
        self.supports_masking = self.mask_zero
        self.input_length = input_length
        if sparse:
            raise ValueError("Embedding: argument `sparse=True` (sparse gradients) is not supported by kerastyle; "
                             "leave it False.")
        if lora_rank is not None:
            raise ValueError("Embedding: argument `lora_rank` is not supported by kerastyle; leave it None.")
        self.embeddings = None

    def build(self, input_shape):
        self.embeddings = self.add_weight(name="embeddings", shape=(self.input_dim, self.output_dim),
                                          initializer=self.embeddings_initializer,
                                          regularizer=self.embeddings_regularizer,
                                          constraint=self.embeddings_constraint)
        self.built = True

    def call(self, inputs):
        if inputs.is_floating_point() or inputs.dtype == torch.bool:
            inputs = inputs.long()
        return F.embedding(inputs, self.embeddings)

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return inputs != 0

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape), self.output_dim)

    def get_config(self):
        config = {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                  "embeddings_initializer": initializer_name(self._embeddings_initializer_id),
                  "embeddings_regularizer": regularizers.serialize(self.embeddings_regularizer),
                  "embeddings_constraint": constraints.serialize(self.embeddings_constraint),
                  "mask_zero": self.mask_zero,
                  "activity_regularizer": regularizers.serialize(self.activity_regularizer)}
        if self.input_length is not None:
            config["input_length"] = self.input_length
            config.pop("batch_input_shape", None)  # input_length says it again on load
        return config


class Masking(Layer):
    """Marks time steps whose features all equal ``mask_value`` as padding: those steps are zeroed in
    the output, and the mask ``(batch, time)`` (True where any feature differs) flows to later layers."""

    _creates_masks = True

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(mask_value, bool) or not isinstance(mask_value, (int, float, np.number)):
            raise ValueError(f"Masking: argument `mask_value` must be a number, got {mask_value!r}.")
        self.mask_value = float(mask_value)
        self.supports_masking = True

    def _keep(self, inputs):
        return torch.any(inputs != self.mask_value, dim=-1)

    def call(self, inputs):
        keep = self._keep(inputs)
        return inputs * keep.unsqueeze(-1).to(inputs.dtype)

    def compute_mask(self, inputs, mask=None):
        return self._keep(inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}
