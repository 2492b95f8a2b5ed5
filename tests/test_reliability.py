"""Issue 13 (reliability): each misuse found by sampling, with the behaviour or message it must give.

Groups as in the issue: accepted silently, obscure errors, unbounded or leftover work. The
dataset cases (load_data(path=...), inflating .gz) are tested with the datasets."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import warnings
import zipfile

import numpy as np
import pytest
import torch

import kerastyle as keras
from kerastyle import callbacks, layers, optimizers
from kerastyle.models import Sequential, load_model
from kerastyle.saving import file_format
from kerastyle.saving.file_format import SavedFileError
from kerastyle.trainers.trainer import NonFiniteLossError

RNG = np.random.default_rng(0)
X = RNG.random((40, 4)).astype(np.float32)
Y = RNG.random((40, 3)).astype(np.float32)


def raises(exc, *fragments):
    """pytest.raises requiring every fragment (plain text, not regex) in the message."""
    return pytest.raises(exc, match="(?s)" + "".join(f"(?=.*{re.escape(f)})" for f in fragments))


def dense_model(units=3, optimizer="sgd", loss="mse", **kwargs):
    model = Sequential([layers.Dense(units, input_shape=(4,), **kwargs)])
    model.compile(optimizer=optimizer, loss=loss)
    return model


def weights_finite(model) -> bool:
    return all(np.isfinite(w).all() for w in model.get_weights())


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def repack(path, out, config=None, optimizer=None):
    """A valid kerastyle file (fresh checksum) with config.json / optimizer.json edited: what an
    attacker or a careless hand-edit produces."""
    with zipfile.ZipFile(path) as archive:
        entries = {info.filename: archive.read(info) for info in archive.infolist()}
    for name, edit in (("config.json", config), ("optimizer.json", optimizer)):
        if edit is not None:
            doc = json.loads(entries[name])
            edit(doc)
            entries[name] = json.dumps(doc).encode()
    out.write_bytes(file_format.pack(entries))
    return out


# == accepted silently ==========================================================================
@pytest.mark.parametrize("make, name", [(lambda: optimizers.SGD(learnig_rate=0.5), "learnig_rate"),
                                        (lambda: optimizers.Adam(beta1=0.5), "beta1"),
                                        (lambda: optimizers.RMSprop(foo=1), "foo")])
def test_misspelled_optimizer_arguments_are_refused(make, name):
    with raises(TypeError, "not recognized", name, "Valid arguments", "learning_rate"):
        make()


def test_keras2_optimizer_spellings_stay_accepted():
    assert optimizers.SGD(lr=0.5).learning_rate == pytest.approx(0.5)
    assert optimizers.Adam(lr=0.25, decay=0.0).learning_rate == pytest.approx(0.25)
    assert Sequential([layers.Dense(3, input_dim=4)]).input_shape == (None, 4)


@pytest.mark.parametrize("make, name", [(lambda: layers.Dense(3, untis=4), "untis"),
                                        (lambda: keras.losses.MeanSquaredError(foo=1), "foo"),
                                        (lambda: keras.metrics.Accuracy(foo=1), "foo"),
                                        (lambda: callbacks.EarlyStopping(patiense=3), "patiense"),
                                        (lambda: callbacks.ModelCheckpoint("m.keras", save_best=True),
                                         "save_best"),
                                        (lambda: callbacks.TerminateOnNaN(verbose=1), "verbose"),
                                        (lambda: callbacks.LambdaCallback(on_epoch_ned=print), "on_epoch_ned"),
                                        (lambda: keras.metrics.MeanMetricWrapper(
                                            lambda y, p: (y - p).abs().mean(-1), treshold=0.5), "treshold")])
def test_unknown_keyword_arguments_are_refused_everywhere(make, name):
    with pytest.raises(TypeError) as info:
        make()
    message = str(info.value)
    assert name in message and re.search("valid|takes no arguments", message, re.I), message


def test_update_that_makes_the_weights_non_finite_stops_with_weights_restored():
    # One batch at learning_rate=1e38: the loss is finite, the update is not.
    model = dense_model(units=1, optimizer=optimizers.SGD(learning_rate=1e38))
    x = RNG.random((8, 4)).astype(np.float32) * 10
    y = x.sum(axis=1, keepdims=True)
    with raises(NonFiniteLossError, "made the weights non-finite", "restored"):
        model.fit(x, y, batch_size=8, epochs=3, verbose=0)
    assert weights_finite(model)


def test_saturated_tanh_with_huge_rate_never_leaves_non_finite_weights():
    model = Sequential([layers.Dense(8, activation="tanh", input_shape=(4,)), layers.Dense(1)])
    model.compile(optimizer=optimizers.SGD(learning_rate=1e30), loss="mse")
    x = RNG.random((32, 4)).astype(np.float32) * 1e3
    with pytest.raises(NonFiniteLossError):
        model.fit(x, x[:, :1], epochs=5, batch_size=8, verbose=0)
    assert weights_finite(model)


def test_model_call_is_inference_unless_training_is_passed():
    model = Sequential([layers.Dense(32, input_shape=(4,)), layers.Dropout(0.5)])
    x = torch.ones(5, 4)
    first, second = model(x), model(x)
    assert torch.equal(first, second)
    assert not torch.equal(model(x, training=True), first)  # 32 x 5 units: dropping none has odds 2**-160


def test_one_layer_object_means_one_set_of_weights():
    shared = layers.Dense(2, input_shape=(4,))
    a, b = Sequential([shared]), Sequential([shared])
    b.set_weights([np.full((4, 2), 0.5, np.float32), np.array([1.0, -1.0], np.float32)])
    expected = X @ np.full((4, 2), 0.5) + np.array([1.0, -1.0])
    for model in (a, b):
        np.testing.assert_allclose(model.predict(X, verbose=0), expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(model.get_weights()[0], np.full((4, 2), 0.5))


def test_non_integer_shapes_are_refused_not_truncated(tmp_path):
    with raises(ValueError, "input_shape", "4.5", "not an integer"):
        layers.Dense(3, input_shape=(4.5,))
    model = dense_model()
    model.save(tmp_path / "m.keras")

    def fractional(doc):
        doc["config"]["build_input_shape"] = [1.5, 4]
    with raises(SavedFileError, "input shape [1.5, 4]", "(None, 4)", "Nothing was loaded"):
        load_model(repack(tmp_path / "m.keras", tmp_path / "edited.keras", config=fractional))


def test_overwrite_false_is_one_atomic_step(tmp_path, monkeypatch):
    """The existence check and the publication are one step (a hard link fails if the target exists),
    so a file created by another process after the check is never replaced."""
    path = tmp_path / "m.keras"
    path.write_bytes(b"written by another process")
    monkeypatch.setattr(file_format.os.path, "lexists", lambda p: False)  # the check ran before that write
    with raises(FileExistsError, str(path), "overwrite=False"):
        dense_model().save(path, overwrite=False)
    monkeypatch.undo()
    assert path.read_bytes() == b"written by another process"
    assert os.listdir(tmp_path) == ["m.keras"]  # the temporary file was removed


def test_concurrent_saves_with_overwrite_false_let_exactly_one_win(tmp_path):
    path = tmp_path / "m.keras"
    models = [dense_model() for _ in range(6)]
    start, outcomes = threading.Barrier(len(models)), []

    def save(model):
        start.wait()
        try:
            model.save(path, overwrite=False)
            outcomes.append(("saved", model))
        except FileExistsError:
            outcomes.append(("refused", model))
    threads = [threading.Thread(target=save, args=(m,)) for m in models]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [m for outcome, m in outcomes if outcome == "saved"]
    assert len(winners) == 1 and len(outcomes) == len(models)
    np.testing.assert_array_equal(load_model(path).get_weights()[0], winners[0].get_weights()[0])
    assert os.listdir(tmp_path) == ["m.keras"]


def test_inputs_far_outside_the_usual_scale_warn_once_per_fit():
    model = dense_model()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X * 1e4, Y, epochs=3, verbose=0, callbacks=[callbacks.TerminateOnNaN()])
    scale = [w for w in caught if "far outside the usual scale" in str(w.message)]
    largest = float(np.abs(X * 1e4).max())
    assert len(scale) == 1 and f"max |x| = {largest:.3g}" in str(scale[0].message)
    assert scale[0].filename == __file__  # points at the user's fit call
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dense_model().fit(np.round(X * 255), Y, verbose=0)  # pixels 0..255: the usual scale
        dense_model().fit((X * 1e5).astype(np.int64), Y, verbose=0,  # integer data (counts, ids): not checked
                          callbacks=[callbacks.TerminateOnNaN()])
    assert not [w for w in caught if "far outside" in str(w.message)]


def test_evaluate_does_not_overflow_where_fit_did_not():
    """Per-sample squared errors of 1e38 are finite in float32; fit with batch_size=1 reports them,
    evaluate's default batches of 32 used to sum them to inf."""
    model = Sequential([layers.Dense(1, input_shape=(1,), use_bias=False)])
    model.compile(optimizer=optimizers.SGD(learning_rate=0.0), loss="mse")
    model.set_weights([np.ones((1, 1), np.float32)])
    x = np.full((64, 1), 1e19, np.float32)
    y = np.zeros((64, 1), np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        history = model.fit(x, y, batch_size=1, verbose=0)
    expected = float(np.mean(x.astype(np.float64) ** 2))  # numpy float64 reference
    assert np.isfinite(history.history["loss"][0])
    assert model.evaluate(x, y, verbose=0) == pytest.approx(expected, rel=1e-6)


# == obscure errors ==============================================================================
def test_model_accepts_numpy_arrays_and_float64_tensors():
    model = dense_model()
    reference = model(torch.from_numpy(X))
    torch.testing.assert_close(model(X), reference)
    torch.testing.assert_close(model(torch.from_numpy(X).double()), reference)


def test_numpy_scalars_are_accepted_like_python_numbers():
    assert layers.Dropout(np.float32(0.5)).rate == pytest.approx(0.5)
    runs = []
    for split in (0.25, np.float32(0.25)):
        keras.utils.set_random_seed(0)
        model = dense_model()
        runs.append(model.fit(X, Y, validation_split=split, epochs=2, verbose=0).history)
    assert runs[0] == runs[1]
    history = dense_model().fit(X, Y, epochs=np.int64(3), initial_epoch=np.int64(1),
                                batch_size=np.int32(8), verbose=np.int64(0))
    assert history.epoch == [1, 2]
    assert callbacks.ReduceLROnPlateau(patience=np.int64(2), cooldown=np.int32(1)).patience == 2
    assert callbacks.EarlyStopping(patience=np.int64(2), min_delta=np.float32(0.5)).patience == 2


def test_scalar_targets_and_inputs_are_called_scalars():
    model = dense_model()
    with raises(ValueError, "`y` is a scalar (1.0)", "40 targets", "(None, 3)"):
        model.fit(X, np.float32(1), verbose=0)
    with raises(ValueError, "`x` is a scalar (2.0)", "shape (n_samples, 4)"):
        model.fit(np.float32(2), Y, verbose=0)
    with raises(ValueError, "`x` is a scalar (3)", "shape (n_samples, 4)"):
        model.predict(3, verbose=0)


def test_one_dimensional_x_into_an_unbuilt_model_says_what_to_do():
    model = Sequential([layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError) as info:
        model.fit(np.arange(10.0), np.arange(10.0), verbose=0)
    message = str(info.value)
    assert "shape (10,)" in message and "reshape(-1, 1)" in message and "input_shape=" in message
    assert "input_shape=()" not in message and "got ()" not in message


def test_float64_values_overflowing_float32_are_reported_as_such():
    x = X.astype(np.float64)
    x[2, 1] = 1e39
    with raises(ValueError, "converting the data from float64 to float32 overflowed", "1e+39",
                "index (2, 1)"):
        dense_model().fit(x, Y, verbose=0)
    x[2, 1] = np.inf  # a real infinity is still called one
    with raises(ValueError, "1 infinite values", "(2, 1)"):
        dense_model().fit(x, Y, verbose=0)


def test_a_single_callback_is_accepted():
    history = dense_model().fit(X, Y, epochs=3, verbose=0, callbacks=callbacks.EarlyStopping(monitor="loss"))
    assert len(history.epoch) >= 1


@pytest.mark.parametrize("fn, fragments", [
    (lambda y, p: 1.0, ["returned a Python float", "def loss(y_true, y_pred)"]),
    (lambda y: y, ["cannot be called as fn(y_true, y_pred)"]),
    (lambda y, p: np.square(y.numpy() - p.detach().numpy()), ["returned a numpy array", "torch"]),
])
def test_custom_losses_say_what_a_loss_function_must_look_like(fn, fragments):
    model = Sequential([layers.Dense(3, input_shape=(4,))])
    with raises(TypeError, *fragments):
        model.compile(optimizer="sgd", loss=fn)
        model.fit(X, Y, verbose=0)


def test_per_element_loss_with_sample_weight_is_explained():
    model = Sequential([layers.Dense(3, input_shape=(4,))])
    model.compile(optimizer="sgd", loss=lambda y, p: (y - p) ** 2)
    with raises(ValueError, "per-element values", "one value per sample"):
        model.fit(X, Y, sample_weight=np.ones(40), verbose=0)


def test_pop_on_a_compiled_one_layer_model_is_all_or_nothing():
    model = dense_model()
    layer = model.pop()
    assert isinstance(layer, layers.Dense) and model.layers == [] and not model.built
    model.add(layers.Dense(2, input_shape=(4,)))
    model.compile(optimizer="sgd", loss="mse")
    assert model.fit(X, Y[:, :2], verbose=0).history["loss"]


def test_set_weights_on_unbuilt_model_or_with_strings():
    with raises(ValueError, "not built"):
        Sequential([layers.Dense(3)]).set_weights([np.zeros((4, 3)), np.zeros(3)])
    with raises(ValueError, "numeric", "<U1"):
        dense_model().set_weights([np.full((4, 3), "a"), np.zeros(3)])


def test_unwritable_folder_is_named_not_the_temporary_file(tmp_path, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir()
    target = folder / "m.keras"
    if os.geteuid() == 0:  # root ignores permissions: refuse the temporary file as a read-only folder would
        real_open = os.open

        def refusing_open(path, *args, **kwargs):
            if file_format.TEMP_MARK in os.fspath(path):
                raise PermissionError(13, "Permission denied", os.fspath(path))
            return real_open(path, *args, **kwargs)
        monkeypatch.setattr(file_format.os, "open", refusing_open)
    else:
        folder.chmod(0o500)
    try:
        with pytest.raises(PermissionError) as info:
            dense_model().save(target)
    finally:
        folder.chmod(0o700)
    message = str(info.value)
    assert str(target) in message and "not writable" in message and file_format.TEMP_MARK not in message


def test_export_onnx_into_a_missing_folder_names_the_target(tmp_path):
    target = tmp_path / "missing" / "m.onnx"
    with raises(FileNotFoundError, f"Cannot export to {str(target)!r}", "does not exist"):
        dense_model().export_onnx(target)


def test_backup_and_restore_on_an_existing_file_fails_at_construction(tmp_path):
    existing = tmp_path / "file"
    existing.write_text("x")
    with raises(ValueError, "backup_dir", "must be a directory", str(existing)):
        callbacks.BackupAndRestore(existing)


@pytest.mark.parametrize("key, value, fragments", [("lr", "0.1", ["`lr`", "'0.1'"]),
                                                    ("lr", float("nan"), ["`lr`", "nan"]),
                                                    ("iterations", -1, ["`iterations`", "-1"])])
def test_edited_optimizer_settings_are_refused_on_load(tmp_path, key, value, fragments):
    model = dense_model(optimizer="adam")
    model.fit(X, Y, verbose=0)
    model.save(tmp_path / "m.keras")

    def edit(doc):
        doc["param_groups"][0]["hyper"][key] = value
    with raises(SavedFileError, "optimizer.json", *fragments, "Nothing was loaded"):
        load_model(repack(tmp_path / "m.keras", tmp_path / "edited.keras", optimizer=edit))


def test_edited_compile_config_optimizer_is_refused_on_load(tmp_path):
    dense_model(optimizer="adam").save(tmp_path / "m.keras")

    def edit(doc):
        doc["compile_config"]["optimizer"]["config"]["learning_rate"] = "0.1"
    with raises(SavedFileError, "learning_rate", "'0.1'", "Nothing was loaded"):
        load_model(repack(tmp_path / "m.keras", tmp_path / "edited.keras", config=edit))


# == unbounded or leftover work ===================================================================
def test_temporary_files_are_recognisable(tmp_path, monkeypatch):
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append(os.path.basename(src))
        real_replace(src, dst)
    monkeypatch.setattr(file_format.os, "replace", spy)
    dense_model().save(tmp_path / "m.keras")
    assert re.fullmatch(rf"\.m\.keras\.kerastyle-tmp-{os.getpid()}-[0-9a-f]{{12}}", seen[0]), seen


@pytest.mark.parametrize("trigger", ["save", "load"])
def test_stale_temporary_files_of_the_same_target_are_cleaned(tmp_path, trigger):
    model = dense_model()
    path = tmp_path / "m.keras"
    model.save(path)
    killed = tmp_path / f".m.keras.kerastyle-tmp-{dead_pid()}-0123456789ab"  # writer SIGKILLed mid-save
    killed.write_bytes(b"\0" * 4096)
    live = tmp_path / f".m.keras.kerastyle-tmp-{os.getppid()}-0123456789ab"  # a writer still running
    live.write_bytes(b"\0")
    old = tmp_path / f".m.keras.kerastyle-tmp-{os.getppid()}-aaaaaaaaaaaa"  # alive, but hours old
    old.write_bytes(b"\0")
    past = time.time() - 2 * file_format.STALE_AFTER_S
    os.utime(old, (past, past))
    other = tmp_path / f".other.keras.kerastyle-tmp-{dead_pid()}-0123456789ab"  # another target's
    other.write_bytes(b"\0")
    if trigger == "save":
        model.save(path)
    else:
        load_model(path)
    assert sorted(os.listdir(tmp_path)) == sorted(["m.keras", live.name, other.name])


def test_sigkill_during_save_leaves_a_temp_that_the_next_save_removes(tmp_path):
    """A real process killed after writing its temporary file and before publishing it."""
    path = tmp_path / "m.keras"
    script = (
        "import os, signal, sys\n"
        "from kerastyle.saving import file_format\n"
        "def die(src, dst):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "file_format.os.replace = die\n"
        f"file_format.write_atomic({str(path)!r}, b'x' * 100000)\n")
    proc = subprocess.run([sys.executable, "-c", script], cwd=os.path.dirname(os.path.dirname(__file__)),
                          env={**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(__file__))}, timeout=120)
    assert proc.returncode == -9
    left = os.listdir(tmp_path)
    assert len(left) == 1 and left[0].startswith(".m.keras.kerastyle-tmp-")
    dense_model().save(path)
    assert os.listdir(tmp_path) == ["m.keras"]


@pytest.mark.parametrize("units", [5e7, 10**12])
def test_declared_sizes_beyond_the_stored_weights_are_refused_before_allocating(tmp_path, units):
    dense_model().save(tmp_path / "m.keras")  # 4 x 3 kernel + 3 biases: 15 stored values

    def edit(doc):
        doc["config"]["layers"][0]["config"]["units"] = units
    edited = repack(tmp_path / "m.keras", tmp_path / "edited.keras", config=edit)
    assert edited.stat().st_size < 4000
    start = time.perf_counter()
    with raises(SavedFileError, "declares more weights than the file stores", "'kernel'", "15 values",
                "Nothing was loaded"):
        load_model(edited)
    assert time.perf_counter() - start < 1.0  # nothing of 200 MB (or 4 TB) was allocated


def test_safetensors_header_must_account_for_its_bytes(tmp_path):
    dense_model().save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as archive:
        entries = {info.filename: archive.read(info) for info in archive.infolist()}
    blob = entries["model.safetensors"]
    size = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8:8 + size])
    header["layers/dense/vars/0"]["shape"] = [4000, 3]  # claims 48 KB in 48 bytes
    text = json.dumps(header).encode()
    entries["model.safetensors"] = len(text).to_bytes(8, "little") + text + blob[8 + size:]
    (tmp_path / "forged.keras").write_bytes(file_format.pack(entries))
    with raises(SavedFileError, "not valid safetensors", "layers/dense/vars/0", "[4000, 3]"):
        load_model(tmp_path / "forged.keras")
    assert file_format.stored_values({"w": blob}, "w", "m") == 15  # the honest header: 12 + 3 values
