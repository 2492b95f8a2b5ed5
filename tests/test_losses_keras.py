"""The new losses and the function forms against real Keras 3 (oracle), numpy formulas and autograd;
custom-loss mistakes give the messages issue 13 asks for."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest
import torch

import kerastyle as ks
from kerastyle import losses

RNG = np.random.default_rng(7)
Y_REG = RNG.normal(size=(6, 4)).astype(np.float32)
P_REG = RNG.normal(size=(6, 4)).astype(np.float32)
Y_POS = RNG.uniform(0.0, 3.0, size=(6, 4)).astype(np.float32)
P_POS = RNG.uniform(0.05, 3.0, size=(6, 4)).astype(np.float32)
Y_PROB = RNG.dirichlet(np.ones(4), size=6).astype(np.float32)
P_PROB = RNG.dirichlet(np.ones(4), size=6).astype(np.float32)
Y_BIN = RNG.integers(0, 2, size=(6, 4)).astype(np.float32)
Y_ONEHOT = np.eye(4, dtype=np.float32)[RNG.integers(0, 4, size=6)]
WEIGHTS = RNG.uniform(0.0, 2.0, size=6).astype(np.float32)

# (kerastyle class name, keras class name, kwargs, y_true, y_pred)
CASES = [
    ("MeanSquaredError", "MeanSquaredError", {}, Y_REG, P_REG),
    ("MeanAbsoluteError", "MeanAbsoluteError", {}, Y_REG, P_REG),
    ("MeanAbsolutePercentageError", "MeanAbsolutePercentageError", {}, Y_REG, P_REG),
    ("MeanSquaredLogarithmicError", "MeanSquaredLogarithmicError", {}, Y_POS, P_POS),
    ("Huber", "Huber", {}, Y_REG, P_REG),
    ("Huber", "Huber", {"delta": 0.3}, Y_REG, P_REG),
    ("LogCosh", "LogCosh", {}, Y_REG, P_REG),
    ("KLDivergence", "KLDivergence", {}, Y_PROB, P_PROB),
    ("Poisson", "Poisson", {}, Y_POS, P_POS),
    ("CosineSimilarity", "CosineSimilarity", {}, Y_REG, P_REG),
    ("Hinge", "Hinge", {}, Y_BIN, P_REG),
    ("SquaredHinge", "SquaredHinge", {}, Y_BIN, P_REG),
    ("Hinge", "Hinge", {}, 2 * Y_BIN - 1, P_REG),
    ("CategoricalHinge", "CategoricalHinge", {}, Y_ONEHOT, P_PROB),
    ("BinaryCrossentropy", "BinaryCrossentropy", {}, Y_BIN, P_PROB),
    ("CategoricalCrossentropy", "CategoricalCrossentropy", {"label_smoothing": 0.1}, Y_ONEHOT, P_PROB),
]
IDS = [f"{c[0]}-{i}" for i, c in enumerate(CASES)]


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


@pytest.mark.parametrize(("ours", "theirs", "kwargs", "y", "p"), CASES, ids=IDS)
def test_losses_match_keras(keras, ours, theirs, kwargs, y, p):
    for reduction in ("sum_over_batch_size", "sum", "none"):
        mine = getattr(losses, ours)(reduction=reduction, **kwargs)
        ref = getattr(keras.losses, theirs)(reduction=reduction, **kwargs)
        assert mine.name == ref.name
        for weights in (None, WEIGHTS):
            expected = np.asarray(ref(y, p, sample_weight=weights))
            got = mine(y, p, sample_weight=weights).numpy()
            np.testing.assert_allclose(got, expected, rtol=2e-5, atol=1e-6)


FUNCTIONS = ["mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
             "mean_squared_logarithmic_error", "huber", "log_cosh", "kl_divergence", "poisson", "hinge",
             "squared_hinge", "categorical_hinge", "binary_crossentropy", "categorical_crossentropy",
             "cosine_similarity"]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_forms_match_keras_for_arrays_lists_and_tensors(keras, name):
    y, p = (Y_POS, P_POS) if name in ("mean_squared_logarithmic_error", "poisson") else \
        (Y_PROB, P_PROB) if name in ("kl_divergence", "binary_crossentropy", "categorical_crossentropy",
                                     "categorical_hinge") else (Y_REG, P_REG)
    expected = np.asarray(getattr(keras.losses, name)(y, p))
    for form in (lambda a: a, lambda a: a.tolist(), torch.from_numpy):
        got = getattr(losses, name)(form(y), form(p))
        assert torch.is_tensor(got) and got.shape == (6,)
        np.testing.assert_allclose(got.numpy(), expected, rtol=2e-5, atol=1e-6)


def test_sparse_function_takes_integer_labels(keras):
    labels = RNG.integers(0, 4, size=6)
    expected = np.asarray(keras.losses.sparse_categorical_crossentropy(labels, P_PROB))
    np.testing.assert_allclose(losses.sparse_categorical_crossentropy(labels, P_PROB).numpy(), expected, rtol=1e-5)
    np.testing.assert_allclose(losses.sparse_categorical_crossentropy(labels.tolist(), P_PROB.tolist()).numpy(),
                               expected, rtol=1e-5)


def test_keras2_short_names():
    assert losses.mse is losses.mean_squared_error and losses.MSE is losses.mean_squared_error
    assert losses.kld is losses.kl_divergence and losses.logcosh is losses.log_cosh
    for name, cls in [("mape", losses.MeanAbsolutePercentageError), ("msle", losses.MeanSquaredLogarithmicError),
                      ("kld", losses.KLDivergence), ("huber", losses.Huber), ("huber_loss", losses.Huber),
                      ("logcosh", losses.LogCosh), ("log_cosh", losses.LogCosh), ("poisson", losses.Poisson),
                      ("cosine_similarity", losses.CosineSimilarity), ("hinge", losses.Hinge),
                      ("squared_hinge", losses.SquaredHinge), ("categorical_hinge", losses.CategoricalHinge)]:
        assert isinstance(losses.get(name), cls)
    # a kerastyle function given to compile keeps its class (target checks, analytic gradient)
    assert isinstance(losses.get(losses.mean_squared_error), losses.MeanSquaredError)


def test_numpy_reference_formulas():
    err = P_REG - Y_REG
    huber = np.where(np.abs(err) <= 1.0, 0.5 * err ** 2, np.abs(err) - 0.5).mean(-1)
    np.testing.assert_allclose(losses.huber(Y_REG, P_REG).numpy(), huber, rtol=1e-5)
    np.testing.assert_allclose(losses.log_cosh(Y_REG, P_REG).numpy(), np.log(np.cosh(err)).mean(-1), rtol=1e-5)
    hinge = np.maximum(1 - (2 * Y_BIN - 1) * P_REG, 0).mean(-1)
    np.testing.assert_allclose(losses.hinge(Y_BIN, P_REG).numpy(), hinge, rtol=1e-5)
    cos = (Y_REG * P_REG).sum(-1) / np.linalg.norm(Y_REG, axis=-1) / np.linalg.norm(P_REG, axis=-1)
    np.testing.assert_allclose(losses.cosine_similarity(Y_REG, P_REG).numpy(), -cos, rtol=1e-5)


ANALYTIC = [("MeanAbsolutePercentageError", Y_REG, P_REG), ("MeanSquaredLogarithmicError", Y_POS, P_POS),
            ("Huber", Y_REG, P_REG), ("LogCosh", Y_REG, P_REG), ("KLDivergence", Y_PROB, P_PROB),
            ("Poisson", Y_POS, P_POS), ("Hinge", Y_BIN, P_REG), ("SquaredHinge", Y_BIN, P_REG)]


@pytest.mark.parametrize(("name", "y", "p"), ANALYTIC, ids=[a[0] for a in ANALYTIC])
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "mean_with_sample_weight"])
def test_analytic_gradients_match_autograd(name, y, p, reduction):
    loss = getattr(losses, name)(reduction=reduction)
    y, weights = torch.from_numpy(y), torch.from_numpy(WEIGHTS)
    leaf = torch.from_numpy(p).clone().requires_grad_(True)
    expected = loss.reduce(loss.per_sample(y, leaf), weights)
    expected.backward()
    value, grad = loss.gradient(y, torch.from_numpy(p).clone(), sample_weight=weights)
    torch.testing.assert_close(value, expected.detach())
    torch.testing.assert_close(grad, leaf.grad, rtol=1e-5, atol=1e-6)


def test_new_losses_train_with_fit_on_both_engines():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32)
    y2 = np.hstack([y, x[:, :1]])
    for name, engine in [("huber", "analytic"), ("log_cosh", "analytic"), ("cosine_similarity", "autograd")]:
        model = ks.Sequential([ks.layers.Dense(2, input_shape=(3,))])
        model.compile(optimizer=ks.optimizers.SGD(0.1), loss=name)
        history = model.fit(x, y2, epochs=3, verbose=0, engine=engine)
        assert history.params["engine"] == engine
        assert history.history["loss"][-1] < history.history["loss"][0]


def test_unknown_kwargs_refused_with_valid_list():
    with pytest.raises(TypeError, match=r"'delt'.*Valid arguments: delta, reduction, name"):
        losses.Huber(delt=2.0)
    with pytest.raises(TypeError, match="'alpha'"):
        losses.MeanSquaredError(alpha=1)
    assert losses.Huber(delta=np.float32(0.5)).delta == 0.5  # numpy scalars are numbers
    with pytest.raises(ValueError, match="`delta`"):
        losses.Huber(delta=True)


# -- custom losses (issue 13) ----------------------------------------------------------------
def _model(units=3, activation="softmax"):
    ks.utils.set_random_seed(0)
    return ks.Sequential([ks.layers.Dense(units, activation=activation, input_shape=(4,))])


X = np.random.default_rng(1).normal(size=(20, 4)).astype(np.float32)
LABELS = np.random.default_rng(2).integers(0, 3, size=20)


def test_custom_loss_receives_integer_labels_as_given():
    seen = {}

    def sparse_loss(y_true, y_pred):
        seen["shape"] = tuple(y_true.shape)
        return torch.nn.functional.nll_loss(torch.log(y_pred), y_true.long(), reduction="none")

    model = _model()
    model.compile(optimizer="sgd", loss=sparse_loss, metrics=["accuracy"])
    model.fit(X, LABELS, epochs=1, batch_size=20, verbose=0)
    assert seen["shape"] == (20,)
    reference = _model()
    reference.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    got, want = model.evaluate(X, LABELS, verbose=0), reference.evaluate(X, LABELS, verbose=0)
    assert got[1] == pytest.approx(want[1])  # 'accuracy' resolved from the shapes: sparse


def test_custom_loss_with_ops_and_K_matches_builtin():
    from kerastyle import backend as K
    from kerastyle import ops

    def k_mse(y_true, y_pred):
        return K.mean(K.square(y_pred - y_true), axis=-1)

    def ops_mse(y_true, y_pred):
        return ops.mean(ops.square(ops.subtract(y_pred, y_true)), axis=-1)

    y = np.random.default_rng(3).normal(size=(20, 3)).astype(np.float32)
    values = []
    for loss in (k_mse, ops_mse, "mse"):
        model = _model(activation=None)
        model.compile(optimizer=ks.optimizers.SGD(0.05), loss=loss)
        model.fit(X, y, epochs=2, batch_size=5, verbose=0, shuffle=False)
        values.append(model.evaluate(X, y, verbose=0))
    assert values[0] == pytest.approx(values[2], rel=1e-5) and values[1] == pytest.approx(values[2], rel=1e-5)


@pytest.mark.parametrize(("fn", "error", "message"), [
    (lambda y_true, y_pred: 0.5, TypeError, r"returned a Python float.*def loss\(y_true, y_pred\)"),
    (lambda y_true, y_pred: np.mean(np.square(y_true - y_pred), axis=-1), TypeError, "numpy"),
    (lambda y_true, y_pred: torch.ones(3), ValueError, r"shape \(3,\) for a batch of 20"),
    (lambda y_true, y_pred: (y_true == y_pred).all(dim=-1), TypeError, "dtype torch.bool"),
])
def test_custom_loss_mistakes_are_explained(fn, error, message):
    model = _model(activation=None)
    model.compile(optimizer="sgd", loss=fn)
    with pytest.raises(error, match=message):
        model.fit(X, np.zeros((20, 3), np.float32), epochs=1, batch_size=20, verbose=0)


def test_custom_loss_wrong_arity_fails_at_compile():
    model = _model(activation=None)
    with pytest.raises(TypeError, match=r"cannot be called as fn\(y_true, y_pred\)"):
        model.compile(optimizer="sgd", loss=lambda y_pred: y_pred.sum())
    with pytest.raises(TypeError, match=r"cannot be called as fn\(y_true, y_pred\)"):
        model.compile(optimizer="sgd", loss=lambda a, b, c: a)


def test_custom_loss_scalar_or_misaligned_values_with_sample_weight():
    model = _model(activation=None)
    model.compile(optimizer="sgd", loss=lambda y_true, y_pred: ((y_true - y_pred) ** 2).mean())
    y = np.zeros((20, 3), np.float32)
    model.fit(X, y, epochs=1, verbose=0)  # a scalar loss is fine without weights (Keras accepts it)
    with pytest.raises(ValueError, match=r"returned a single value, but `sample_weight` weighs 20"):
        model.fit(X, y, epochs=1, batch_size=20, verbose=0, sample_weight=np.ones(20))


def test_custom_per_element_loss_as_keras(keras):
    """Per-element values: averaged over all elements without weights (as Keras); with
    sample_weight Keras fails with a broadcasting error, kerastyle says what to return."""
    from keras.src.losses.losses import LossFunctionWrapper

    def per_element(y_true, y_pred):
        return (y_true - y_pred) ** 2

    expected = float(LossFunctionWrapper(per_element)(Y_REG, P_REG))
    assert float(losses.LossFunctionWrapper(per_element)(Y_REG, P_REG)) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match=r"per-element values of shape \(6, 4\).*one value per sample"):
        losses.LossFunctionWrapper(per_element)(Y_REG, P_REG, sample_weight=WEIGHTS)
