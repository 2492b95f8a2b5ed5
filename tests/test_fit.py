"""fit / evaluate / predict semantics (keras-behaviour.md §5) and the Keras 2 progress output.

Independent truth: the same network computed in float64 numpy from
``get_weights()`` (with ``SGD(learning_rate=0)`` the weights stay fixed, so every
epoch value is a closed-form average), a plain torch training loop, and the
Keras formats and formulas recorded in keras-behaviour.md.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import kerastyle as keras
from kerastyle.backend import clear_session
from kerastyle.callbacks import Callback, EarlyStopping, History
from kerastyle.layers import Dense
from kerastyle.models import Sequential
from kerastyle.optimizers import SGD


def make_data(n=10, k=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    labels = rng.integers(0, k, size=n)
    return x, labels, np.eye(k, dtype=np.float32)[labels]


def make_model(k=3, lr=0.0, metrics=("accuracy",), loss="categorical_crossentropy", **compile_kwargs):
    model = Sequential([Dense(5, activation="tanh", input_shape=(4,)), Dense(k, activation="softmax")])
    model.compile(optimizer=SGD(learning_rate=lr), loss=loss, metrics=list(metrics), **compile_kwargs)
    return model


def np_forward(weights, x):
    """Independent float64 forward pass of the tanh -> softmax network."""
    w0, b0, w1, b1 = (np.asarray(w, dtype=np.float64) for w in weights)
    z = np.tanh(np.asarray(x, dtype=np.float64) @ w0 + b0) @ w1 + b1
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def np_cce(weights, x, labels):
    """Per-sample categorical cross-entropy -log p[label] (no clipping needed at these values)."""
    p = np_forward(weights, x)
    return -np.log(p[np.arange(len(labels)), labels])


def np_accuracy(weights, x, labels):
    return float((np_forward(weights, x).argmax(axis=1) == labels).mean())


# -- History ---------------------------------------------------------------------------------
def test_history_keys_order_params_and_epochs():
    x, labels, y = make_data(20)
    model = make_model()
    history = model.fit(x, y, batch_size=4, epochs=3, validation_split=0.2, verbose=0)
    assert isinstance(history, History) and model.history is history
    assert list(history.history) == ["loss", "accuracy", "val_loss", "val_accuracy"]  # Keras 2 order
    assert all(len(v) == 3 and all(type(e) is float for e in v) for v in history.history.values())
    assert history.epoch == [0, 1, 2]
    assert {k: history.params[k] for k in ("verbose", "epochs", "steps")} == {"verbose": 0, "epochs": 3,
                                                                              "steps": 4}  # ceil(16 / 4)


def test_history_metric_names_follow_compile():
    x, labels, y = make_data(8)
    model = make_model(metrics=["acc", "mse"])
    history = model.fit(x, y, epochs=1, verbose=0, validation_data=(x, y))
    assert list(history.history) == ["loss", "acc", "mse", "val_loss", "val_acc", "val_mse"]
    w = model.get_weights()
    assert history.history["mse"][0] == pytest.approx(float(((np_forward(w, x) - y) ** 2).mean()), rel=1e-5)


def test_initial_epoch_is_absolute(capsys):
    x, labels, y = make_data()
    model = make_model()
    history = model.fit(x, y, epochs=2, initial_epoch=1, verbose=2)
    assert history.epoch == [1]
    out = capsys.readouterr().out
    assert "Epoch 2/2" in out and "Epoch 1/2" not in out
    history = model.fit(x, y, epochs=5, initial_epoch=2, verbose=0)
    assert history.epoch == [2, 3, 4] and len(history.history["loss"]) == 3


# -- epoch averaging and weights -------------------------------------------------------------
def test_epoch_loss_is_per_sample_mean():
    x, labels, y = make_data(10)
    model = make_model()
    history = model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    per_sample = np_cce(model.get_weights(), x, labels)
    assert history.history["loss"] == pytest.approx([per_sample.mean()] * 2, rel=1e-5)
    batch_means = np.mean([per_sample[0:4].mean(), per_sample[4:8].mean(), per_sample[8:10].mean()])
    assert abs(per_sample.mean() - batch_means) > 1e-3  # the data tells the two averages apart
    assert history.history["accuracy"][0] == pytest.approx(np_accuracy(model.get_weights(), x, labels))


def test_validation_split_takes_last_fraction_before_shuffling():
    x, labels, y = make_data(10)
    model = make_model()
    history = model.fit(x, y, batch_size=3, epochs=1, validation_split=0.2, shuffle=True, verbose=0)
    w = model.get_weights()
    assert history.history["val_loss"][0] == pytest.approx(np_cce(w, x[8:], labels[8:]).mean(), rel=1e-5)
    assert history.history["loss"][0] == pytest.approx(np_cce(w, x[:8], labels[:8]).mean(), rel=1e-5)
    assert history.history["val_accuracy"][0] == pytest.approx(np_accuracy(w, x[8:], labels[8:]))
    assert history.params["steps"] == 3  # ceil(8 / 3)


def test_validation_split_uses_floor_of_training_fraction():
    x, labels, y = make_data(7)
    model = make_model()
    history = model.fit(x, y, epochs=1, validation_split=0.3, verbose=0)  # floor(7 * 0.7) = 4 train
    w = model.get_weights()
    assert history.history["val_loss"][0] == pytest.approx(np_cce(w, x[4:], labels[4:]).mean(), rel=1e-5)


def test_validation_data_overrides_split():
    x, labels, y = make_data(10)
    xv, lv, yv = make_data(6, seed=5)
    model = make_model()
    history = model.fit(x, y, epochs=1, validation_split=0.5, validation_data=(xv, yv), verbose=0)
    w = model.get_weights()
    assert history.history["val_loss"][0] == pytest.approx(np_cce(w, xv, lv).mean(), rel=1e-5)
    assert history.history["loss"][0] == pytest.approx(np_cce(w, x, labels).mean(), rel=1e-5)


def test_class_weight_is_sum_w_l_over_n():
    x, labels, y = make_data(10, k=2, seed=3)
    assert set(labels) == {0, 1}
    model = make_model(k=2)
    history = model.fit(x, y, batch_size=4, epochs=1, class_weight={0: 1, 1: 3}, verbose=0)
    w = model.get_weights()
    losses = np_cce(w, x, labels)
    sw = np.where(labels == 1, 3.0, 1.0)
    assert history.history["loss"][0] == pytest.approx((sw * losses).sum() / 10, rel=1e-5)
    assert history.history["loss"][0] != pytest.approx((sw * losses).sum() / sw.sum(), rel=1e-3)
    assert history.history["accuracy"][0] == pytest.approx(np_accuracy(w, x, labels))  # unweighted


def test_class_weight_with_sparse_labels_and_missing_classes():
    x, labels, _ = make_data(12, k=3, seed=4)
    model = make_model(k=3, loss="sparse_categorical_crossentropy")
    history = model.fit(x, labels, batch_size=5, epochs=1, class_weight={2: 0.5}, verbose=0)
    losses = np_cce(model.get_weights(), x, labels)
    sw = np.where(labels == 2, 0.5, 1.0)  # classes not listed weigh 1
    assert history.history["loss"][0] == pytest.approx((sw * losses).sum() / 12, rel=1e-5)


def test_sample_weight():
    x, labels, y = make_data(10)
    sw = np.linspace(0.1, 2.0, 10)
    model = make_model()
    history = model.fit(x, y, batch_size=4, epochs=1, sample_weight=sw, shuffle=True, verbose=0)
    losses = np_cce(model.get_weights(), x, labels)
    assert history.history["loss"][0] == pytest.approx((sw * losses).sum() / 10, rel=1e-5)
    assert model.evaluate(x, y, sample_weight=sw, verbose=0)[0] == pytest.approx((sw * losses).sum() / 10, rel=1e-5)


@pytest.mark.parametrize("engine", ["auto", "autograd"])
def test_shuffle_false_matches_plain_torch_loop(engine):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(10, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-1.0], [2.0]]) + 0.5).astype(np.float32)
    model = Sequential([Dense(4, activation="relu", input_shape=(3,)), Dense(1)])
    start = model.get_weights()
    model.compile(optimizer=SGD(learning_rate=0.05, momentum=0.9), loss="mse")
    history = model.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0, engine=engine)

    lin1, lin2 = torch.nn.Linear(3, 4), torch.nn.Linear(4, 1)
    with torch.no_grad():
        for lin, (k, b) in zip((lin1, lin2), (start[:2], start[2:])):
            lin.weight.copy_(torch.tensor(k.T))
            lin.bias.copy_(torch.tensor(b))
    net = torch.nn.Sequential(lin1, torch.nn.ReLU(), lin2)
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)  # same as Keras at constant lr
    xt, yt = torch.tensor(x), torch.tensor(y)
    epoch_losses = []
    for _ in range(3):
        total = 0.0
        for s in range(0, 10, 4):
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(net(xt[s:s + 4]), yt[s:s + 4])
            loss.backward()
            opt.step()
            total += loss.item() * len(xt[s:s + 4])
        epoch_losses.append(total / 10)
    assert history.history["loss"] == pytest.approx(epoch_losses, rel=1e-5)
    np.testing.assert_allclose(model.get_weights()[0], lin1.weight.detach().numpy().T, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict(x, verbose=0), net(xt).detach().numpy(), rtol=1e-5, atol=1e-6)


def _seeded_run(seed, shuffle=True):
    clear_session()
    keras.utils.set_random_seed(seed)
    x, labels, y = make_data(30)
    model = make_model(lr=0.1)
    history = model.fit(x, y, batch_size=4, epochs=3, shuffle=shuffle, verbose=0)
    return model.get_weights(), history.history["loss"]


def test_set_random_seed_gives_identical_runs():
    w1, l1 = _seeded_run(7)
    w2, l2 = _seeded_run(7)
    assert l1 == l2
    for a, b in zip(w1, w2):
        np.testing.assert_array_equal(a, b)
    w3, _ = _seeded_run(8)
    assert not np.array_equal(w1[0], w3[0])


def test_shuffle_changes_batch_order():
    x, labels, y = make_data(30)
    results = []
    for shuffle in (False, True):
        clear_session()
        keras.utils.set_random_seed(3)
        model = make_model(lr=0.5)
        model.fit(x, y, batch_size=4, epochs=2, shuffle=shuffle, verbose=0)
        results.append(model.get_weights()[0])
    assert not np.allclose(results[0], results[1])


# -- callbacks -------------------------------------------------------------------------------
class Recorder(Callback):
    def __init__(self):
        super().__init__()
        self.calls = []
        self.batch_logs = []
        self.epoch_logs = []

    def on_train_begin(self, logs=None):
        self.calls.append(("train_begin",))

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(("epoch_begin", epoch))

    def on_train_batch_begin(self, batch, logs=None):
        self.calls.append(("batch_begin", batch))

    def on_train_batch_end(self, batch, logs=None):
        self.calls.append(("batch_end", batch))
        self.batch_logs.append(dict(logs))

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(("epoch_end", epoch))
        self.epoch_logs.append(dict(logs))

    def on_train_end(self, logs=None):
        self.calls.append(("train_end",))


def test_callback_hooks_order_and_logs():
    x, labels, y = make_data(10)
    model = make_model()
    rec = Recorder()
    model.fit(x, y, batch_size=4, epochs=2, shuffle=False, validation_data=(x, y), callbacks=[rec], verbose=0)
    per_epoch = [("batch_begin", 0), ("batch_end", 0), ("batch_begin", 1), ("batch_end", 1),
                 ("batch_begin", 2), ("batch_end", 2)]
    assert rec.calls == [("train_begin",), ("epoch_begin", 0), *per_epoch, ("epoch_end", 0),
                         ("epoch_begin", 1), *per_epoch, ("epoch_end", 1), ("train_end",)]
    assert rec.model is model
    assert rec.params["epochs"] == 2 and rec.params["steps"] == 3
    losses = np_cce(model.get_weights(), x, labels)
    # batch logs are running epoch averages: after batch 0 the first 4 samples, after batch 1 the first 8
    assert rec.batch_logs[0]["loss"] == pytest.approx(losses[:4].mean(), rel=1e-5)
    assert rec.batch_logs[1]["loss"] == pytest.approx(losses[:8].mean(), rel=1e-5)
    assert rec.batch_logs[2]["loss"] == pytest.approx(losses.mean(), rel=1e-5)
    assert "accuracy" in rec.batch_logs[0]
    assert list(rec.epoch_logs[0]) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert rec.epoch_logs[1]["val_loss"] == pytest.approx(losses.mean(), rel=1e-5)


def test_stop_training_from_callbacks():
    x, labels, y = make_data(10)

    class StopAfterSecondEpoch(Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                self.model.stop_training = True

    class StopAfterFirstBatch(Callback):
        def __init__(self):
            super().__init__()
            self.batches = 0

        def on_train_batch_end(self, batch, logs=None):
            self.batches += 1
            self.model.stop_training = True

    model = make_model()
    assert model.fit(x, y, epochs=10, batch_size=4, verbose=0, callbacks=[StopAfterSecondEpoch()]).epoch == [0, 1]
    stopper = StopAfterFirstBatch()
    history = model.fit(x, y, epochs=10, batch_size=4, verbose=0, callbacks=[stopper])
    assert stopper.batches == 1 and history.epoch == [0]


def test_early_stopping_patience():
    x, labels, y = make_data(10)
    model = make_model(lr=0.0)  # the loss never improves after epoch 0
    stopper = EarlyStopping(monitor="loss", patience=2)
    history = model.fit(x, y, epochs=20, verbose=0, callbacks=[stopper])
    assert history.epoch == [0, 1, 2]
    assert stopper.stopped_epoch == 2
    history = model.fit(x, y, epochs=20, verbose=0, callbacks=[EarlyStopping(monitor="loss", patience=0)])
    assert history.epoch == [0, 1]


def test_early_stopping_defaults():
    stopper = EarlyStopping()
    assert (stopper.monitor, stopper.min_delta, stopper.patience, stopper.restore_best_weights) == (
        "val_loss", 0, 0, False)
    assert stopper.mode == "min"
    assert EarlyStopping(monitor="val_accuracy").mode == "max"


class WeightLog(Callback):
    def on_train_begin(self, logs=None):
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())


@pytest.mark.parametrize("restore", [True, False])
def test_early_stopping_restore_best_weights(restore):
    # Train on y = x, validate on y = -x: val_loss grows every epoch, so the best epoch is the first.
    x = np.linspace(-1, 1, 16, dtype=np.float32).reshape(-1, 1)
    model = Sequential([Dense(1, input_shape=(1,), kernel_initializer="zeros")])
    model.compile(optimizer=SGD(learning_rate=0.1), loss="mse")
    log = WeightLog()
    stopper = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=restore)
    history = model.fit(x, x, validation_data=(x, -x), epochs=30, batch_size=4, shuffle=False, verbose=0,
                        callbacks=[log, stopper])
    val = history.history["val_loss"]
    assert all(b > a for a, b in zip(val, val[1:]))
    assert history.epoch == [0, 1, 2]
    expected = log.weights[0] if restore else log.weights[-1]
    for got, want in zip(model.get_weights(), expected):
        np.testing.assert_array_equal(got, want)


def test_early_stopping_min_delta():
    x, labels, y = make_data(30)
    model = make_model(lr=0.01)  # improves, but by less than min_delta per epoch
    history = model.fit(x, y, epochs=20, verbose=0,
                        callbacks=[EarlyStopping(monitor="loss", min_delta=10.0, patience=1)])
    assert history.epoch == [0, 1]


# -- evaluate / predict ------------------------------------------------------------------------
def test_evaluate_return_forms():
    x, labels, y = make_data(13)
    model = make_model()
    w = model.get_weights()
    loss, acc = np_cce(w, x, labels).mean(), np_accuracy(w, x, labels)
    result = model.evaluate(x, y, batch_size=4, verbose=0)
    assert isinstance(result, list) and result == pytest.approx([loss, acc], rel=1e-5)
    assert model.evaluate(x, y, verbose=0, return_dict=True) == pytest.approx({"loss": loss, "accuracy": acc},
                                                                              rel=1e-5)
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    scalar = model.evaluate(x, y, verbose=0)
    assert isinstance(scalar, float) and scalar == pytest.approx(loss, rel=1e-5)


def test_predict_output():
    x, labels, y = make_data(45)
    model = make_model()
    out = model.predict(x, verbose=0)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32 and out.shape == (45, 3)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(out, np_forward(model.get_weights(), x), rtol=1e-5)
    np.testing.assert_array_equal(model.predict(x, batch_size=7, verbose=0), model.predict(x, batch_size=100,
                                                                                              verbose=0))
    assert model.predict(x.astype(np.float64), verbose=0).dtype == np.float32


def test_predict_evaluate_on_cpu():
    previous = keras.backend.get_device()
    keras.backend.set_device("cpu")
    try:
        x, labels, y = make_data(8)
        model = make_model()
        assert all(p.device.type == "cpu" for p in model.to_torch().parameters())
        out = model.predict(torch.tensor(x, device="cpu"), verbose=0)
        np.testing.assert_allclose(out, np_forward(model.get_weights(), x), rtol=1e-5)
        assert model.evaluate(torch.tensor(x), torch.tensor(y), verbose=0)[0] == pytest.approx(
            np_cce(model.get_weights(), x, labels).mean(), rel=1e-5)
    finally:
        keras.backend.set_device(previous)


def test_numpy_torch_and_lists_give_same_result():
    x, labels, y = make_data(12)
    results = []
    for convert in (np.asarray, torch.tensor, lambda a: a.tolist()):
        clear_session()
        keras.utils.set_random_seed(1)
        model = make_model(lr=0.1)
        history = model.fit(convert(x), convert(y), batch_size=4, epochs=2, verbose=0)
        results.append((history.history["loss"], model.predict(convert(x), verbose=0),
                        model.evaluate(convert(x), convert(y), verbose=0)))
    for other in results[1:]:
        assert other[0] == results[0][0]
        np.testing.assert_array_equal(other[1], results[0][1])
        assert other[2] == results[0][2]


def test_integer_and_uint8_inputs():
    x = np.random.default_rng(0).integers(0, 255, size=(6, 4)).astype(np.uint8)
    model = make_model()
    np.testing.assert_allclose(model.predict(x, verbose=0), np_forward(model.get_weights(), x.astype(np.float64)),
                               rtol=1e-5)


# -- progress output ---------------------------------------------------------------------------
def test_verbose_0_prints_nothing(capsys):
    x, labels, y = make_data(10)
    model = make_model()
    model.fit(x, y, epochs=2, verbose=0, validation_split=0.2)
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    assert capsys.readouterr().out == ""


NUM = r"\d+\.\d{4}(?:e[+-]\d+)?"
TIME = r"\d+(?:s|ms|us)/step"


def test_verbose_2_one_line_per_epoch(capsys):
    x, labels, y = make_data(10)
    model = make_model()
    model.fit(x, y, batch_size=4, epochs=3, verbose=2, validation_split=0.2)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 6
    line_re = re.compile(rf"^2/2 - \d+s - loss: {NUM} - accuracy: {NUM} - val_loss: {NUM} - "
                         rf"val_accuracy: {NUM} - \d+s/epoch - {TIME}$")
    for epoch in range(3):
        assert lines[2 * epoch] == f"Epoch {epoch + 1}/3"
        assert line_re.match(lines[2 * epoch + 1]), lines[2 * epoch + 1]


def test_verbose_1_ends_each_epoch_with_full_bar(capsys):
    x, labels, y = make_data(10)
    model = make_model()
    history = model.fit(x, y, batch_size=4, epochs=2, verbose=1)
    out = capsys.readouterr().out
    # a redrawn terminal line keeps only what follows the last carriage return
    lines = [line.split("\r")[-1] for line in out.splitlines()]
    lines = [line for line in lines if line.strip()]
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2"
    bar_re = re.compile(rf"^3/3 \[==============================\] - \d+s {TIME} - loss: ({NUM}) - "
                        rf"accuracy: ({NUM})\s*$")
    for i, line in enumerate((lines[1], lines[3])):
        match = bar_re.match(line)
        assert match, line
        assert float(match.group(1)) == pytest.approx(history.history["loss"][i], abs=6e-5)


def test_verbose_auto_is_1_and_evaluate_prints_bar(capsys):
    x, labels, y = make_data(10)
    model = make_model()
    history = model.fit(x, y, batch_size=5, epochs=1)
    assert history.params["verbose"] == 1
    model.evaluate(x, y, batch_size=5)
    out = [line.split("\r")[-1] for line in capsys.readouterr().out.splitlines()]
    assert re.match(rf"^2/2 \[=+\] - \d+s {TIME} - loss: {NUM} - accuracy: {NUM}", out[-1]), out[-1]


def test_progbar_redraws_in_place_on_a_terminal():
    """verbose=1 on a terminal: the Keras 2 line ``3/10 [========>....] - ETA: ...`` redrawn with \\r."""
    import io

    from kerastyle.progbar import Progbar

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    bar = Progbar(10, verbose=1, stream=stream, interval=0.0)
    bar.update(3, lambda: {"loss": 0.5, "accuracy": 0.25})
    bar.finish({"loss": 0.4, "accuracy": 0.3})
    frames = stream.getvalue().split("\r")
    assert re.match(r"^ 3/10 \[========>\.{21}\] - ETA: \d+s - loss: 0\.5000 - accuracy: 0\.2500", frames[1]), frames
    assert re.match(rf"^10/10 \[={{30}}\] - \d+s {TIME} - loss: 0\.4000 - accuracy: 0\.3000\s*\n$", frames[2]), frames


def test_to_categorical():
    np.testing.assert_array_equal(keras.utils.to_categorical([0, 2, 1]), [[1, 0, 0], [0, 0, 1], [0, 1, 0]])
    out = keras.utils.to_categorical(np.array([[1], [3]]), num_classes=5)
    assert out.shape == (2, 5) and out.dtype == np.float32
    np.testing.assert_array_equal(out.argmax(axis=1), [1, 3])
    with pytest.raises(ValueError, match=r"label 3.*`num_classes` is 3"):
        keras.utils.to_categorical([0, 3], num_classes=3)


@pytest.mark.parametrize("built", [True, False], ids=["built", "unbuilt-at-compile"])
def test_accuracy_resolution_for_mse_with_one_sigmoid_unit(built):
    """'accuracy' with a loss that does not imply it follows Keras 2's shape rule: one column -> binary."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 3)).astype(np.float32)
    y = (x[:, :1] > 0).astype(np.float32)
    first = Dense(4, activation="relu", input_shape=(3,)) if built else Dense(4, activation="relu")
    model = Sequential([first, Dense(1, activation="sigmoid")])
    model.compile(optimizer=SGD(learning_rate=0.0), loss="mse", metrics=["accuracy"])
    history = model.fit(x, y, verbose=0)
    expected = float(((model.predict(x, verbose=0) > 0.5) == (y > 0.5)).mean())
    assert 0 < expected < 1
    assert history.history["accuracy"][0] == pytest.approx(expected)


@pytest.mark.parametrize("loss, targets", [
    ("categorical_crossentropy", "onehot"), ("sparse_categorical_crossentropy", "labels"), ("mse", "onehot")])
def test_accuracy_resolution_multiclass(loss, targets):
    x, labels, y = make_data(30)
    model = Sequential([Dense(5, activation="tanh"), Dense(3, activation="softmax")])  # unbuilt at compile
    model.compile(optimizer=SGD(learning_rate=0.0), loss=loss, metrics=["accuracy"])
    history = model.fit(x, y if targets == "onehot" else labels, verbose=0)
    assert history.history["accuracy"][0] == pytest.approx(np_accuracy(model.get_weights(), x, labels))


def test_validation_data_with_sample_weight():
    x, labels, y = make_data(10)
    sw = np.arange(1, 11, dtype=np.float32) / 10
    model = make_model()
    history = model.fit(x, y, epochs=1, validation_data=(x, y, sw), verbose=0)
    losses = np_cce(model.get_weights(), x, labels)
    assert history.history["val_loss"][0] == pytest.approx((sw * losses).sum() / 10, rel=1e-5)
    assert history.history["loss"][0] == pytest.approx(losses.mean(), rel=1e-5)


def test_device_choice_errors():
    with pytest.raises(ValueError, match=r"`device`.*'gpu!'"):
        keras.backend.set_device("gpu!")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match=r"`device`.*'cuda'.*CUDA is not available"):
            keras.backend.set_device("cuda")
    assert keras.backend.get_device().type in ("cpu", "cuda")
