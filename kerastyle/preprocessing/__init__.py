"""Keras 2 preprocessing helpers: ``sequence``, ``text`` and ``image``."""

from kerastyle.preprocessing import image, sequence, text

__all__ = ["image", "sequence", "text"]
