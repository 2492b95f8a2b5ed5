"""Real Keras files: the fixtures written by Keras 3.15.1 load and predict as Keras did, kerastyle's
Keras-format files load in real Keras with identical predictions, damaged or unsafe files are refused."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import io  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import zipfile  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import kerastyle as kt  # noqa: E402
from kerastyle.saving import SavedFileError  # noqa: E402

h5py = pytest.importorskip("h5py")
FIXTURES = Path(__file__).resolve().parents[1] / ".." / ".." / "shared" / "reference" / "keras-files"
if not FIXTURES.is_dir():
    FIXTURES = Path("/work/shared/reference/keras-files")
NEEDS = {"mlp": (), "cnn": ("Conv2D", "BatchNormalization", "MaxPooling2D"), "lstm": ("Embedding", "LSTM")}


def _fixture(name):
    if not FIXTURES.is_dir():
        pytest.skip("the Keras reference files are not available")
    missing = [cls for cls in NEEDS[name] if cls not in kt.layers.LAYERS]
    if missing:
        pytest.skip(f"kerastyle has no {', '.join(missing)} layer yet")
    return np.load(FIXTURES / f"{name}_io.npz")


def _keras_weights(data):
    return [data[f"w{i}"] for i in range(sum(1 for k in data.files if k.startswith("w")))]


@pytest.mark.parametrize("name", ["mlp", "cnn", "lstm"])
@pytest.mark.parametrize("ext", ["keras", "h5"])
def test_fixture_loads_and_predicts_as_keras(name, ext):
    data = _fixture(name)
    model = kt.models.load_model(FIXTURES / f"{name}.{ext}")
    weights = model.get_weights()
    expected = _keras_weights(data)
    assert len(weights) == len(expected)
    for ours, theirs in zip(weights, expected):
        np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_allclose(model.predict(data["x0"], verbose=0), data["y"], rtol=1e-5, atol=1e-6)
    index = json.loads((FIXTURES / "index.json").read_text())["models"][name]
    assert model.count_params() == index["params"]
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == index["trainable"]
    assert model.compiled and model.optimizer.get_config()["learning_rate"] == pytest.approx(1e-3)


@pytest.mark.parametrize("name", ["mlp", "cnn", "lstm"])
@pytest.mark.parametrize("source", ["weights.h5", "h5", "keras"])
def test_load_weights_from_keras_files(name, source):
    data = _fixture(name)
    model = kt.models.load_model(FIXTURES / f"{name}.keras", compile=False)
    model.set_weights([np.zeros_like(w) for w in model.get_weights()])
    model.load_weights(FIXTURES / f"{name}.{source}")
    for ours, theirs in zip(model.get_weights(), _keras_weights(data)):
        np.testing.assert_array_equal(ours, theirs)


def test_content_not_extension_decides(tmp_path):
    data = _fixture("mlp")
    shutil.copy(FIXTURES / "mlp.keras", tmp_path / "model.bin")
    shutil.copy(FIXTURES / "mlp.h5", tmp_path / "model.keras")
    for path in (tmp_path / "model.bin", tmp_path / "model.keras"):
        np.testing.assert_allclose(kt.models.load_model(path).predict(data["x0"], verbose=0), data["y"], atol=1e-6)


def test_legacy_weights_by_name_and_by_order(tmp_path):
    data = _fixture("mlp")
    model = kt.Sequential([kt.Input((784,)), kt.layers.Dense(128, activation="relu", name="dense_1"),
                           kt.layers.Dense(10, activation="softmax", name="dense")])
    model.load_weights(FIXTURES / "mlp.h5")  # by order: names do not matter
    np.testing.assert_array_equal(model.get_weights()[0], data["w0"])
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(SavedFileError, match="shape"):  # by name: the file's 'dense' is (784, 128)
        model.load_weights(FIXTURES / "mlp.h5", by_name=True)
    for ours, theirs in zip(model.get_weights(), before):  # nothing half-loaded
        np.testing.assert_array_equal(ours, theirs)


# -- kerastyle -> Keras format -> real Keras -----------------------------------------------------------------
def _sequential(dropout=True):
    middle = [kt.layers.Dropout(0.2)] if dropout else []  # training differs by dropout masks, so not there
    return kt.Sequential([kt.Input((6,)), kt.layers.Dense(5, activation="relu", kernel_regularizer="l2"),
                          *middle, kt.layers.Dense(3, activation="softmax")], name="seq")


def test_round_trip_through_real_keras(tmp_path):
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(0)
    x = rng.random((16, 6)).astype("float32")
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, 16)]
    model = _sequential(dropout=False)
    model.compile(optimizer=kt.optimizers.Adam(0.01), loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, batch_size=16, epochs=3, verbose=0, shuffle=False)
    model.save(tmp_path / "m.keras", format="keras")
    theirs = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(theirs.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6, atol=1e-7)
    assert type(theirs.optimizer).__name__ == "Adam" and int(theirs.optimizer.iterations) == 3
    # the optimizer's moments travel too: one more identical step on each side
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False)
    theirs.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False)
    for ours, other in zip(model.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(ours, other, atol=1e-6)
    # and back: a file Keras wrote after training continues identically in kerastyle
    theirs.save(tmp_path / "k.keras")
    again = kt.models.load_model(tmp_path / "k.keras")
    assert again.optimizer.iterations == 4
    theirs.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False)
    again.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False)
    for ours, other in zip(again.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(ours, other, atol=1e-6)


def test_functional_round_trip_through_real_keras(tmp_path):
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(1)
    a, b = kt.Input((4,), name="a"), kt.Input((3,), name="b")
    h = kt.layers.Concatenate()([kt.layers.Dense(8, activation="tanh")(a), kt.layers.Dense(8)(b)])
    model = kt.Model([a, b], kt.layers.Dense(2, name="out")(h), name="fun")
    xs = [rng.random((5, 4)).astype("float32"), rng.random((5, 3)).astype("float32")]
    model.save(tmp_path / "f.keras", format="keras")
    theirs = keras.saving.load_model(tmp_path / "f.keras")
    np.testing.assert_allclose(theirs.predict(xs, verbose=0), model.predict(xs, verbose=0), rtol=1e-6, atol=1e-7)
    theirs.save(tmp_path / "k.keras")
    back = kt.models.load_model(tmp_path / "k.keras")
    np.testing.assert_allclose(back.predict(xs, verbose=0), model.predict(xs, verbose=0), rtol=1e-6, atol=1e-7)


def test_weights_h5_round_trip_with_real_keras(tmp_path):
    keras = pytest.importorskip("keras")
    x = np.random.default_rng(2).random((4, 6)).astype("float32")
    model = _sequential()
    model.save_weights(tmp_path / "m.weights.h5")
    with open(tmp_path / "m.weights.h5", "rb") as handle:
        assert handle.read(8) == b"\x89HDF\r\n\x1a\n"
    theirs = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5, activation="relu"),
                               keras.layers.Dropout(0.2), keras.layers.Dense(3, activation="softmax")])
    theirs.load_weights(tmp_path / "m.weights.h5")
    np.testing.assert_allclose(theirs.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6, atol=1e-7)
    theirs.set_weights([w * 2 for w in theirs.get_weights()])
    theirs.save_weights(tmp_path / "k.weights.h5")
    model.load_weights(tmp_path / "k.weights.h5")
    np.testing.assert_allclose(theirs.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6, atol=1e-7)


def test_native_format_stays_the_default(tmp_path):
    model = _sequential()
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as archive:
        assert json.loads(archive.read("metadata.json"))["format"] == "kerastyle"
    with pytest.raises(ValueError, match="argument `format`"):
        model.save(tmp_path / "m.keras", format="tf")


def test_lambda_cannot_be_written_in_keras_format(tmp_path):
    model = kt.Sequential([kt.Input((2,)), kt.layers.Lambda(lambda t: t * 2)])
    with pytest.raises(ValueError, match="Lambda layer .* bytecode"):
        model.save(tmp_path / "m.keras", format="keras")


# -- refusals ---------------------------------------------------------------------------------------------
def _rewrite_keras(src, dst, config=None, weights=None):
    """Copy a .keras archive, replacing config.json (a function of the dict) or the weights h5 (a function
    of an open h5py File in r+ mode)."""
    with zipfile.ZipFile(src) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    if config is not None:
        doc = json.loads(entries["config.json"])
        config(doc)
        entries["config.json"] = json.dumps(doc).encode()
    if weights is not None:
        buffer = io.BytesIO(entries["model.weights.h5"])
        with h5py.File(buffer, "r+") as f:
            weights(f)
        entries["model.weights.h5"] = buffer.getvalue()
    with zipfile.ZipFile(dst, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)


def test_bytecode_lambda_is_refused_as_keras_safe_mode_does(tmp_path):
    keras = pytest.importorskip("keras")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Lambda(lambda t: t * 2)])
    model.save(tmp_path / "lam.keras")
    with pytest.raises(ValueError, match="arbitrary code execution"):  # Keras's own refusal
        keras.saving.load_model(tmp_path / "lam.keras")
    with pytest.raises(SavedFileError, match="Python lambda.*arbitrary code execution.*safe_mode"):
        kt.models.load_model(tmp_path / "lam.keras")


def test_unsupported_layer_is_named_with_the_supported_list(tmp_path):
    def rename(doc):
        doc["config"]["layers"][1]["class_name"] = "FancyAttention"
    _rewrite_keras(FIXTURES / "mlp.keras", tmp_path / "x.keras", config=rename)
    with pytest.raises(SavedFileError,
                       match="'FancyAttention' is not one kerastyle implements. Supported layers:.*Dense"):
        kt.models.load_model(tmp_path / "x.keras")


def test_unsupported_setting_is_refused_by_name(tmp_path):
    def lora(doc):
        doc["config"]["layers"][1]["config"]["lora_rank"] = 4
    _rewrite_keras(FIXTURES / "mlp.keras", tmp_path / "x.keras", config=lora)
    with pytest.raises(SavedFileError, match="lora_rank=4 is not supported"):
        kt.models.load_model(tmp_path / "x.keras")


@pytest.mark.parametrize("damage, message", [
    (lambda f: (f["layers/dense/vars"].__delitem__("1"), f["layers/dense/vars"].create_dataset("1", data=np.zeros(7))),
     r"shape \(7,\).*expects \(128,\)"),
    (lambda f: f["layers/dense_1/vars"].__delitem__("0"), "is missing"),
    (lambda f: f["layers/dense/vars"].create_dataset("2", data=np.zeros(3)), "no place for"),
    (lambda f: (f["layers/dense/vars"].__delitem__("1"),
                f["layers/dense/vars"].__setitem__("1", h5py.ExternalLink("/etc/passwd", "/x"))), "ExternalLink"),
    (lambda f: (f["layers/dense/vars"].__delitem__("1"),
                f["layers/dense/vars"].create_dataset("1", shape=(128,), dtype="float32")), "declares"),
    (lambda f: (f["layers/dense/vars"].__delitem__("1"),
                f["layers/dense/vars"].create_dataset("1", data=np.array(["a"] * 128, dtype="S1"))), "dtype"),
])
def test_damaged_weights_are_refused_and_nothing_changes(tmp_path, damage, message):
    _rewrite_keras(FIXTURES / "mlp.keras", tmp_path / "x.keras", weights=damage)
    with pytest.raises(SavedFileError, match=message):
        kt.models.load_model(tmp_path / "x.keras")
    model = kt.models.load_model(FIXTURES / "mlp.keras")
    before = model.get_weights()
    with pytest.raises(SavedFileError, match=message):
        model.load_weights(tmp_path / "x.keras")
    for ours, theirs in zip(model.get_weights(), before):
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("name", ["mlp.keras", "mlp.h5", "mlp.weights.h5"])
def test_truncated_files_are_refused(tmp_path, name):
    raw = (FIXTURES / name).read_bytes()
    model = kt.models.load_model(FIXTURES / "mlp.keras")
    before = model.get_weights()
    for size in (len(raw) // 3, len(raw) - 100):
        (tmp_path / name).write_bytes(raw[:size])
        with pytest.raises(SavedFileError):
            if name == "mlp.weights.h5":
                model.load_weights(tmp_path / name)
            else:
                kt.models.load_model(tmp_path / name)
    for ours, theirs in zip(model.get_weights(), before):
        np.testing.assert_array_equal(ours, theirs)


def test_weights_file_is_not_a_model(tmp_path):
    with pytest.raises(SavedFileError, match="weights only"):
        kt.models.load_model(FIXTURES / "mlp.weights.h5")


@pytest.mark.parametrize("name", ["mlp", "cnn", "lstm"])
def test_fixture_written_back_loads_in_real_keras(tmp_path, name):
    keras = pytest.importorskip("keras")
    data = _fixture(name)
    model = kt.models.load_model(FIXTURES / f"{name}.keras")
    model.save(tmp_path / "back.keras", format="keras")
    theirs = keras.saving.load_model(tmp_path / "back.keras")
    np.testing.assert_allclose(theirs.predict(data["x0"], verbose=0), data["y"], rtol=1e-5, atol=1e-6)
    for ours, other in zip(theirs.get_weights(), _keras_weights(data)):
        np.testing.assert_array_equal(ours, other)
