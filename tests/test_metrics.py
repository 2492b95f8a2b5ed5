"""Stateful metrics against real Keras 3 (same updates -> same result()) and numpy formulas;
chunk invariance (what the trainer relies on) and compile/fit integration."""

from __future__ import annotations

import os
import re

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest

import kerastyle as ks
from kerastyle import metrics

RNG = np.random.default_rng(11)
N, C = 40, 4
LABELS = RNG.integers(0, C, size=N)
ONEHOT = np.eye(C, dtype=np.float32)[LABELS]
PROBS = RNG.dirichlet(np.ones(C), size=N).astype(np.float32)
BIN_TRUE = RNG.integers(0, 2, size=(N, 1)).astype(np.float32)
BIN_PRED = np.clip(0.6 * BIN_TRUE + RNG.uniform(0, 0.5, size=(N, 1)), 0, 1).astype(np.float32)
REG_TRUE = RNG.normal(size=(N, 3)).astype(np.float32)
REG_PRED = (REG_TRUE + 0.5 * RNG.normal(size=(N, 3))).astype(np.float32)
POS_TRUE, POS_PRED = np.abs(REG_TRUE) + 0.1, np.abs(REG_PRED) + 0.1
WEIGHTS = RNG.uniform(0.0, 2.0, size=N).astype(np.float32)

CASES = [  # (class name, kwargs, y_true, y_pred)
    ("Accuracy", {}, LABELS.astype(np.float32), np.argmax(PROBS, 1).astype(np.float32)),
    ("BinaryAccuracy", {}, BIN_TRUE, BIN_PRED),
    ("BinaryAccuracy", {"threshold": 0.7}, BIN_TRUE, BIN_PRED),
    ("CategoricalAccuracy", {}, ONEHOT, PROBS),
    ("SparseCategoricalAccuracy", {}, LABELS, PROBS),
    ("TopKCategoricalAccuracy", {"k": 2}, ONEHOT, PROBS),
    ("SparseTopKCategoricalAccuracy", {"k": 2}, LABELS, PROBS),
    ("AUC", {}, BIN_TRUE, BIN_PRED),
    ("AUC", {"num_thresholds": 17}, ONEHOT, PROBS),
    ("AUC", {"curve": "PR"}, BIN_TRUE, BIN_PRED),
    ("AUC", {"curve": "PR", "summation_method": "minoring"}, ONEHOT, PROBS),
    ("AUC", {"summation_method": "majoring"}, ONEHOT, PROBS),
    ("AUC", {"multi_label": True}, ONEHOT, PROBS),
    ("Precision", {}, BIN_TRUE, BIN_PRED),
    ("Precision", {"thresholds": [0.3, 0.5, 0.8]}, ONEHOT, PROBS),
    ("Precision", {"class_id": 2}, ONEHOT, PROBS),
    ("Precision", {"top_k": 2}, ONEHOT, PROBS),
    ("Recall", {}, BIN_TRUE, BIN_PRED),
    ("Recall", {"top_k": 1, "class_id": 1}, ONEHOT, PROBS),
    ("F1Score", {}, ONEHOT, PROBS),
    ("F1Score", {"average": "macro"}, ONEHOT, PROBS),
    ("F1Score", {"average": "micro", "threshold": 0.3}, ONEHOT, PROBS),
    ("F1Score", {"average": "weighted"}, ONEHOT, PROBS),
    ("MeanSquaredError", {}, REG_TRUE, REG_PRED),
    ("RootMeanSquaredError", {}, REG_TRUE, REG_PRED),
    ("MeanAbsoluteError", {}, REG_TRUE, REG_PRED),
    ("MeanAbsolutePercentageError", {}, REG_TRUE, REG_PRED),
    ("MeanSquaredLogarithmicError", {}, POS_TRUE, POS_PRED),
    ("CosineSimilarity", {}, REG_TRUE, REG_PRED),
    ("LogCoshError", {}, REG_TRUE, REG_PRED),
    ("R2Score", {}, REG_TRUE, REG_PRED),
    ("R2Score", {"class_aggregation": "variance_weighted_average", "num_regressors": 2}, REG_TRUE, REG_PRED),
    ("R2Score", {"class_aggregation": None}, REG_TRUE, REG_PRED),
    ("MeanIoU", {"num_classes": C, "sparse_y_pred": False}, LABELS, PROBS),
    ("BinaryCrossentropy", {}, BIN_TRUE, BIN_PRED),
    ("CategoricalCrossentropy", {}, ONEHOT, PROBS),
    ("SparseCategoricalCrossentropy", {}, LABELS, PROBS),
    ("KLDivergence", {}, ONEHOT, PROBS),
    ("Poisson", {}, POS_TRUE, POS_PRED),
    ("Hinge", {}, BIN_TRUE, BIN_PRED),
    ("SquaredHinge", {}, BIN_TRUE, BIN_PRED),
    ("CategoricalHinge", {}, ONEHOT, PROBS),
]
IDS = [f"{c[0]}-{i}" for i, c in enumerate(CASES)]


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


@pytest.mark.parametrize(("name", "kwargs", "y", "p"), CASES, ids=IDS)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_metric_matches_keras_over_several_updates(keras, name, kwargs, y, p, weighted):
    mine, ref = getattr(metrics, name)(**kwargs), getattr(keras.metrics, name)(**kwargs)
    assert mine.name == re.sub(r"_\d+$", "", ref.name)  # Keras numbers repeated AUC/precision names
    weights = np.round(WEIGHTS) if name == "MeanIoU" else WEIGHTS  # Keras's MeanIoU truncates to int32
    for start, stop in [(0, 7), (7, 25), (25, N)]:  # uneven chunks, as the trainer sends them
        w = weights[start:stop] if weighted else None
        mine.update_state(y[start:stop], p[start:stop], sample_weight=w)
        ref.update_state(y[start:stop], p[start:stop], sample_weight=w)
    np.testing.assert_allclose(np.asarray(mine.result()), np.asarray(ref.result()), rtol=2e-5, atol=2e-6)
    mine.reset_state()
    ref.reset_state()
    mine.update_state(y[:9], p[:9])
    ref.update_state(y[:9], p[:9])
    np.testing.assert_allclose(np.asarray(mine.result()), np.asarray(ref.result()), rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize(("name", "kwargs", "y", "p"), CASES, ids=IDS)
def test_chunks_give_the_value_of_the_whole(name, kwargs, y, p):
    whole, parts = getattr(metrics, name)(**kwargs), getattr(metrics, name)(**kwargs)
    whole.update_state(y, p)
    for start in range(0, N, 6):
        parts.update_state(y[start:start + 6], p[start:start + 6])
    np.testing.assert_allclose(np.asarray(parts.result()), np.asarray(whole.result()), rtol=1e-5, atol=1e-6)


def _roc_auc_reference(y, s):
    """Mann-Whitney: the probability that a positive outranks a negative (ties count half)."""
    pos, neg = s[y == 1], s[y == 0]
    return ((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()) / (len(pos) * len(neg))


def test_reference_formulas():
    y, s = BIN_TRUE[:, 0], BIN_PRED[:, 0]
    auc = metrics.AUC(num_thresholds=2000)
    auc.update_state(y, s)
    assert float(auc.result()) == pytest.approx(_roc_auc_reference(y, s), abs=2e-3)
    tp = ((s > 0.5) & (y == 1)).sum()
    assert float(metrics.Precision()(y, s)) == pytest.approx(tp / (s > 0.5).sum())
    assert float(metrics.Recall()(y, s)) == pytest.approx(tp / (y == 1).sum())
    ss_res = ((REG_TRUE - REG_PRED) ** 2).sum(0)
    ss_tot = ((REG_TRUE - REG_TRUE.mean(0)) ** 2).sum(0)
    assert float(metrics.R2Score()(REG_TRUE, REG_PRED)) == pytest.approx(np.mean(1 - ss_res / ss_tot), rel=1e-5)
    assert float(metrics.RootMeanSquaredError()(REG_TRUE, REG_PRED)) == pytest.approx(
        np.sqrt(((REG_TRUE - REG_PRED) ** 2).mean()), rel=1e-6)
    pred = PROBS.argmax(1)
    cm = np.zeros((C, C))
    np.add.at(cm, (LABELS, pred), 1)
    iou = np.diag(cm) / (cm.sum(0) + cm.sum(1) - np.diag(cm))
    assert float(metrics.MeanIoU(C, sparse_y_pred=False)(LABELS, PROBS)) == pytest.approx(np.nanmean(iou), rel=1e-6)
    mean = metrics.Mean()
    mean.update_state([1.0, 2.0, 3.0], sample_weight=[1.0, 0.0, 1.0])
    assert float(mean.result()) == pytest.approx(2.0)
    total = metrics.Sum()
    total.update_state([1.0, 2.0, 3.0])
    assert float(total.result()) == pytest.approx(6.0)


def test_get_resolves_names_and_functions():
    loss = ks.losses.get("sparse_categorical_crossentropy")
    assert isinstance(metrics.get("accuracy", loss), metrics.SparseCategoricalAccuracy)
    assert isinstance(metrics.get("acc", ks.losses.get("binary_crossentropy")), metrics.BinaryAccuracy)
    assert metrics.get("acc", ks.losses.get("binary_crossentropy")).name == "acc"
    for name, cls in [("auc", metrics.AUC), ("precision", metrics.Precision), ("recall", metrics.Recall),
                      ("mse", metrics.MeanSquaredError), ("top_k_categorical_accuracy",
                                                          metrics.TopKCategoricalAccuracy),
                      ("r2_score", metrics.R2Score), ("AUC", metrics.AUC)]:
        got = metrics.get(name)
        assert isinstance(got, cls) and got.name == name
    assert isinstance(metrics.get(metrics.mean_squared_error), metrics.MeanSquaredError)
    with pytest.raises(ValueError, match="Unknown metric 'aucc'"):
        metrics.get("aucc")
    with pytest.raises(TypeError, match=r"'thresold'.*Valid arguments: thresholds, top_k, class_id, name, dtype"):
        metrics.Precision(thresold=0.3)


def test_custom_function_and_subclass_metrics_in_fit():
    from kerastyle import ops

    def mean_pred(y_true, y_pred):
        return ops.mean(y_pred, axis=-1)

    class PositiveRate(metrics.Metric):
        def __init__(self, name="positive_rate", **kwargs):
            super().__init__(name=name, **kwargs)
            self.hits = self.add_weight(name="hits", initializer="zeros")
            self.seen = self.add_variable(shape=(), initializer="zeros", name="seen")

        def update_state(self, y_true, y_pred, sample_weight=None):
            self.hits.assign_add(ops.sum(ops.cast(y_pred > 0.5, "float32")))
            self.seen.assign_add(ops.size(y_pred))

        def result(self):
            return self.hits / self.seen

    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 3)).astype(np.float32)
    y = (x[:, :1] > 0).astype(np.float32)
    model = ks.Sequential([ks.layers.Dense(1, activation="sigmoid", input_shape=(3,))])
    model.compile(optimizer="adam", loss="binary_crossentropy",
                  metrics=["accuracy", "auc", mean_pred, PositiveRate(), metrics.Precision(name="prec")])
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0, validation_data=(x, y))
    assert {"accuracy", "auc", "mean_pred", "positive_rate", "prec", "val_auc"} <= set(history.history)
    p = model.predict(x, verbose=0)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert logs["mean_pred"] == pytest.approx(float(p.mean()), rel=1e-5)
    assert logs["positive_rate"] == pytest.approx(float((p > 0.5).mean()), rel=1e-6)
    assert logs["accuracy"] == pytest.approx(float(((p > 0.5) == (y == 1)).mean()), rel=1e-6)
    auc = metrics.AUC()
    auc.update_state(y, p)
    assert logs["auc"] == pytest.approx(float(auc.result()), rel=1e-6)


def test_metric_config_round_trip():
    for metric in (metrics.AUC(curve="PR", num_thresholds=50), metrics.Precision(thresholds=[0.2, 0.7], class_id=1),
                   metrics.F1Score(average="macro", threshold=0.4), metrics.TopKCategoricalAccuracy(k=3),
                   metrics.MeanIoU(5, sparse_y_pred=False), metrics.R2Score(num_regressors=1)):
        again = type(metric).from_config(metric.get_config())
        assert again.get_config() == metric.get_config()
