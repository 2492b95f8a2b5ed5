"""Losses against Keras's reference values (keras-behaviour.md §3) and torch's own losses.

The fused path (softmax/sigmoid output absorbed into the loss during fit/evaluate)
is checked against the loss of the probabilities computed independently.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import kerastyle as keras
from kerastyle import losses
from kerastyle.layers import Dense
from kerastyle.models import Sequential

Y_TRUE = [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
Y_PRED = [[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]]
B_TRUE = [[0.0, 1.0], [0.0, 0.0]]
B_PRED = [[0.6, 0.4], [0.4, 0.6]]


def _t(values):
    return torch.tensor(values, dtype=torch.float32)


# -- Keras reference table ------------------------------------------------------------------
def test_cce_per_sample():
    values = losses.categorical_crossentropy(_t(Y_TRUE), _t(Y_PRED))
    np.testing.assert_allclose(values.numpy(), [0.0512933, 2.3025851], rtol=1e-6)


@pytest.mark.parametrize("loss, kwargs, expected", [
    (losses.CategoricalCrossentropy(), {}, 1.1769392),
    (losses.CategoricalCrossentropy(label_smoothing=0.1), {}, 1.4591359),
    (losses.CategoricalCrossentropy(from_logits=True), {}, 0.9868951),
    (losses.CategoricalCrossentropy(reduction="sum"), {}, 2.3538785),
    (losses.CategoricalCrossentropy(), {"sample_weight": [0.3, 0.7]}, 0.8135988),
    (losses.CategoricalCrossentropy(reduction="mean_with_sample_weight"), {"sample_weight": [0.3, 0.7]},
     1.6271976),
], ids=["default", "label_smoothing", "from_logits", "sum", "sample_weight", "mean_with_sample_weight"])
def test_cce_reference_values(loss, kwargs, expected):
    assert float(loss(Y_TRUE, Y_PRED, **kwargs)) == pytest.approx(expected, rel=1e-6)


def test_cce_reduction_none_is_per_sample():
    values = losses.CategoricalCrossentropy(reduction="none")(Y_TRUE, Y_PRED)
    np.testing.assert_allclose(values.numpy(), [0.0512933, 2.3025851], rtol=1e-6)


def test_cce_clipping():
    value = float(losses.CategoricalCrossentropy()([[1.0, 0.0]], [[0.0, 1.0]]))
    assert value == pytest.approx(16.118095, rel=1e-6)
    assert value == pytest.approx(-math.log(1e-7), rel=1e-6)


def test_cce_renormalises_predictions():
    # Keras divides by the row sum first: scaling a row changes nothing.
    a = float(losses.CategoricalCrossentropy()(Y_TRUE, Y_PRED))
    b = float(losses.CategoricalCrossentropy()(Y_TRUE, (2 * np.array(Y_PRED)).tolist()))
    assert a == pytest.approx(b, rel=1e-6)


def test_sparse_cce_reference_value():
    assert float(losses.SparseCategoricalCrossentropy()([1, 2], Y_PRED)) == pytest.approx(1.1769392, rel=1e-6)
    assert float(losses.SparseCategoricalCrossentropy()([[1], [2]], Y_PRED)) == pytest.approx(1.1769392, rel=1e-6)


def test_bce_reference_values():
    per_sample = losses.binary_crossentropy(_t(B_TRUE), _t(B_PRED))
    np.testing.assert_allclose(per_sample.numpy(), [0.9162908, 0.7135582], rtol=1e-6)
    assert float(losses.BinaryCrossentropy()(B_TRUE, B_PRED)) == pytest.approx(0.8149245, rel=1e-6)
    logits = [[-18.6, 0.51], [2.94, -12.8]]
    assert float(losses.BinaryCrossentropy(from_logits=True)(B_TRUE, logits)) == pytest.approx(0.8654580, rel=1e-6)
    assert float(losses.BinaryCrossentropy()([[1.0]], [[0.0]])) == pytest.approx(16.118095, rel=1e-6)


def test_mse_reference_values():
    per_sample = losses.mean_squared_error(_t([[0, 1], [0, 0]]), _t([[1, 1], [1, 0]]))
    np.testing.assert_allclose(per_sample.numpy(), [0.5, 0.5])
    assert float(losses.MeanSquaredError()([[0, 1], [0, 0]], [[1, 1], [1, 0]])) == pytest.approx(0.5)


@pytest.mark.parametrize("name, cls", [
    ("mse", losses.MeanSquaredError), ("mean_squared_error", losses.MeanSquaredError),
    ("MSE", losses.MeanSquaredError), ("mae", losses.MeanAbsoluteError),
    ("mean_absolute_error", losses.MeanAbsoluteError), ("binary_crossentropy", losses.BinaryCrossentropy),
    ("categorical_crossentropy", losses.CategoricalCrossentropy),
    ("sparse_categorical_crossentropy", losses.SparseCategoricalCrossentropy),
])
def test_string_names(name, cls):
    assert isinstance(losses.get(name), cls)


# -- against torch's own losses ---------------------------------------------------------
def _random_problem(n=50, k=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, k, generator=g) * 3
    labels = torch.randint(0, k, (n,), generator=g)
    return logits, labels


def test_cce_vs_torch_cross_entropy():
    logits, labels = _random_problem()
    onehot = F.one_hot(labels, 5).float()
    probs = torch.softmax(logits, dim=1)
    expected = F.cross_entropy(logits, labels)
    torch.testing.assert_close(losses.CategoricalCrossentropy(from_logits=True)(onehot, logits), expected)
    torch.testing.assert_close(losses.CategoricalCrossentropy()(onehot, probs), expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits), expected)
    torch.testing.assert_close(losses.SparseCategoricalCrossentropy()(labels, probs), expected,
                               rtol=1e-5, atol=1e-6)
    # label smoothing: torch smooths the same way (y*(1-ls) + ls/K)
    torch.testing.assert_close(losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2)(onehot, logits),
                               F.cross_entropy(logits, labels, label_smoothing=0.2))


def test_cce_sample_weight_vs_torch():
    logits, labels = _random_problem()
    w = torch.rand(50, generator=torch.Generator().manual_seed(3))
    per_sample = F.cross_entropy(logits, labels, reduction="none")
    got = losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits, sample_weight=w)
    torch.testing.assert_close(got, (w * per_sample).sum() / 50)  # Σw·l / N, not / Σw


def test_bce_vs_torch():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(40, 3, generator=g) * 2
    target = torch.randint(0, 2, (40, 3), generator=g).float()
    expected = F.binary_cross_entropy_with_logits(logits, target)
    torch.testing.assert_close(losses.BinaryCrossentropy(from_logits=True)(target, logits), expected)
    torch.testing.assert_close(losses.BinaryCrossentropy()(target, torch.sigmoid(logits)),
                               F.binary_cross_entropy(torch.sigmoid(logits), target), rtol=1e-5, atol=1e-6)


def test_regression_losses_vs_torch():
    g = torch.Generator().manual_seed(2)
    a, b = torch.randn(30, 4, generator=g), torch.randn(30, 4, generator=g)
    torch.testing.assert_close(losses.MeanSquaredError()(a, b), F.mse_loss(b, a))
    torch.testing.assert_close(losses.MeanAbsoluteError()(a, b), F.l1_loss(b, a))
    # (n,) targets against an (n, 1) output
    torch.testing.assert_close(losses.MeanSquaredError()(a[:, 0], b[:, :1]), F.mse_loss(b[:, 0], a[:, 0]))


def test_custom_loss_function():
    def half_squared(y_true, y_pred):
        return 0.5 * (y_true - y_pred).square().sum(dim=-1)

    loss = losses.get(half_squared)
    assert float(loss([[1.0, 2.0]], [[0.0, 0.0]])) == pytest.approx(2.5)


def test_bad_reduction():
    with pytest.raises(ValueError, match=r"`reduction`.*'avg'"):
        losses.CategoricalCrossentropy(reduction="avg")


# -- fused path: model ending in softmax / sigmoid --------------------------------------
def _fixed_model(out_units, activation, seed=0):
    keras.utils.set_random_seed(seed)
    model = Sequential([Dense(6, activation="tanh", input_shape=(4,)), Dense(out_units, activation=activation)])
    return model


def test_fused_softmax_matches_probability_loss():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(37, 4)).astype(np.float32)
    labels = rng.integers(0, 3, size=37)
    onehot = np.eye(3, dtype=np.float32)[labels]

    model = _fixed_model(3, "softmax")
    probs = torch.tensor(model.predict(x, verbose=0))
    np.testing.assert_allclose(probs.sum(dim=1).numpy(), 1.0, rtol=1e-6)
    expected = float(F.nll_loss(probs.log(), torch.tensor(labels)))  # clipping inactive here

    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    assert model.evaluate(x, onehot, verbose=0, batch_size=8) == pytest.approx(expected, rel=1e-5)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    assert model.evaluate(x, labels, verbose=0, batch_size=8) == pytest.approx(expected, rel=1e-5)
    # loss object with from_logits=False applied to predict() output gives the same too
    assert float(losses.CategoricalCrossentropy()(onehot, probs)) == pytest.approx(expected, rel=1e-5)


def test_fused_sigmoid_matches_probability_loss():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(29, 4)).astype(np.float32)
    y = rng.integers(0, 2, size=(29, 1)).astype(np.float32)
    model = _fixed_model(1, "sigmoid")
    p = torch.tensor(model.predict(x, verbose=0))
    expected = float(F.binary_cross_entropy(p, torch.tensor(y)))
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"])
    loss, acc = model.evaluate(x, y, verbose=0)
    assert loss == pytest.approx(expected, rel=1e-5)
    assert acc == pytest.approx(float(((p.numpy() > 0.5) == (y > 0.5)).mean()))


@pytest.mark.parametrize("engine", ["auto", "autograd"])
def test_fused_training_gradient_equals_probability_path_gradient(engine):
    """One SGD step through fit equals one step of plain torch on softmax -> Keras CCE."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(16, 4)).astype(np.float32)
    onehot = np.eye(3, dtype=np.float32)[rng.integers(0, 3, size=16)]
    model = _fixed_model(3, "softmax")
    start = model.get_weights()

    # independent: autograd through the probabilities with the Keras formula -Σ y log p
    params = [torch.tensor(w, requires_grad=True) for w in start]
    h = torch.tanh(torch.tensor(x) @ params[0] + params[1])
    p = torch.softmax(h @ params[2] + params[3], dim=1)
    loss = -(torch.tensor(onehot) * p.log()).sum(dim=1).mean()
    loss.backward()
    expected = [w - 0.1 * prm.grad.numpy() for w, prm in zip(start, params)]

    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="categorical_crossentropy")
    history = model.fit(x, onehot, batch_size=16, epochs=1, shuffle=False, verbose=0, engine=engine)
    assert history.history["loss"][0] == pytest.approx(loss.item(), rel=1e-5)
    for got, want in zip(model.get_weights(), expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_saturated_softmax_stays_finite_in_fit():
    """Numerically stable: huge logits do not produce inf/NaN loss or gradients during fit."""
    model = Sequential([Dense(2, activation="softmax", input_shape=(1,))])
    model.set_weights([np.array([[200.0, -200.0]], dtype=np.float32), np.zeros(2, dtype=np.float32)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1e-4), loss="categorical_crossentropy")
    history = model.fit(np.ones((4, 1)), np.array([[0, 1]] * 4, dtype=np.float32), epochs=2, verbose=0)
    assert all(math.isfinite(v) and v > 16 for v in history.history["loss"])
    assert all(np.isfinite(w).all() for w in model.get_weights())


# -- the lectures' worked numbers -------------------------------------------------------
def test_lecture_003_cross_entropy_table():
    # logits [3, 15, 7, 3], true class 1: p = [6.14207644e-06, 9.99652370e-01, 3.35346011e-04, 6.14e-06].
    # The slide's log column is base 2 (log2(6.14e-06) = -17.3128421), giving 5.01611506e-04 bits;
    # Keras uses the natural log, so the loss is that times ln 2.
    logits, target = _t([[3.0, 15.0, 7.0, 3.0]]), _t([[0.0, 1.0, 0.0, 0.0]])
    np.testing.assert_allclose(torch.softmax(logits, 1).numpy()[0],
                               [6.14207644e-06, 9.99652370e-01, 3.35346011e-04, 6.14207644e-06], rtol=1e-5)
    assert math.log2(6.14207644e-06) == pytest.approx(-1.73128421e01, rel=1e-8)
    expected = 5.01611506e-04 * math.log(2)
    assert float(losses.CategoricalCrossentropy(from_logits=True)(target, logits)) == pytest.approx(expected, rel=1e-3)
    assert float(losses.SparseCategoricalCrossentropy(from_logits=True)([1], logits)) == pytest.approx(expected,
                                                                                                       rel=1e-3)


def test_lecture_002_softmax_loss():
    # softmax [0.13, 0.33, 0.89] -> [0.23, 0.28, 0.49]; true class 1: -log(0.28) = 1.2729 (rounded p)
    p = torch.softmax(_t([[0.13, 0.33, 0.89]]), 1)
    value = float(losses.CategoricalCrossentropy()([[0.0, 1.0, 0.0]], p))
    assert value == pytest.approx(1.2729, abs=0.005)
    assert value == pytest.approx(-math.log(float(p[0, 1])), rel=1e-6)
