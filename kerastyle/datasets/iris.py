"""Fisher's iris flowers (150 samples, 4 measurements, 3 species), via mlxtend."""

from __future__ import annotations

import numpy as np

from kerastyle.datasets._files import require_mlxtend

#: Label ``i`` names species ``CLASS_NAMES[i]`` (mlxtend's order).
CLASS_NAMES = ["setosa", "versicolor", "virginica"]

#: Column ``j`` of ``x`` holds ``FEATURE_NAMES[j]``.
FEATURE_NAMES = [
    "sepal length (cm)",
    "sepal width (cm)",
    "petal length (cm)",
    "petal width (cm)",
]


def load_data():
    """Load iris as ``(x, y)``: float64 ``(150, 4)`` in cm and int64 labels 0/1/2.

    Uses the values of Fisher's original paper (mlxtend's ``version='corrected'``,
    as in scikit-learn), which fix two rows that differ in the UCI copy. Rows
    are ordered by species, 50 each, so shuffle before splitting.
    """
    x, y = require_mlxtend().iris_data(version="corrected")
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.int64)
