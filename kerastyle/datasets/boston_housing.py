"""Boston housing prices (506 suburbs, 13 features), split like ``keras.datasets.boston_housing``.

The data comes from mlxtend (no download). Note the dataset's known ethical
problems (its ``B`` feature encodes race); it is kept for comparability with
Keras examples.
"""

from __future__ import annotations

import numpy as np

from kerastyle.datasets._files import require_mlxtend


def load_data(test_split=0.2, seed=113):
    """Load ``(x_train, y_train), (x_test, y_test)`` exactly as Keras splits it.

    The rows are shuffled with ``np.random.RandomState(seed)`` and the first
    ``int(506 * (1 - test_split))`` go to training (404/102 by default). ``x``
    is float64 ``(n, 13)``; ``y`` is the median home value in $1000s, float64 ``(n,)``.
    """
    if not 0 <= test_split < 1:
        raise ValueError(f"test_split must be in [0, 1), got {test_split}")
    x, y = require_mlxtend().boston_housing_data()
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    order = np.random.RandomState(seed).permutation(len(x))
    x, y = x[order], y[order]
    n_train = int(len(x) * (1 - test_split))
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])
