"""Keras callbacks: hooks called by ``fit`` at the start and end of training,
epochs and batches, plus ``History``, ``EarlyStopping`` and (docs/saving.md)
``ModelCheckpoint``, ``CSVLogger``, ``LearningRateScheduler``, ``ReduceLROnPlateau``,
``TerminateOnNaN`` and ``BackupAndRestore``.

Batch hooks cost something on the hot path, so ``CallbackList`` calls them only
for callbacks that override them.
"""

from __future__ import annotations

import copy
import csv
import inspect
import math
import numbers
import os
import warnings

from . import optimizers, saving


class Callback:
    """Base class. Override any hook; ``self.model`` and ``self.params`` are set by fit."""

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_train_batch_begin(self, batch, logs=None): pass
    def on_train_batch_end(self, batch, logs=None): pass
    def on_test_begin(self, logs=None): pass
    def on_test_end(self, logs=None): pass


def _overrides(callback, hook: str) -> bool:
    return hook in vars(callback) or getattr(type(callback), hook) is not getattr(Callback, hook)


class CallbackList:
    """Dispatches hooks to callbacks; knows once which ones want batch hooks."""

    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"Argument `callbacks` must hold Callback instances, got {cb!r}.")
            cb.set_model(model)
            cb.set_params(params)
        self.batch_begin = [cb for cb in self.callbacks if _overrides(cb, "on_train_batch_begin")]
        self.batch_end = [cb for cb in self.callbacks if _overrides(cb, "on_train_batch_end")]

    def call(self, hook: str, *args):
        for cb in self.callbacks:
            getattr(cb, hook)(*args)


class History(Callback):
    """Records the logs of every epoch: ``history.history['val_loss'][i]``."""

    def __init__(self):
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs=None):
        self.epoch = []
        self.history = {}

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    def plot(self, metrics=None, path=None):
        """Loss and metrics per epoch, training and validation (see ``plot_history``)."""
        from .plotting import plot_history
        return plot_history(self, metrics=metrics, path=path)

    def __repr__(self):
        last = {k: round(v[-1], 4) for k, v in self.history.items() if v}
        return f"<History epochs={len(self.epoch)} final={last}>"


def _improvement_mode(monitor: str, mode: str, owner: str) -> str:
    """Keras's rule for mode='auto': higher is better for accuracies, lower for everything else."""
    if not isinstance(monitor, str):
        raise TypeError(f"{owner}: argument `monitor` must be a log key such as 'val_loss', got {monitor!r}.")
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{owner}: argument `mode` must be 'auto', 'min' or 'max', got {mode!r}.")
    if mode == "auto":
        return "max" if "acc" in monitor or monitor.startswith("fmeasure") else "min"
    return mode


class EarlyStopping(Callback):
    """Stop training when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    With ``restore_best_weights=True`` the best epoch's weights are restored when
    training ends (Keras 3 behaviour: also when training ran to the last epoch).
    """

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        if patience < 0:
            raise ValueError(f"EarlyStopping: argument `patience` must be >= 0, got {patience!r}.")
        self.monitor = monitor
        self.mode = _improvement_mode(monitor, mode, "EarlyStopping")
        self.min_delta = abs(min_delta)
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch

    def _improved(self, value, reference):
        if reference is None:
            return True
        if self.mode == "min":
            return value < reference - self.min_delta
        return value > reference + self.min_delta

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_epoch = 0
        self.best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(f"EarlyStopping is conditioned on {self.monitor!r}, which is not in the logs. "
                          f"Available: {', '.join(logs or {})}.", stacklevel=2)
            return
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = copy.deepcopy(self.model.get_weights())
        self.wait += 1
        if self._improved(value, self.best):
            self.best, self.best_epoch = value, epoch
            if self.restore_best_weights:
                self.best_weights = copy.deepcopy(self.model.get_weights())
            if self.baseline is None or self._improved(value, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``."""

    def __init__(self, **hooks):
        super().__init__()
        for name, fn in hooks.items():
            if not hasattr(Callback, name):
                raise ValueError(f"LambdaCallback: unknown hook {name!r}.")
            setattr(self, name, fn)


# -- saving, logging and learning-rate callbacks (see docs/saving.md) -------------------------------
def _check_number(owner, arg, value, low=None, high=None, high_open=False):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (low is None or value >= low) and (high is None or (value < high if high_open else value <= high))
    if not ok:
        bounds = "" if low is None else f" >= {low}"
        if high is not None:
            bounds = f" in [{low}, {high}{')' if high_open else ']'}"
        raise ValueError(f"{owner}: argument `{arg}` must be a finite number{bounds}, got {value!r}.")
    return value


def _checked_path_and_freq(owner, arg, path, save_freq) -> str:
    """``path`` as a string for a callback that writes files once per epoch; clear errors otherwise."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{owner}: argument `{arg}` must be a non-empty path, got {path!r}.")
    if not os.fspath(path):
        raise ValueError(f"{owner}: argument `{arg}` must be a non-empty path, got {path!r}.")
    if save_freq != "epoch":
        raise ValueError(f"{owner}: argument `save_freq` must be 'epoch' (writing every N batches is not "
                         f"supported), got {save_freq!r}.")
    return os.fspath(path)


def _learning_rate(model, owner) -> float:
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        raise RuntimeError(f"{owner} needs a compiled model: call model.compile(optimizer=...) first.")
    if isinstance(optimizer, optimizers.Optimizer):
        return float(optimizer.learning_rate)
    return float(optimizer.param_groups[0]["lr"])


def _set_learning_rate(model, value: float) -> None:
    if isinstance(model.optimizer, optimizers.Optimizer):
        model.optimizer.learning_rate = float(value)
    else:  # a plain torch optimizer
        for group in model.optimizer.param_groups:
            group["lr"] = float(value)


class ModelCheckpoint(Callback):
    """Save the model (or its weights) at the end of every epoch, or only when ``monitor`` improves.

    ``filepath`` may hold ``{epoch}`` (1-based, as Keras), ``{epoch:02d}`` and any log key such as
    ``{val_loss:.2f}``. Files are written atomically by ``model.save``/``model.save_weights``.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__()
        self.filepath = _checked_path_and_freq("ModelCheckpoint", "filepath", filepath, save_freq)
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        self.mode = _improvement_mode(monitor, mode, "ModelCheckpoint")
        if initial_value_threshold is not None:
            _check_number("ModelCheckpoint", "initial_value_threshold", initial_value_threshold)
        self.best = initial_value_threshold
        if self.best is None:
            self.best = math.inf if self.mode == "min" else -math.inf

    def _format(self, epoch, logs) -> str:
        try:
            return self.filepath.format(epoch=epoch + 1, **logs)
        except (KeyError, IndexError, ValueError) as err:
            raise ValueError(f"ModelCheckpoint: cannot format filepath {self.filepath!r} ({type(err).__name__}: "
                             f"{err}); it may use {{epoch}} and the log keys {', '.join(sorted(logs))}.") from None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        path = self._format(epoch, logs)
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                warnings.warn(f"ModelCheckpoint: can save the best model only with {self.monitor!r} in the logs "
                              f"(available: {', '.join(sorted(logs))}); skipping.", stacklevel=2)
                return
            better = current < self.best if self.mode == "min" else current > self.best
            if not better:
                if self.verbose:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")
                return
            if self.verbose:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to {current:.5f}, "
                      f"saving model to {path}")
            self.best = current
        elif self.verbose:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)


class CSVLogger(Callback):
    """Append one row per epoch (``epoch`` 0-based, then the log keys in sorted order) to a CSV file.

    Each row is written and closed at its epoch's end, so the file survives a crash. ``append=True``
    continues an existing file (use it with BackupAndRestore, whose resumed run starts mid-way).
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        if not isinstance(filename, (str, os.PathLike)) or not os.fspath(filename):
            raise TypeError(f"CSVLogger: argument `filename` must be a non-empty path, got {filename!r}.")
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(f"CSVLogger: argument `separator` must be a single character, got {separator!r}.")
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = bool(append)
        self.keys = None
        self._header = True

    def on_train_begin(self, logs=None):
        self.keys = None
        if self.append and os.path.exists(self.filename):
            self._header = os.path.getsize(self.filename) == 0
        else:
            self._header = True
            with open(self.filename, "w", newline=""):
                pass

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
        with open(self.filename, "a", newline="") as handle:
            writer = csv.writer(handle, delimiter=self.sep)
            if self._header:
                writer.writerow(["epoch", *self.keys])
                self._header = False
            writer.writerow([epoch, *(logs.get(key, "NA") for key in self.keys)])


class LearningRateScheduler(Callback):
    """Set the learning rate at each epoch start to ``schedule(epoch, lr)`` (or ``schedule(epoch)``,
    Keras 2's form); logs it as ``learning_rate``. ``epoch`` is 0-based."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"LearningRateScheduler: argument `schedule` must be a function (epoch, lr) -> lr, "
                            f"got {schedule!r}.")
        self.schedule = schedule
        self.verbose = verbose
        try:
            inspect.signature(schedule).bind(0, 0.1)
            self._two_args = True
        except TypeError:
            self._two_args = False
        except ValueError:  # builtins without a signature
            self._two_args = True

    def on_epoch_begin(self, epoch, logs=None):
        lr = _learning_rate(self.model, "LearningRateScheduler")
        new = self.schedule(epoch, lr) if self._two_args else self.schedule(epoch)
        if isinstance(new, bool) or not isinstance(new, numbers.Real) or not math.isfinite(new) or new < 0:
            raise ValueError(f"LearningRateScheduler: `schedule` must return a finite number >= 0, got {new!r} "
                             f"for epoch {epoch}.")
        _set_learning_rate(self.model, new)
        if self.verbose:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {float(new)}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = _learning_rate(self.model, "LearningRateScheduler")


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved by ``min_delta`` for
    ``patience`` epochs, then wait ``cooldown`` epochs; never below ``min_lr``. Logs ``learning_rate``
    (the rate the epoch trained with). Keras 3's rules and defaults."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0):
        super().__init__()
        owner = "ReduceLROnPlateau"
        _check_number(owner, "factor", factor, 0.0, 1.0, high_open=True)
        for arg, value in (("patience", patience), ("cooldown", cooldown)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{owner}: argument `{arg}` must be an integer >= 0, got {value!r}.")
        _check_number(owner, "min_delta", min_delta)
        _check_number(owner, "min_lr", min_lr, 0.0)
        self.monitor = monitor
        self.factor = float(factor)
        self.patience = patience
        self.verbose = verbose
        self.mode = _improvement_mode(monitor, mode, owner)
        self.min_delta = min_delta
        self.cooldown = cooldown
        self.min_lr = float(min_lr)
        self._reset()

    def _reset(self):
        self.best = math.inf if self.mode == "min" else -math.inf
        self.wait = 0
        self.cooldown_counter = 0

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        lr = _learning_rate(self.model, "ReduceLROnPlateau")
        logs["learning_rate"] = lr
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"ReduceLROnPlateau is conditioned on {self.monitor!r}, which is not in the logs "
                          f"(available: {', '.join(sorted(logs))}).", stacklevel=2)
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        improved = (current < self.best - self.min_delta if self.mode == "min"
                    else current > self.best + self.min_delta)
        if improved:
            self.best = current
            self.wait = 0
        elif self.cooldown_counter == 0:
            self.wait += 1
            if self.wait >= self.patience and lr > self.min_lr:
                new = max(lr * self.factor, self.min_lr)
                _set_learning_rate(self.model, new)
                if self.verbose:
                    print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}.")
                self.cooldown_counter = self.cooldown
                self.wait = 0


class TerminateOnNaN(Callback):
    """Stop training quietly when a batch's loss is NaN or infinite.

    Without this callback ``fit`` raises ``NonFiniteLossError`` in that case. With it, ``fit`` prints
    ``Batch N: Invalid loss, terminating training`` (as Keras), sets ``model.stop_training``, calls
    ``on_train_end`` and returns the history. Either way the non-finite batch's update is not applied,
    so the weights are those of the last finite step, and the interrupted epoch is not added to the
    history (its averages would cover part of an epoch).
    """

    def on_nonfinite_loss(self, epoch, batch, value):
        """Called by ``fit`` (instead of raising) when batch ``batch`` of ``epoch`` gave loss ``value``."""
        print(f"Batch {batch}: Invalid loss, terminating training")
        self.model.stop_training = True


class BackupAndRestore(Callback):
    """Back up the whole training state at every epoch end; a restarted ``fit`` resumes from it.

    The backup, ``<backup_dir>/backup.kerastyle`` (written atomically: temporary file, fsync,
    rename), holds the weights, the optimizer state, the number of completed epochs, the history so
    far and the states of the torch, numpy and python random generators. A run killed at any
    point, SIGKILL included, and started again with the same call resumes after its last completed
    epoch and ends with exactly the weights and history of an uninterrupted run. ``fit`` runs this
    callback after all others, so the backup includes what they logged. The backup is deleted when
    training ends normally (``delete_checkpoint=True``); after an exception it stays for the next
    run. The internal counters of other callbacks (EarlyStopping, ReduceLROnPlateau) are not
    backed up, so they restart after a resume.
    """

    FILENAME = "backup.kerastyle"

    def __init__(self, backup_dir, save_freq="epoch", delete_checkpoint=True):
        super().__init__()
        self.backup_dir = _checked_path_and_freq("BackupAndRestore", "backup_dir", backup_dir, save_freq)
        self.delete_checkpoint = bool(delete_checkpoint)

    @property
    def filepath(self) -> str:
        return os.path.join(self.backup_dir, self.FILENAME)

    def on_train_begin(self, logs=None):
        if os.path.isdir(self.backup_dir):  # temporary files left by a run killed while writing
            for name in os.listdir(self.backup_dir):
                if name.startswith(f".{self.FILENAME}.") and name.endswith(".tmp"):
                    os.unlink(os.path.join(self.backup_dir, name))
        if os.path.exists(self.filepath):
            self.model._resume_epoch = saving.restore_backup(self.model, self.filepath, self.model.history)

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(self.backup_dir, exist_ok=True)
        saving.write_backup(self.model, self.filepath, epoch + 1, self.model.history)

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and os.path.exists(self.filepath):
            os.unlink(self.filepath)
            try:
                os.rmdir(self.backup_dir)  # only if nothing else is in it
            except OSError:
                pass
