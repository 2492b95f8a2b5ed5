"""Helpers Keras scripts import from ``keras.utils``.

One concept per module: :mod:`labels` (``to_categorical``, ``compute_class_weight``),
:mod:`seeding` (``set_random_seed``), :mod:`numerical` (``normalize``),
:mod:`sequence_padding` (``pad_sequences``), :mod:`file_download` (``get_file``),
:mod:`archives` (safe unpacking), :mod:`py_dataset` (``PyDataset``/``Sequence``), :mod:`plot_model`
(``plot_model``, ``model_to_dot``), and
``Progbar`` from :mod:`kerastyle.progbar`.
"""

from kerastyle.progbar import Progbar
from kerastyle.utils.file_download import get_file
from kerastyle.utils.labels import compute_class_weight, to_categorical
from kerastyle.utils.numerical import normalize
from kerastyle.utils.plot_model import model_to_dot, plot_model
from kerastyle.utils.py_dataset import PyDataset, Sequence
from kerastyle.utils.seeding import set_random_seed
from kerastyle.utils.sequence_padding import pad_sequences

__all__ = ["Progbar", "PyDataset", "Sequence", "compute_class_weight", "get_file", "model_to_dot", "normalize",
           "pad_sequences", "plot_model", "set_random_seed", "to_categorical"]
