"""ModelCheckpoint, CSVLogger, LearningRateScheduler, ReduceLROnPlateau, TerminateOnNaN and
BackupAndRestore (in process; the SIGKILL test is in test_backup_kill.py).

Independent truth: Keras 3's rules worked through by hand for injected monitor values, the
history of the same run, and reference runs done another way (rates set by hand per epoch,
an uninterrupted run for a resumed one).
"""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
import torch

import kerastyle as keras
from kerastyle.callbacks import (
    BackupAndRestore,
    Callback,
    CSVLogger,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TerminateOnNaN,
)
from kerastyle.layers import Dense, Dropout, Input
from kerastyle.models import Sequential, load_model
from kerastyle.optimizers import SGD, Adam
from kerastyle.saving import SavedFileError
from kerastyle.trainers import NonFiniteLossError

X = np.random.default_rng(0).normal(size=(40, 5)).astype(np.float32)
Y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)


def model(optimizer=None, seed=0, loss="sparse_categorical_crossentropy"):
    keras.utils.set_random_seed(seed)
    m = Sequential([Input((5,)), Dense(8, activation="relu"), Dropout(0.3), Dense(2, activation="softmax")])
    m.compile(optimizer=optimizer or Adam(0.01), loss=loss, metrics=["accuracy"])
    return m


def inject(key, values):
    """A callback that puts ``values[epoch]`` into the logs under ``key`` (runs before the ones after it)."""
    return LambdaCallback(on_epoch_end=lambda epoch, logs: logs.__setitem__(key, values[epoch]))


def same_weights(a, b):
    return all(np.array_equal(u, v) for u, v in zip(a, b)) and len(a) == len(b)


# -- ModelCheckpoint --------------------------------------------------------------------------
def test_checkpoint_file_names_are_formatted_with_1_based_epochs_and_logs(tmp_path):
    m = model()
    pattern = str(tmp_path / "ckpt-{epoch:02d}-{val_loss:.2f}.keras")
    history = m.fit(X, Y, epochs=3, batch_size=8, validation_split=0.25, verbose=0,
                    callbacks=[ModelCheckpoint(pattern)])
    expected = sorted(f"ckpt-{e + 1:02d}-{v:.2f}.keras" for e, v in enumerate(history.history["val_loss"]))
    assert sorted(p.name for p in tmp_path.iterdir()) == expected
    last = load_model(tmp_path / expected[-1])
    assert same_weights(last.get_weights(), m.get_weights())


@pytest.mark.parametrize("monitor, mode, values, saved", [
    ("score", "min", [3.0, 1.0, 2.0, 0.5], [1, 2, 4]),
    ("score", "max", [3.0, 1.0, 4.0, 0.5], [1, 3]),
    ("val_acc_like", "auto", [0.2, 0.1, 0.3, 0.3], [1, 3]),  # 'acc' in the name: higher is better
    ("score", "auto", [3.0, 1.0, 2.0, 0.5], [1, 2, 4]),  # otherwise lower is better
])
def test_save_best_only_saves_improving_epochs(tmp_path, monitor, mode, values, saved):
    snapshots = {}
    m = model()
    record = LambdaCallback(on_epoch_end=lambda epoch, logs: snapshots.__setitem__(epoch + 1, m.get_weights()))
    checkpoint = ModelCheckpoint(str(tmp_path / "best-{epoch}.keras"), monitor=monitor, mode=mode,
                                 save_best_only=True)
    m.fit(X, Y, epochs=4, batch_size=8, verbose=0, callbacks=[inject(monitor, values), record, checkpoint])
    assert sorted(int(p.stem.split("-")[1]) for p in tmp_path.iterdir()) == saved
    for epoch in saved:
        assert same_weights(load_model(tmp_path / f"best-{epoch}.keras").get_weights(), snapshots[epoch])


def test_save_best_only_overwrites_one_file_with_the_best_epoch(tmp_path, capsys):
    snapshots = {}
    m = model()
    record = LambdaCallback(on_epoch_end=lambda epoch, logs: snapshots.__setitem__(epoch, m.get_weights()))
    checkpoint = ModelCheckpoint(str(tmp_path / "best.weights"), monitor="score", save_best_only=True,
                                 save_weights_only=True, verbose=1)
    m.fit(X, Y, epochs=4, batch_size=8, verbose=0,
          callbacks=[inject("score", [2.0, 1.0, 1.5, 1.2]), record, checkpoint])
    out = capsys.readouterr().out
    assert "Epoch 2: score improved from 2.00000 to 1.00000, saving model to" in out
    assert "Epoch 3: score did not improve from 1.00000" in out
    with pytest.raises(SavedFileError, match="weights only"):
        load_model(tmp_path / "best.weights")
    fresh = model(seed=5)
    fresh.load_weights(tmp_path / "best.weights")
    assert same_weights(fresh.get_weights(), snapshots[1])


def test_checkpoint_errors_are_clear(tmp_path):
    with pytest.raises(ValueError, match="ModelCheckpoint: argument `mode` must be"):
        ModelCheckpoint(str(tmp_path / "x"), mode="best")
    with pytest.raises(ValueError, match="`save_freq` must be 'epoch'"):
        ModelCheckpoint(str(tmp_path / "x"), save_freq=10)
    with pytest.raises(ValueError, match=r"cannot format filepath .*\{val_los\}.*val_loss"):
        model().fit(X, Y, epochs=1, verbose=0, validation_split=0.25,
                    callbacks=[ModelCheckpoint(str(tmp_path / "m-{val_los}.keras"))])
    with pytest.warns(UserWarning, match="only with 'val_loss' in the logs"):
        model().fit(X, Y, epochs=1, verbose=0, callbacks=[ModelCheckpoint(str(tmp_path / "m"), save_best_only=True)])
    assert not (tmp_path / "m").exists()


# -- CSVLogger ---------------------------------------------------------------------------------
def test_csv_logger_writes_the_history(tmp_path):
    path = tmp_path / "log.csv"
    history = model().fit(X, Y, epochs=3, batch_size=8, validation_split=0.25, verbose=0,
                          callbacks=[CSVLogger(str(path))])
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    keys = sorted(history.history)
    assert rows[0] == ["epoch", *keys] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [int(r[0]) for r in rows[1:]] == [0, 1, 2]
    for column, key in enumerate(keys, start=1):
        assert [float(r[column]) for r in rows[1:]] == history.history[key]  # repr floats: exact


def test_csv_logger_append_and_separator(tmp_path):
    path = tmp_path / "log.tsv"
    m = model()
    m.fit(X, Y, epochs=2, verbose=0, callbacks=[CSVLogger(str(path), separator="\t")])
    m.fit(X, Y, epochs=4, initial_epoch=2, verbose=0, callbacks=[CSVLogger(str(path), separator="\t", append=True)])
    lines = path.read_text().splitlines()
    assert lines[0] == "epoch\taccuracy\tloss"
    assert [line.split("\t")[0] for line in lines[1:]] == ["0", "1", "2", "3"]
    m.fit(X, Y, epochs=1, verbose=0, callbacks=[CSVLogger(str(path), separator="\t")])  # append=False: anew
    assert len(path.read_text().splitlines()) == 2
    with pytest.raises(ValueError, match="`separator` must be a single character"):
        CSVLogger(str(path), separator=", ")


# -- LearningRateScheduler ---------------------------------------------------------------------
def test_scheduler_sets_the_rate_each_epoch_like_setting_it_by_hand():
    def schedule(epoch, lr):
        return lr if epoch < 2 else lr * 0.5

    scheduled = model(SGD(0.1, momentum=0.9))
    history = scheduled.fit(X, Y, epochs=5, batch_size=8, verbose=0, callbacks=[LearningRateScheduler(schedule)])
    assert history.history["learning_rate"] == [0.1, 0.1, 0.05, 0.025, 0.0125]

    by_hand = model(SGD(0.1, momentum=0.9))
    for epoch, lr in enumerate([0.1, 0.1, 0.05, 0.025, 0.0125]):
        by_hand.optimizer.learning_rate = lr
        by_hand.fit(X, Y, epochs=epoch + 1, initial_epoch=epoch, batch_size=8, verbose=0)
    assert same_weights(scheduled.get_weights(), by_hand.get_weights())
    assert not same_weights(scheduled.get_weights(), model(SGD(0.1, momentum=0.9)).get_weights())


def test_scheduler_keras2_one_argument_form_and_bad_output(capsys):
    history = model().fit(X, Y, epochs=3, verbose=0,
                          callbacks=[LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1), verbose=1)])
    assert history.history["learning_rate"] == [0.1, 0.05, 0.1 / 3]
    assert "Epoch 2: LearningRateScheduler setting learning rate to 0.05." in capsys.readouterr().out
    with pytest.raises(ValueError, match=r"`schedule` must return a finite number >= 0, got 'fast' for epoch 0"):
        model().fit(X, Y, epochs=1, verbose=0, callbacks=[LearningRateScheduler(lambda e, lr: "fast")])
    history = model().fit(X, Y, epochs=1, verbose=0, callbacks=[LearningRateScheduler(lambda e, lr: np.float32(0.5))])
    assert history.history["learning_rate"] == [0.5]
    with pytest.raises(TypeError, match="`schedule` must be a function"):
        LearningRateScheduler(0.1)


# -- ReduceLROnPlateau ------------------------------------------------------------------------
def test_reduce_lr_on_plateau_follows_keras_rules():
    # Keras's rules by hand, lr 0.1, patience 2, factor 0.5, cooldown 1, min_lr 0.02, a flat monitor:
    # reductions after epochs 2, 4 and 6 (0-based); the last is clipped to min_lr; then no more.
    flat = [1.0] * 9
    reduce = ReduceLROnPlateau(monitor="score", factor=0.5, patience=2, cooldown=1, min_lr=0.02)
    m = model(SGD(0.1))
    history = m.fit(X, Y, epochs=9, verbose=0, callbacks=[inject("score", flat), reduce])
    assert history.history["learning_rate"] == [0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.02, 0.02]
    assert m.optimizer.learning_rate == 0.02


def test_reduce_lr_on_plateau_improvement_resets_the_wait(capsys):
    values = [1.0, 0.99995, 0.5, 0.6, 0.7]  # 0.99995 is within min_delta: not an improvement
    m = model(SGD(0.1))
    history = m.fit(X, Y, epochs=5, verbose=0,
                    callbacks=[inject("score", values), ReduceLROnPlateau("score", patience=2, verbose=1)])
    assert history.history["learning_rate"] == [0.1, 0.1, 0.1, 0.1, 0.1]
    assert math.isclose(m.optimizer.learning_rate, 0.01)
    assert "Epoch 5: ReduceLROnPlateau reducing learning rate to 0.010000000000000002." in capsys.readouterr().out
    with pytest.raises(ValueError, match=r"`factor` must be a finite number in \[0.0, 1.0\), got 1.5"):
        ReduceLROnPlateau(factor=1.5)


# -- TerminateOnNaN -----------------------------------------------------------------------------
def nan_at(call):
    """An MSE loss that returns NaN on its ``call``-th evaluation."""
    calls = []

    def loss(y_true, y_pred):
        calls.append(1)
        value = ((y_true - y_pred) ** 2).mean(dim=-1)
        return value * float("nan") if len(calls) == call else value
    return loss


def test_terminate_on_nan_stops_quietly_with_the_last_finite_weights(capsys):
    x, y = X[:16], X[:16, :2]
    after_batch, ended = [], []
    m = Sequential([Input((5,)), Dense(2)])
    m.compile(SGD(0.01), loss=nan_at(6))  # 4 batches per epoch: NaN at epoch 1, batch 1
    history = m.fit(x, y, epochs=3, batch_size=4, verbose=0, callbacks=[
        TerminateOnNaN(),
        LambdaCallback(on_train_batch_end=lambda batch, logs: after_batch.append(m.get_weights()),
                       on_train_end=lambda logs: ended.append(1))])
    assert "Batch 1: Invalid loss, terminating training" in capsys.readouterr().out
    assert m.stop_training and ended == [1]
    assert history.epoch == [0] and len(history.history["loss"]) == 1  # the cut epoch is not recorded
    assert len(after_batch) == 6  # 5 finite batches, then the NaN one (its hooks see loss=nan, as in Keras)
    assert same_weights(m.get_weights(), after_batch[-2])  # the NaN batch's update was not applied


def test_without_terminate_on_nan_fit_raises():
    m = Sequential([Input((5,)), Dense(2)])
    m.compile(SGD(0.01), loss=nan_at(6))
    with pytest.raises(NonFiniteLossError, match="epoch 2, batch 2 of 4"):
        m.fit(X[:16], X[:16, :2], epochs=3, batch_size=4, verbose=0)


# -- BackupAndRestore (in process; SIGKILL in test_backup_kill.py) ------------------------------------
class Interrupt(Exception):
    pass


def backup_run(backup_dir, interrupt=None):
    """5 epochs with Dropout, a validation split, a rate schedule that depends on the previous rate
    and numpy/python random draws logged each epoch; ``interrupt=(hook, epoch, batch)`` raises there.
    Returns the model, its history and the epochs this call ran."""
    import random

    ran = []

    def hook(name):
        def fn(*args):
            if interrupt and interrupt[0] == name and (name == "on_train_end" or args[0] == interrupt[1]) \
                    and (name != "on_train_batch_begin" or model_.history.epoch[-1:] == [interrupt[1] - 1]):
                raise Interrupt(name)
        return fn

    def draws(epoch, logs):
        logs["np_draw"] = float(np.random.random())
        logs["py_draw"] = random.random()

    model_ = model(Adam(0.02))
    callbacks = [LearningRateScheduler(lambda epoch, lr: lr * 0.8),
                 LambdaCallback(on_epoch_begin=lambda epoch, logs: ran.append(epoch), on_epoch_end=draws),
                 LambdaCallback(on_train_batch_begin=hook("on_train_batch_begin"),
                                on_epoch_end=hook("on_epoch_end"), on_train_end=hook("on_train_end")),
                 BackupAndRestore(backup_dir)]
    history = model_.fit(X, Y, epochs=5, batch_size=8, validation_split=0.2, verbose=0, callbacks=callbacks)
    return model_, history, ran


@pytest.mark.parametrize("interrupt, resumes_at", [
    (("on_train_batch_begin", 2, 2), 2),  # mid-epoch 2: epochs 0-1 are backed up
    (("on_epoch_end", 2, None), 2),  # epoch 2 finished but its backup was not written yet
    (("on_epoch_end", 0, None), 0),  # no backup at all yet
    (("on_train_end", None, None), 5),  # all epochs backed up, cleanup not reached
], ids=["mid-epoch", "before-backup", "first-epoch", "before-cleanup"])
def test_interrupted_run_resumes_with_identical_results(tmp_path, interrupt, resumes_at):
    reference, ref_history, ran = backup_run(tmp_path / "ref")
    assert ran == [0, 1, 2, 3, 4] and not (tmp_path / "ref").exists()  # deleted after a normal end

    backup_dir = tmp_path / "backup"
    with pytest.raises(Interrupt):
        backup_run(backup_dir, interrupt)
    assert (backup_dir / "backup.kerastyle").exists() == (resumes_at > 0)
    resumed, history, ran = backup_run(backup_dir)
    assert ran == list(range(resumes_at, 5))
    assert history.epoch == [0, 1, 2, 3, 4]
    assert history.history == ref_history.history  # losses, metrics, learning_rate, numpy/python draws
    assert same_weights(resumed.get_weights(), reference.get_weights())
    assert resumed.optimizer.iterations == reference.optimizer.iterations == 5 * 4  # 32 training rows, batches of 8
    assert not backup_dir.exists()


def test_backup_of_another_model_is_refused_and_nothing_changes(tmp_path):
    other = Sequential([Input((5,)), Dense(3, activation="softmax")])
    other.compile("adam", "sparse_categorical_crossentropy")

    def stop_at_epoch_1(epoch, logs):
        if epoch == 1:
            raise Interrupt()
    with pytest.raises(Interrupt):
        other.fit(X, Y, epochs=3, verbose=0,
                  callbacks=[LambdaCallback(on_epoch_begin=stop_at_epoch_1), BackupAndRestore(tmp_path)])
    m = model()
    before = m.get_weights()
    with pytest.raises(SavedFileError, match="holds weights for 1 layers .* has 2 layers"):
        m.fit(X, Y, epochs=3, verbose=0, callbacks=[BackupAndRestore(tmp_path)])
    assert same_weights(m.get_weights(), before)


def test_backup_and_restore_argument_errors():
    with pytest.raises(ValueError, match="`backup_dir` must be a non-empty path"):
        BackupAndRestore("")
    with pytest.raises(ValueError, match="`save_freq` must be 'epoch'"):
        BackupAndRestore("/tmp/x", save_freq=100)


def test_callbacks_before_history_see_their_keys_recorded():
    class Extra(Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["extra"] = epoch * 2.0

    assert model().fit(X, Y, epochs=2, verbose=0, callbacks=[Extra()]).history["extra"] == [0.0, 2.0]


def test_backup_restores_a_plain_torch_optimizer_too(tmp_path):
    def run(interrupt):
        keras.utils.set_random_seed(0)
        m = Sequential([Input((5,)), Dense(8, activation="relu"), Dense(2, activation="softmax")])
        m.compile(optimizer=torch.optim.Adam(m.to_torch().parameters(), lr=0.01, betas=(0.8, 0.9)),
                  loss="sparse_categorical_crossentropy")
        ran = []

        def begin(epoch, logs):
            ran.append(epoch)
            if interrupt and epoch == 2:
                raise Interrupt()
        m.fit(X, Y, epochs=4, batch_size=8, verbose=0,
              callbacks=[LambdaCallback(on_epoch_begin=begin), BackupAndRestore(tmp_path / "b")])
        return m, ran

    reference, _ = run(False)
    with pytest.raises(Interrupt):
        run(True)
    resumed, ran = run(False)
    assert ran == [2, 3]
    assert same_weights(resumed.get_weights(), reference.get_weights())
    assert resumed.optimizer.param_groups[0]["betas"] == (0.8, 0.9)
    assert float(resumed.optimizer.state[resumed.to_torch()[0].kernel]["step"]) == 4 * 5
