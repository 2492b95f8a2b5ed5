"""Focal and balanced cross-entropy (issue 3), class weights and ``fit(class_weight=...)``.

Truth comes from outside kerastyle: the Keras 3 reference values in
shared/reference/keras-behaviour.md §3, the worked numbers of lectures 001 and 003,
hand counts, and torch.autograd on independent float64 formulas.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import kerastyle as keras
from kerastyle import losses
from kerastyle.utils import compute_class_weight

EPS = 1e-7

# Keras reference inputs (keras-behaviour.md §3)
Y_CAT = [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
P_CAT = [[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]]
Y_BIN = [[0.0, 1.0], [0.0, 0.0]]
P_BIN = [[0.6, 0.4], [0.4, 0.6]]


def close(actual, expected, rel=1e-6, abs=1e-7):
    actual = np.asarray(torch.as_tensor(actual).detach().cpu(), dtype=np.float64)
    np.testing.assert_allclose(actual, np.asarray(expected, dtype=np.float64), rtol=rel, atol=abs)


# -- Keras 3 reference values -----------------------------------------------------------
def test_categorical_focal_matches_keras_reference_values():
    per_sample = losses.CategoricalFocalCrossentropy(reduction="none")(Y_CAT, P_CAT)
    close(per_sample, [3.21e-05, 0.4662734], rel=2e-3)  # 3.21e-05 is printed to 3 digits
    close(per_sample[1], 0.4662734)
    close(per_sample[0], 0.25 * 0.05**2 * -math.log(0.95))  # the table's own derivation
    close(losses.CategoricalFocalCrossentropy()(Y_CAT, P_CAT), 0.2331528)
    close(losses.get("categorical_focal_crossentropy")(Y_CAT, P_CAT), 0.2331528)
    close(losses.CategoricalFocalCrossentropy(alpha=1, gamma=0)(Y_CAT, P_CAT), 1.1769392)
    close(losses.categorical_focal_crossentropy(torch.tensor(Y_CAT), torch.tensor(P_CAT)), per_sample)


def test_sparse_categorical_focal_equals_categorical_on_integer_labels():
    per_sample = losses.SparseCategoricalFocalCrossentropy(reduction="none")([1, 2], P_CAT)
    close(per_sample[1], 0.4662734)
    close(per_sample[0], 0.25 * 0.05**2 * -math.log(0.95))
    close(losses.get("sparse_categorical_focal_crossentropy")([[1], [2]], P_CAT), 0.2331528)
    close(losses.SparseCategoricalFocalCrossentropy(alpha=1, gamma=0)([1, 2], P_CAT), 1.1769392)


def test_binary_focal_matches_keras_reference_values():
    close(losses.BinaryFocalCrossentropy(reduction="none")(Y_BIN, P_BIN), [0.3298647, 0.2057984])
    close(losses.BinaryFocalCrossentropy()(Y_BIN, P_BIN), 0.2678315)
    close(losses.get("binary_focal_crossentropy")(Y_BIN, P_BIN), 0.2678315)
    close(losses.BinaryFocalCrossentropy(apply_class_balancing=True)(Y_BIN, P_BIN), 0.1596406)
    # with the defaults alpha is unused, as in Keras
    close(losses.BinaryFocalCrossentropy(alpha=0.9)(Y_BIN, P_BIN), 0.2678315)
    close(losses.binary_focal_crossentropy(torch.tensor(Y_BIN), torch.tensor(P_BIN), True), [0.1649324, 0.1543488])


def test_keras_defaults_and_names():
    cat = losses.CategoricalFocalCrossentropy()
    assert (cat.alpha, cat.gamma, cat.from_logits, cat.label_smoothing, cat.reduction, cat.name) == (
        0.25, 2.0, False, 0.0, "sum_over_batch_size", "categorical_focal_crossentropy")
    binary = losses.BinaryFocalCrossentropy()
    assert (binary.apply_class_balancing, binary.alpha, binary.gamma, binary.name) == (
        False, 0.25, 2.0, "binary_focal_crossentropy")
    for name, cls in [("categorical_balanced_crossentropy", losses.CategoricalBalancedCrossentropy),
                      ("sparse_categorical_balanced_crossentropy", losses.SparseCategoricalBalancedCrossentropy),
                      ("binary_balanced_crossentropy", losses.BinaryBalancedCrossentropy)]:
        assert isinstance(losses.get(name), cls) and losses.get(name).name == name
        assert losses.get(name).alpha == "balanced" and losses.get(name).gamma == 0.0
    for cls in [losses.CategoricalFocalCrossentropy, losses.SparseCategoricalFocalCrossentropy,
                losses.BinaryFocalCrossentropy, losses.BinaryBalancedCrossentropy]:
        assert losses.get(cls.__name__).__class__ is cls


def test_get_config_round_trips():
    for loss in [losses.CategoricalFocalCrossentropy(alpha=[0.5, 1.0, 2.0], gamma=1.5, label_smoothing=0.1),
                 losses.SparseCategoricalFocalCrossentropy(alpha={0: 2.0}, from_logits=True),
                 losses.BinaryFocalCrossentropy(True, alpha=0.75, gamma=3.0, reduction="sum"),
                 losses.CategoricalBalancedCrossentropy(), losses.SparseCategoricalBalancedCrossentropy([1.0, 3.0]),
                 losses.BinaryBalancedCrossentropy({0: 1.0, 1: 4.0})]:
        clone = type(loss).from_config(loss.get_config())
        assert clone.get_config() == loss.get_config()
    assert losses.BinaryFocalCrossentropy(True, alpha=0.75).get_config()["apply_class_balancing"] is True


# -- the lecture's claims and worked numbers ---------------------------------------------------
def test_gamma_zero_is_plain_crossentropy():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(5), size=8).astype(np.float32)
    labels = rng.integers(0, 5, size=8)
    onehot = np.eye(5, dtype=np.float32)[labels]
    plain = losses.CategoricalCrossentropy(reduction="none")(onehot, probs)
    close(plain, -np.log(probs[np.arange(8), labels]), rel=1e-5)
    close(losses.CategoricalFocalCrossentropy(alpha=1.0, gamma=0.0, reduction="none")(onehot, probs), plain)
    close(losses.SparseCategoricalFocalCrossentropy(alpha=1.0, gamma=0.0, reduction="none")(labels, probs), plain)
    close(losses.CategoricalBalancedCrossentropy(alpha=1.0, reduction="none")(onehot, probs), plain)
    # binary: Keras's BCE reference values
    close(losses.BinaryFocalCrossentropy(gamma=0.0, reduction="none")(Y_BIN, P_BIN), [0.9162908, 0.7135582])


def test_focal_downweights_easy_samples_and_keeps_hard_ones():
    """Lecture 001: p_c near 1 -> modulating factor near 0; p_c small -> the CE term barely changes."""
    probs = [[0.95, 0.05], [0.1, 0.9]]  # sample 0 easy (p_c = 0.95), sample 1 hard (p_c = 0.1)
    labels = [0, 0]
    ce = -np.log([0.95, 0.1])
    easy, hard = [], []
    for gamma in [0.0, 1.0, 2.0, 5.0]:
        terms = losses.SparseCategoricalFocalCrossentropy(alpha=1.0, gamma=gamma, reduction="none")(labels, probs)
        close(terms, [0.05**gamma * ce[0], 0.9**gamma * ce[1]], rel=1e-5)
        easy.append(float(terms[0]) / ce[0])
        hard.append(float(terms[1]) / ce[1])
    assert easy == sorted(easy, reverse=True) and easy[-1] < 1e-6  # shrinks toward 0
    assert hard[2] > 0.8  # gamma = 2 (Keras default) keeps 81% of a hard sample's term
    assert easy[2] / hard[2] < 0.005  # while an easy one keeps 0.25%


@pytest.mark.parametrize("p_correct, slide_loss", [(0.80, 0.10), (0.20, 0.70)])
def test_lecture_001_favourable_and_unfavourable_tables(p_correct, slide_loss):
    """The slide's column -y log y_hat uses log base 10: -log10(0.8) = 0.097 ~ 0.10, -log10(0.2) = 0.699 ~ 0.70
    (natural log: 0.223 and 1.609)."""
    rest = (1 - p_correct) / 4
    probs = [[rest, rest, p_correct, rest, rest]]
    onehot = [[0, 0, 1, 0, 0]]
    for loss in [losses.CategoricalCrossentropy(), losses.CategoricalFocalCrossentropy(alpha=1, gamma=0),
                 losses.CategoricalBalancedCrossentropy(alpha=1),
                 losses.SparseCategoricalBalancedCrossentropy(alpha=1)]:
        value = float(loss([2] if loss.kind == "sparse" else onehot, probs))
        assert value == pytest.approx(-math.log(p_correct), rel=1e-6)
        assert round(value / math.log(10), 2) == slide_loss


def test_lecture_003_worked_table_logits_3_15_7_3():
    """Logits [3, 15, 7, 3], truth class 1. The table's p column is the softmax; its log column is
    log base 2 (log2(6.142e-06) = -17.31), so its loss 5.01611506e-04 is in bits: ln 2 times that in nats."""
    logits = torch.tensor([[3.0, 15.0, 7.0, 3.0]])
    table_p = [6.14207644e-06, 9.99652370e-01, 3.35346011e-04, 6.14207644e-06]
    table_log2p = [-1.73128421e01, -5.01611506e-04, -1.15420619e01, -1.73128421e01]
    table_loss_nats = 5.01611506e-04 * math.log(2)  # = -ln(0.99965237) = 3.4769e-04
    close(torch.softmax(logits, -1)[0], table_p, rel=1e-5, abs=0)
    close(torch.log_softmax(logits.double(), -1)[0] / math.log(2), table_log2p, rel=1e-8, abs=0)
    onehot = torch.tensor([[0.0, 1.0, 0.0, 0.0]])
    for loss in [losses.CategoricalFocalCrossentropy(alpha=1, gamma=0, from_logits=True),
                 losses.SparseCategoricalBalancedCrossentropy(alpha=1, from_logits=True)]:
        y = torch.tensor([1.0]) if loss.kind == "sparse" else onehot
        close(loss(y, logits), table_loss_nats, rel=1e-4)
    # the same sample through a model ending in softmax (fused: the loss receives the logits)
    model = keras.Sequential([keras.layers.Dense(4, activation="softmax", input_shape=(1,))])
    model.set_weights([np.array([[3.0, 15.0, 7.0, 3.0]], np.float32), np.zeros(4, np.float32)])
    model.compile("sgd", losses.CategoricalFocalCrossentropy(alpha=1, gamma=0))
    assert model._compile_outputs().fused
    close(model.evaluate(np.ones((1, 1)), onehot.numpy(), verbose=0), table_loss_nats, rel=1e-4)
    # an easy sample: with gamma = 2 its term is (1 - 0.99965237)^2 ~ 1.2e-7 times the CE term
    model.compile("sgd", losses.CategoricalFocalCrossentropy(alpha=1, gamma=2))
    close(model.evaluate(np.ones((1, 1)), onehot.numpy(), verbose=0), (1 - 9.99652370e-01) ** 2 * table_loss_nats,
          rel=1e-3, abs=0)


# -- balanced weights -------------------------------------------------------------------------
def test_compute_class_weight_is_n_over_k_n_i_exactly():
    labels = [2, 0, 0, 1, 0, 2, 0, 0, 2, 1, 0, 2]  # n = 12, k = 3; n_0 = 6, n_1 = 2, n_2 = 4
    expected = {0: 12 / (3 * 6), 1: 12 / (3 * 2), 2: 12 / (3 * 4)}
    assert expected == {0: 2 / 3, 1: 2.0, 2: 1.0}
    assert compute_class_weight(labels) == expected
    assert compute_class_weight(np.array(labels)[:, None]) == expected
    assert compute_class_weight(np.eye(3)[labels]) == expected
    assert compute_class_weight(torch.tensor(labels)) == expected
    # k counts the classes present: labels {0, 3, 7} give k = 3
    assert compute_class_weight([7, 7, 7, 0, 3, 3]) == {0: 2.0, 3: 1.0, 7: 6 / 9}
    # balancing makes every class weigh the same in total: sum over class i of alpha_i = n / k
    weights = compute_class_weight(labels)
    assert sum(weights[c] for c in labels) == pytest.approx(12)


def test_compute_class_weight_rejects_bad_labels():
    with pytest.raises(ValueError, match="empty"):
        compute_class_weight([])
    with pytest.raises(ValueError, match="integer class labels"):
        compute_class_weight([0.5, 1.0])
    with pytest.raises(ValueError, match="not one-hot"):
        compute_class_weight([[0.2, 0.8], [1.0, 0.0]])
    with pytest.raises(ValueError, match="shape"):
        compute_class_weight(np.zeros((2, 2, 2)))


def test_balanced_losses_adapt_to_training_labels():
    labels = np.array([2, 0, 0, 1, 0, 2, 0, 0, 2, 1, 0, 2])
    alpha = np.array([2 / 3, 2.0, 1.0])
    probs = np.random.default_rng(1).dirichlet(np.ones(3), size=12).astype(np.float32)
    expected = -alpha[labels] * np.log(probs[np.arange(12), labels])  # E = -alpha_c log p_c
    for loss, y in [(losses.CategoricalBalancedCrossentropy(reduction="none"), np.eye(3)[labels]),
                    (losses.SparseCategoricalBalancedCrossentropy(reduction="none"), labels)]:
        with pytest.raises(ValueError, match="alpha='balanced'.*fit"):
            loss(y, probs)
        loss.adapt(torch.as_tensor(labels if loss.kind == "sparse" else np.eye(3)[labels], dtype=torch.float32))
        close(loss(y, probs), expected, rel=1e-5)
    # binary: n = 8 with two positives -> alpha_0 = 8 / (2 * 6), alpha_1 = 8 / (2 * 2)
    y = np.array([[0], [1], [0], [0], [1], [0], [0], [0]], np.float32)
    p = np.linspace(0.1, 0.9, 8, dtype=np.float32)[:, None]
    loss = losses.BinaryBalancedCrossentropy(reduction="none")
    loss.adapt(torch.as_tensor(y))
    bce = -(y * np.log(p) + (1 - y) * np.log(1 - p))[:, 0]
    close(loss(y, p), np.where(y[:, 0] == 1, 2.0, 8 / 12) * bce, rel=1e-5)
    # by hand, with the binary focal loss's balancing: [alpha_0, alpha_1] and a number alpha (alpha_0 = 1 - alpha)
    close(losses.BinaryBalancedCrossentropy([8 / 12, 2.0], reduction="none")(y, p), loss(y, p))
    close(losses.BinaryBalancedCrossentropy(0.25, reduction="none")(y, p), np.where(y[:, 0] == 1, 0.25, 0.75) * bce,
          rel=1e-5)


def test_per_class_alpha_forms_agree():
    labels = np.array([0, 1, 2, 1])
    probs = np.random.default_rng(2).dirichlet(np.ones(3), size=4).astype(np.float32)
    ce = -np.log(probs[np.arange(4), labels])
    q = 1 - probs[np.arange(4), labels]
    for alpha in ([0.5, 1.0, 4.0], {0: 0.5, 2: 4.0}, np.array([0.5, 1.0, 4.0])):
        table = np.array([0.5, 1.0, 4.0])
        expected = table[labels] * q**2 * ce
        close(losses.SparseCategoricalFocalCrossentropy(alpha, reduction="none")(labels, probs), expected, rel=1e-5)
        close(losses.CategoricalFocalCrossentropy(alpha, reduction="none")(np.eye(3)[labels], probs), expected,
              rel=1e-5)


# -- bad input ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, match", [
    ({"gamma": -1.0}, r"`gamma`.*>= 0, got -1.0"),
    ({"gamma": float("nan")}, r"`gamma`"),
    ({"gamma": "2"}, r"`gamma`"),
    ({"alpha": -0.25}, r"`alpha`.*>= 0, got -0.25"),
    ({"alpha": [1.0, -2.0]}, r"`alpha`.*got -2.0 at index 1"),
    ({"alpha": {0: 1.0, 1: -1}}, r"`alpha`.*got -1 for class 1"),
    ({"alpha": {-1: 1.0}}, r"`alpha`.*class keys >= 0, got key -1"),
    ({"alpha": "balance"}, r"`alpha`.*'balanced', got 'balance'"),
    ({"alpha": []}, r"`alpha`.*non-empty"),
    ({"label_smoothing": 1.5}, r"`label_smoothing`.*\[0, 1\], got 1.5"),
])
def test_bad_arguments_fail_at_construction(kwargs, match):
    with pytest.raises(ValueError, match=match):
        losses.CategoricalFocalCrossentropy(**kwargs)


def test_binary_alpha_checks():
    with pytest.raises(ValueError, match=r"`alpha`.*\[0, 1\].*got 1.5"):
        losses.BinaryFocalCrossentropy(True, alpha=1.5)
    with pytest.raises(ValueError, match="apply_class_balancing=True"):
        losses.BinaryFocalCrossentropy(alpha=[1.0, 2.0])
    with pytest.raises(ValueError, match="classes 0 and 1"):
        losses.BinaryBalancedCrossentropy([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="classes 0 and 1"):
        losses.BinaryBalancedCrossentropy({2: 1.0})
    with pytest.raises(ValueError, match="apply_class_balancing"):
        losses.BinaryFocalCrossentropy(apply_class_balancing=1)
    with pytest.raises(ValueError, match="gamma"):
        losses.BinaryFocalCrossentropy(gamma=-0.5)


def _classifier(units=3, features=4, activation="softmax", seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.layers.Dense(units, activation=activation, input_shape=(features,))])


def test_alpha_length_is_checked_against_classes_at_fit_time():
    x = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    y = np.array([0, 1, 2, 0, 1, 2])
    for loss, target in [(losses.SparseCategoricalFocalCrossentropy(alpha=[1.0, 2.0]), y),
                         (losses.CategoricalFocalCrossentropy(alpha=[1.0, 2.0, 3.0, 4.0]), np.eye(3)[y])]:
        model = _classifier()
        model.compile("sgd", loss)
        with pytest.raises(ValueError, match=r"`alpha`.*has \d per-class weights, but there are 3 classes"):
            model.fit(x, target, epochs=1, verbose=0)
    model = _classifier()
    model.compile("sgd", losses.SparseCategoricalFocalCrossentropy(alpha={5: 2.0}))
    with pytest.raises(ValueError, match=r"`alpha`.*class key 5.*\[0, 2\]"):
        model.fit(x, y, epochs=1, verbose=0)


def test_class_weight_errors():
    x = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    y = np.array([0, 1, 0, 1, 0, 1])
    model = _classifier()
    model.compile("sgd", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"`class_weight` has key 2, which is not a class of `y`.*\[0, 1\]"):
        model.fit(x, y, class_weight={0: 1.0, 2: 3.0}, verbose=0)
    with pytest.raises(ValueError, match=r"`class_weight`.*>= 0, got -1.0 for class 1"):
        model.fit(x, y, class_weight={0: 1.0, 1: -1.0}, verbose=0)
    with pytest.raises(ValueError, match=r"`class_weight`.*'balanced', got 'balance'"):
        model.fit(x, y, class_weight="balance", verbose=0)


# -- fit(class_weight=...): sum(w * l) / N (keras-behaviour.md: SGD with lr = 0) --------------------
def _fixed_model_losses(model, x, labels):
    """Per-sample categorical cross-entropy of the fixed model, computed by hand from its weights."""
    kernel, bias = model.get_weights()
    z = x.astype(np.float64) @ kernel + bias
    logp = z - z.max(axis=1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(axis=1, keepdims=True))
    return -logp[np.arange(len(labels)), labels]


@pytest.mark.parametrize("batch_size", [32, 4])
def test_fit_class_weight_loss_is_weighted_sum_over_n(batch_size):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(10, 4)).astype(np.float32)
    labels = np.array([0, 1, 1, 0, 0, 1, 0, 0, 1, 0])
    model = _classifier(units=2)
    model.compile(keras.optimizers.SGD(learning_rate=0.0), "sparse_categorical_crossentropy")
    per_sample = _fixed_model_losses(model, x, labels)
    weights = np.where(labels == 1, 3.0, 1.0)  # class_weight={0: 1, 1: 3}
    history = model.fit(x, labels, batch_size=batch_size, class_weight={0: 1, 1: 3}, shuffle=False, verbose=0)
    assert history.history["loss"][0] == pytest.approx((weights * per_sample).sum() / 10, rel=1e-6)
    assert abs(history.history["loss"][0] - (weights * per_sample).sum() / weights.sum()) > 1e-3  # not Σw·l/Σw
    # 'balanced' = the hand-counted n / (k n_i): 4 ones and 6 zeros -> {0: 10/12, 1: 10/8}
    balanced = np.where(labels == 1, 10 / 8, 10 / 12)
    history = model.fit(x, labels, batch_size=batch_size, class_weight="balanced", verbose=0)
    assert history.history["loss"][0] == pytest.approx((balanced * per_sample).sum() / 10, rel=1e-6)
    # one-hot targets are argmax-ed
    model.compile(keras.optimizers.SGD(learning_rate=0.0), "categorical_crossentropy")
    history = model.fit(x, np.eye(2)[labels], batch_size=batch_size, class_weight="balanced", verbose=0)
    assert history.history["loss"][0] == pytest.approx((balanced * per_sample).sum() / 10, rel=1e-6)


def test_balanced_loss_in_fit_uses_training_labels_only():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(12, 4)).astype(np.float32)
    labels = np.array([2, 0, 0, 1, 0, 2, 0, 0, 2, 1, 2, 2])  # first 8: n_0 = 5, n_1 = 1, n_2 = 2
    model = _classifier()
    loss = losses.get("sparse_categorical_balanced_crossentropy")
    model.compile(keras.optimizers.SGD(learning_rate=0.0), loss)
    per_sample = _fixed_model_losses(model, x, labels)
    history = model.fit(x, labels, validation_split=1 / 3, epochs=1, verbose=0)
    alpha = np.array([8 / 15, 8 / 3, 8 / 6])  # n / (k n_i) over the 8 training samples
    assert loss._adapted == {0: 8 / 15, 1: 8 / 3, 2: 8 / 6}
    assert history.history["loss"][0] == pytest.approx((alpha[labels] * per_sample)[:8].mean(), rel=1e-6)
    assert history.history["val_loss"][0] == pytest.approx((alpha[labels] * per_sample)[8:].mean(), rel=1e-6)


@pytest.mark.parametrize("name", ["categorical_focal_crossentropy", "categorical_balanced_crossentropy",
                                  "sparse_categorical_focal_crossentropy", "binary_focal_crossentropy",
                                  "binary_balanced_crossentropy"])
def test_losses_train_by_name_with_fused_activation(name):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    labels = (x[:, 0] + 0.5 * x[:, 1] > 0.3).astype(np.int64)
    binary = name.startswith("binary")
    model = _classifier(units=1 if binary else 2, activation="sigmoid" if binary else "softmax")
    model.compile(keras.optimizers.SGD(learning_rate=0.5), name, metrics=["accuracy"])
    assert model._compile_outputs().fused
    y = labels[:, None] if binary else labels if name.startswith("sparse") else np.eye(2)[labels]
    history = model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["accuracy"][-1] >= 0.85
    # evaluate (logits path) equals the loss on the predicted probabilities (Keras's path)
    probs = model.predict(x, verbose=0)
    close(model.evaluate(x, y, verbose=0, return_dict=True)["loss"], model.loss(y, probs), rel=1e-4)


# -- gradients: the hand-derived `gradient` against torch.autograd on independent formulas ------------
def _reference(loss, y, out, logits):
    """Keras's formulas written out directly in float64 (softmax/sigmoid first for logits)."""
    alpha = loss.alpha
    gamma = loss.gamma
    ls = loss.label_smoothing
    if loss.kind in ("categorical", "sparse"):
        k = out.shape[-1]
        if loss.kind == "sparse":
            y = torch.nn.functional.one_hot(y.long(), k).double()
        y = y * (1 - ls) + ls / k
        p = torch.softmax(out, -1) if logits else (out / out.sum(-1, keepdim=True)).clamp(EPS, 1 - EPS)
        a = torch.as_tensor(alpha, dtype=torch.float64)
        return (a * (1 - p) ** gamma * -y * torch.log(p)).sum(-1)
    y = y * (1 - ls) + 0.5 * ls
    p = torch.sigmoid(out) if logits else out
    pc = p if logits else p.clamp(EPS, 1 - EPS)
    bce = -(y * torch.log(pc) + (1 - y) * torch.log(1 - pc))
    focal = (1 - (y * p + (1 - y) * (1 - p))) ** gamma * bce
    if loss.apply_class_balancing:
        a0, a1 = (1 - alpha, alpha) if isinstance(alpha, float) else alpha
        focal = (y * a1 + (1 - y) * a0) * focal
    return focal.mean(-1)


def _reduce_reference(values, weights, reduction):
    weighted = values * weights
    if reduction == "sum":
        return weighted.sum()
    if reduction == "mean_with_sample_weight":
        return weighted.sum() / weights.sum()
    return weighted.sum() / values.numel()


GRADIENT_CASES = [
    losses.CategoricalFocalCrossentropy(),
    losses.CategoricalFocalCrossentropy(alpha=[0.5, 1.0, 2.0, 0.25], gamma=0.5, label_smoothing=0.1),
    losses.CategoricalFocalCrossentropy(alpha=1.0, gamma=3.5, reduction="sum"),
    losses.CategoricalBalancedCrossentropy(alpha=[2.0, 0.5, 1.0, 4.0], reduction="mean_with_sample_weight"),
    losses.SparseCategoricalFocalCrossentropy(alpha=[0.5, 1.0, 2.0, 0.25], gamma=1.0),
    losses.SparseCategoricalFocalCrossentropy(gamma=0.3, reduction="sum"),
    losses.SparseCategoricalBalancedCrossentropy(alpha=[2.0, 0.5, 1.0, 4.0]),
    losses.BinaryFocalCrossentropy(),
    losses.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=0.75, gamma=0.5, label_smoothing=0.2),
    losses.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=[0.5, 2.0], gamma=3.0, reduction="sum"),
    losses.BinaryBalancedCrossentropy(alpha=[0.25, 1.5], reduction="mean_with_sample_weight"),
]


@pytest.mark.parametrize("logits", [True, False], ids=["logits", "probabilities"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "sample_weight"])
@pytest.mark.parametrize("loss", GRADIENT_CASES,
                         ids=lambda loss: f"{type(loss).__name__}-{loss.gamma}-{loss.reduction}")
def test_gradient_matches_autograd(loss, logits, weighted):
    gen = torch.Generator().manual_seed(7)
    n, k = 6, 4
    z = torch.randn(n, k, generator=gen, dtype=torch.float64) * 2
    labels = torch.randint(0, k, (n,), generator=gen)
    if loss.kind == "binary":
        y = torch.randint(0, 2, (n, k), generator=gen).double()
        out = z if logits else torch.sigmoid(z)
    else:
        y = labels.double() if loss.kind == "sparse" else torch.nn.functional.one_hot(labels, k).double()
        out = z if logits else torch.softmax(z, -1) * 1.7  # Keras renormalises un-normalised rows
    if not logits and loss.kind != "binary":
        out[0] = torch.tensor([1e-9, 0.3, 0.5, 0.2], dtype=torch.float64)  # one clipped probability
        y[0] = 0 if loss.kind == "sparse" else torch.tensor([1.0, 0, 0, 0])
    weights = torch.rand(n, generator=gen, dtype=torch.float64) * 2 if weighted else torch.ones(n, dtype=torch.float64)
    leaf = out.clone().requires_grad_(True)
    expected = _reduce_reference(_reference(loss, y, leaf, logits), weights, loss.reduction)
    expected.backward()
    expected = float(expected.detach())
    value, grad = loss.gradient(y, out, logits=logits, sample_weight=weights if weighted else None)
    close(value, expected, rel=1e-9, abs=1e-12)
    close(grad, leaf.grad, rel=1e-7, abs=1e-12)
    # the forward used in training gives the same value
    close(loss.reduce(loss.per_sample(y, out, logits), weights if weighted else None), expected, rel=1e-9)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 2.0])
def test_no_nan_or_inf_at_saturation(gamma):
    """p exactly 0 or 1 and huge logits: finite values and gradients, in both the hand-derived
    gradient and autograd through the forward (the autograd engine)."""
    cases = [
        (losses.CategoricalFocalCrossentropy(gamma=gamma, reduction="sum"),
         torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]),
         torch.tensor([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]),
         torch.tensor([[0.0, 200.0, -200.0], [1e4, -1e4, 0.0], [-50.0, -50.0, 60.0]])),
        (losses.SparseCategoricalFocalCrossentropy(gamma=gamma, reduction="sum"),
         torch.tensor([1.0, 1.0, 2.0]),
         torch.tensor([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]),
         torch.tensor([[0.0, 200.0, -200.0], [1e4, -1e4, 0.0], [-50.0, -50.0, 60.0]])),
        (losses.BinaryFocalCrossentropy(True, gamma=gamma, reduction="sum"),
         torch.tensor([[1.0, 0.0, 1.0, 0.0]]),
         torch.tensor([[1.0, 0.0, 0.0, 1.0]]),
         torch.tensor([[1e4, -1e4, -1e4, 1e4]])),
        (losses.BinaryFocalCrossentropy(True, gamma=gamma, reduction="sum"),
         torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 0.0]]), torch.tensor([[120.0, -120.0]])),
    ]
    for loss, y, probs, logits in cases:
        for out, is_logits in [(probs, False), (logits, True)]:
            value, grad = loss.gradient(y, out, logits=is_logits)
            assert torch.isfinite(value) and torch.isfinite(grad).all(), (loss, is_logits, value, grad)
            leaf = out.clone().requires_grad_(True)
            loss.reduce(loss.per_sample(y, leaf, is_logits)).backward()
            assert torch.isfinite(leaf.grad).all(), (loss, is_logits, leaf.grad)
            close(grad, leaf.grad, rel=1e-5, abs=1e-6)
    # the worst case costs what Keras's clipping says: -log(1e-7) for a certain wrong answer (gamma = 0)
    if gamma == 0:
        wrong = losses.CategoricalFocalCrossentropy(alpha=1, gamma=0)([[1.0, 0.0]], [[0.0, 1.0]])
        close(wrong, 16.118095, rel=1e-6)
        # and the logits form is exact where clipping would cap it: softmax([0, 30])[0] = e^-30
        exact = losses.CategoricalFocalCrossentropy(alpha=1, gamma=0, from_logits=True)([[1.0, 0.0]], [[0.0, 30.0]])
        close(exact, 30.0 + math.log1p(math.exp(-30.0)), rel=1e-6)


@pytest.mark.parametrize("name", ["categorical_focal_crossentropy", "sparse_categorical_balanced_crossentropy",
                                  "sparse_categorical_focal_crossentropy", "binary_focal_crossentropy",
                                  "binary_balanced_crossentropy"])
def test_both_training_engines_agree(name):
    """The analytic engine (driven by `gradient`) and autograd train the same weights."""
    from kerastyle.backprop import check_gradients
    rng = np.random.default_rng(6)
    x = rng.normal(size=(48, 4)).astype(np.float32)
    labels = np.where(x[:, 0] > 0.8, 2, (x[:, 1] > 0).astype(np.int64))  # class 2 is the rare one
    binary = name.startswith("binary")
    y = (labels == 2).astype(np.float32)[:, None] if binary else labels if "sparse" in name else np.eye(3)[labels]
    histories = []
    for engine in ["analytic", "autograd"]:
        keras.utils.set_random_seed(1)
        head = keras.layers.Dense(1, activation="sigmoid") if binary else keras.layers.Dense(3, activation="softmax")
        model = keras.Sequential([keras.layers.Dense(8, activation="tanh", input_shape=(4,)), head])
        model.compile(keras.optimizers.SGD(learning_rate=0.3), losses.get(name))
        model.loss.adapt(torch.as_tensor(y, dtype=torch.float32))  # for alpha='balanced'
        assert check_gradients(model, x, y, sample_weight=rng.uniform(0, 2, 48)).passed
        histories.append(model.fit(x, y, epochs=3, batch_size=16, engine=engine, verbose=0).history["loss"])
    close(histories[0], histories[1], rel=1e-5)
