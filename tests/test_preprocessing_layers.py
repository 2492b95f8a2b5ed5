"""Preprocessing layers (Normalization with adapt, Rescaling, Resizing, RandomFlip) against real Keras 3
(torch backend) and numpy formulas; training-only behaviour, fit and saving with adapted statistics."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import kerastyle  # noqa: E402
from kerastyle import layers as L  # noqa: E402

keras = pytest.importorskip("keras")


def _data(shape=(50, 4), seed=0):
    return (np.random.default_rng(seed).normal(size=shape) * 3 + 2).astype("float32")


@pytest.mark.parametrize("axis,shape", [(-1, (50, 4)), (None, (50, 4)), ((1, 2), (10, 3, 4, 2)), (1, (20, 3, 5))])
def test_normalization_adapt_matches_keras(axis, shape):
    x = _data(shape)
    theirs = keras.layers.Normalization(axis=axis)
    theirs.adapt(x)
    ours = L.Normalization(axis=axis)
    ours.adapt(x)
    np.testing.assert_allclose(ours(torch.tensor(x)).numpy(), np.asarray(theirs(x).cpu()), rtol=1e-5, atol=1e-5)
    assert ours.count_params() == theirs.count_params()
    assert [w.shape for w in ours.get_weights()] == [np.shape(w) for w in theirs.get_weights()]


def test_normalization_formula_batches_and_invert():
    x = _data().astype("float64")
    layer = L.Normalization()
    layer.adapt([x[:13], x[13:31], x[31:]])  # an iterable of batches combines exactly
    mean, var, count = layer.get_weights()
    np.testing.assert_allclose(mean, x.mean(0), rtol=1e-6)
    np.testing.assert_allclose(var, x.var(0), rtol=1e-6)  # biased, as Keras
    assert count == 50
    out = layer(torch.tensor(x, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(out, (x - x.mean(0)) / np.sqrt(x.var(0)), rtol=1e-5, atol=1e-5)
    inverse = L.Normalization(invert=True, mean=mean, variance=var)
    np.testing.assert_allclose(inverse(torch.tensor(out)).numpy(), x, rtol=1e-5, atol=1e-4)


def test_normalization_with_given_statistics_matches_keras():
    x = _data()
    for kwargs in (dict(axis=None, mean=2.0, variance=4.0, invert=True),
                   dict(mean=[1, 2, 3, 4], variance=[1, 4, 9, 16])):
        theirs, ours = keras.layers.Normalization(**kwargs), L.Normalization(**kwargs)
        np.testing.assert_allclose(ours(torch.tensor(x)).numpy(), np.asarray(theirs(x).cpu()), rtol=1e-6)
        assert ours.count_params() == theirs.count_params() == 0
    with pytest.raises(ValueError, match="both `mean` and `variance`"):
        L.Normalization(mean=1.0)


def test_adapted_normalization_trains_and_saves(tmp_path):
    x = _data((64, 3))
    y = x @ np.array([[1.0], [-2.0], [0.5]], dtype="float32")
    norm = L.Normalization()
    norm.adapt(x)
    model = kerastyle.Sequential([L.Input((3,)), norm, L.Dense(1)])
    model.compile("adam", "mse")
    model.fit(x, y, epochs=2, verbose=0)
    np.testing.assert_allclose(norm.get_weights()[0], x.mean(0), rtol=1e-5)  # not trained
    model.save(tmp_path / "n.keras")
    loaded = kerastyle.models.load_model(tmp_path / "n.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


@pytest.mark.parametrize("kwargs", [dict(scale=1 / 255.0, offset=-1.0), dict(scale=[1.0, 2.0, 3.0, 4.0])])
def test_rescaling_matches_keras(kwargs):
    x = _data()
    np.testing.assert_allclose(L.Rescaling(**kwargs)(torch.tensor(x)).numpy(),
                               np.asarray(keras.layers.Rescaling(**kwargs)(x).cpu()), rtol=1e-6)
    pixels = np.arange(12, dtype=np.uint8).reshape(3, 4)
    out = L.Rescaling(1 / 255.0)(torch.tensor(pixels))
    assert out.dtype == torch.float32 and abs(out[2, 3].item() - 11 / 255) < 1e-7


@pytest.mark.parametrize("kwargs", [
    dict(height=3, width=4), dict(height=8, width=9, interpolation="nearest"),
    dict(height=3, width=4, interpolation="bicubic"), dict(height=4, width=4, crop_to_aspect_ratio=True),
    dict(height=4, width=4, pad_to_aspect_ratio=True, fill_value=2.0),
    dict(height=6, width=3, data_format="channels_first"),
])
def test_resizing_matches_keras(kwargs):
    shape = (2, 3, 5, 7) if kwargs.get("data_format") == "channels_first" else (2, 5, 7, 3)
    x = _data(shape)
    theirs, ours = keras.layers.Resizing(**kwargs), L.Resizing(**kwargs)
    np.testing.assert_allclose(ours(torch.tensor(x)).numpy(), np.asarray(theirs(x).cpu()), rtol=1e-5, atol=1e-5)
    batchless = (None, *shape[1:])
    assert tuple(ours.compute_output_shape(batchless)) == tuple(theirs.compute_output_shape(batchless))
    single = ours(torch.tensor(x[0]))
    assert single.shape == ours(torch.tensor(x)).shape[1:]


def test_resizing_bilinear_by_hand():
    """Half-pixel centers: a 1x2 image [a, b] enlarged to 1x4 is [a, .75a+.25b, .25a+.75b, b]."""
    img = torch.tensor([[[[0.0], [4.0]]]])
    out = L.Resizing(1, 4)(img)[0, 0, :, 0]
    torch.testing.assert_close(out, torch.tensor([0.0, 1.0, 3.0, 4.0]))


def test_random_flip_only_in_training():
    x = torch.arange(2 * 3 * 4, dtype=torch.float32).reshape(1, 3, 4, 2).repeat(200, 1, 1, 1)
    layer = L.RandomFlip("horizontal", seed=1)
    assert layer(x) is x
    out = layer(x, training=True)
    flipped = (out == x.flip(2)).flatten(1).all(1)
    same = (out == x).flatten(1).all(1)
    assert torch.all(flipped | same) and 60 < flipped.sum() < 140
    both = L.RandomFlip()(x, training=True)
    options = [x, x.flip(1), x.flip(2), x.flip(1).flip(2)]
    assert all(any(torch.equal(b, o[i]) for o in options) for i, b in enumerate(both))
    with pytest.raises(ValueError, match="`mode`"):
        L.RandomFlip("diagonal")


def test_preprocessing_configs_round_trip():
    for layer in (L.Rescaling(0.5, offset=1.0), L.Resizing(4, 5, interpolation="nearest"), L.RandomFlip("vertical"),
                  L.Normalization(axis=None, mean=1.0, variance=2.0)):
        rebuilt = type(layer).from_config(layer.get_config())
        assert rebuilt.get_config() == layer.get_config()
