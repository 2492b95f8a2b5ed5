"""kerastyle.ops against keras.ops (oracle) on the same inputs; unknown names name torch."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest
import torch

from kerastyle import ops

X = np.random.default_rng(0).uniform(0.1, 2.0, size=(3, 4)).astype(np.float32)
Y = np.random.default_rng(1).uniform(0.1, 2.0, size=(3, 4)).astype(np.float32)

CALLS = [
    ("mean", (X,), {"axis": 1, "keepdims": True}), ("mean", (X,), {}), ("sum", (X,), {"axis": 0}),
    ("max", (X,), {"axis": -1}), ("min", (X,), {"axis": [0, 1]}), ("square", (X,), {}), ("sqrt", (X,), {}),
    ("abs", (-X,), {}), ("log", (X,), {}), ("exp", (X,), {}), ("clip", (X, 0.5, 1.5), {}),
    ("maximum", (X, Y), {}), ("minimum", (X, Y), {}), ("power", (X, 2.5), {}),
    ("where", (X > 1, X, Y), {}), ("cast", (X, "int32"), {}), ("equal", (X, X), {}),
    ("argmax", (X,), {"axis": 1}), ("argmax", (X,), {}), ("one_hot", (np.array([0, 2, 1]), 3), {}),
    ("softmax", (X,), {"axis": -1}), ("sigmoid", (X,), {}), ("reshape", (X, (4, 3)), {}),
    ("expand_dims", (X, 1), {}), ("squeeze", (X[:1],), {"axis": 0}), ("concatenate", ([X, Y],), {"axis": 1}),
    ("stack", ([X, Y],), {"axis": 0}), ("matmul", (X, Y.T), {}), ("std", (X,), {"axis": 0}),
    ("var", (X,), {}), ("log1p", (X,), {}), ("divide", (X, Y), {}), ("transpose", (X,), {}),
    ("logsumexp", (X,), {"axis": 1}), ("top_k", (X, 2), {}), ("cumsum", (X,), {"axis": 1}),
]


@pytest.mark.parametrize(("name", "args", "kwargs"), CALLS, ids=[f"{c[0]}-{i}" for i, c in enumerate(CALLS)])
def test_ops_match_keras(name, args, kwargs):
    keras = pytest.importorskip("keras")
    expected = getattr(keras.ops, name)(*args, **kwargs)
    got = getattr(ops, name)(*args, **kwargs)
    if isinstance(expected, (tuple, list)):
        for e, g in zip(expected, got):
            np.testing.assert_allclose(ops.convert_to_numpy(g), keras.ops.convert_to_numpy(e), rtol=1e-6)
        return
    assert torch.is_tensor(got)
    np.testing.assert_allclose(ops.convert_to_numpy(got), keras.ops.convert_to_numpy(expected), rtol=1e-6)


def test_gradients_flow_and_conversion():
    x = torch.tensor(X, requires_grad=True)
    ops.mean(ops.square(x)).backward()
    torch.testing.assert_close(x.grad, torch.tensor(2 * X / X.size))
    assert ops.convert_to_tensor([1.0, 2.0]).dtype == torch.float32
    assert isinstance(ops.convert_to_numpy(torch.ones(2)), np.ndarray)


def test_unknown_name_points_to_torch():
    with pytest.raises(AttributeError, match=r"kerastyle.ops has no 'einsum'.*torch.einsum"):
        ops.einsum  # noqa: B018
    with pytest.raises(AttributeError, match=r"has no 'not_a_function'"):
        ops.not_a_function  # noqa: B018
