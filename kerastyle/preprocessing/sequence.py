"""``keras.preprocessing.sequence``: the Keras 2 home of ``pad_sequences``."""

from kerastyle.utils.sequence_padding import pad_sequences

__all__ = ["pad_sequences"]
