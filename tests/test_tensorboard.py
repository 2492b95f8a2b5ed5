"""TensorBoard writes real event files: the scalars read back with tensorboard's EventAccumulator equal
the History; Keras 3's run layout and tags; a clear ImportError without the package."""

import sys

import numpy as np
import pytest

import kerastyle as keras

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 3)).astype(np.float32)
Y = (X.sum(1, keepdims=True) > 0).astype(np.float32)


def model():
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.layers.Dense(4, activation="relu", input_shape=(3,)),
                          keras.layers.Dense(1, activation="sigmoid")])
    m.compile(keras.optimizers.Adam(0.01), "binary_crossentropy", metrics=["accuracy"])
    return m


def scalars(path, tag):
    acc = EventAccumulator(str(path), size_guidance={"scalars": 0, "histograms": 0})
    acc.Reload()
    return [(e.step, e.value) for e in acc.Scalars(tag)], acc


def test_epoch_scalars_read_back_equal_history(tmp_path):
    m = model()
    history = m.fit(X, Y, epochs=3, batch_size=10, verbose=0, validation_data=(X[:10], Y[:10]),
                    callbacks=[keras.callbacks.TensorBoard(tmp_path, histogram_freq=1)])
    for tag, key in (("epoch_loss", "loss"), ("epoch_accuracy", "accuracy")):
        got, _ = scalars(tmp_path / "train", tag)
        assert [s for s, _ in got] == [0, 1, 2]
        np.testing.assert_allclose([v for _, v in got], history.history[key], rtol=1e-6)
    got, acc = scalars(tmp_path / "validation", "epoch_loss")
    np.testing.assert_allclose([v for _, v in got], history.history["val_loss"], rtol=1e-6)
    # evaluation_<name>_vs_iterations: step = optimizer iterations (4 batches per epoch)
    got, _ = scalars(tmp_path / "validation", "evaluation_loss_vs_iterations")
    assert [s for s, _ in got] == [4, 8, 12]
    lr, train = scalars(tmp_path / "train", "epoch_learning_rate")
    np.testing.assert_allclose([v for _, v in lr], [0.01] * 3, rtol=1e-6)
    histograms = train.Tags()["histograms"]
    assert any(tag.endswith("kernel/histogram") for tag in histograms), histograms
    assert train.Tags()["graph"]  # write_graph=True (the default)
    assert "learning_rate" not in history.history  # as Keras 3.15: only TensorBoard logs it


def test_batch_scalars_every_update_freq(tmp_path):
    m = model()
    losses = []
    record = keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: losses.append(logs["loss"]))
    m.fit(X, Y, epochs=2, batch_size=10, verbose=0, shuffle=False,
          callbacks=[record, keras.callbacks.TensorBoard(tmp_path, update_freq=3)])
    got, _ = scalars(tmp_path / "train", "batch_loss")
    assert [s for s, _ in got] == [3, 6]  # 8 batches in all, every third one, counting from 1
    np.testing.assert_allclose([v for _, v in got], [losses[2], losses[5]], rtol=1e-6)


def test_arguments_are_checked_and_missing_package_is_named(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="update_freq"):
        keras.callbacks.TensorBoard(tmp_path, update_freq=0)
    with pytest.raises(ValueError, match="histogram_freq"):
        keras.callbacks.TensorBoard(tmp_path, histogram_freq=-1)
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with pytest.raises(ImportError, match="pip install tensorboard"):
        keras.callbacks.TensorBoard(tmp_path)
