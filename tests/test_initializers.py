"""Keras initializer classes: distributions and Keras's fans checked statistically and by formula,
seeds, and lookup by name, object and Keras-serialized dict (from real Keras 3 as the oracle)."""

from __future__ import annotations

import math
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from kerastyle import initializers as I  # noqa: E402
from kerastyle import layers as L  # noqa: E402

keras = pytest.importorskip("keras")

KERNEL = (3, 3, 16, 32)  # a Conv2D kernel: fan_in = 9 * 16 = 144, fan_out = 9 * 32 = 288


@pytest.mark.parametrize("name,kind,variance", [
    ("GlorotUniform", "uniform", 2 / (144 + 288)), ("GlorotNormal", "normal", 2 / (144 + 288)),
    ("HeUniform", "uniform", 2 / 144), ("HeNormal", "normal", 2 / 144),
    ("LecunUniform", "uniform", 1 / 144), ("LecunNormal", "normal", 1 / 144),
])
def test_variance_scaling_presets_use_keras_fans_for_conv_kernels(name, kind, variance):
    values = I.get(name)(torch.empty(KERNEL)) if callable(I.get(name)) else None
    obj = getattr(I, name)(seed=3)
    drawn = obj(KERNEL).numpy()
    for sample in (values.numpy(), drawn):
        assert abs(sample.var() / variance - 1) < 0.06
        if kind == "uniform":
            assert np.abs(sample).max() <= math.sqrt(3 * variance) + 1e-7
        else:  # truncated at two (rescaled) standard deviations
            assert np.abs(sample).max() <= 2 * math.sqrt(variance) / 0.87962566103423978 + 1e-6
    theirs = np.asarray(getattr(keras.initializers, name)(seed=3)(KERNEL))
    assert abs(theirs.var() / drawn.var() - 1) < 0.08  # the same distribution as Keras's


def test_seeded_initializers_repeat_and_unseeded_do_not():
    a, b = I.HeNormal(seed=1)((20, 20)), I.HeNormal(seed=1)((20, 20))
    torch.testing.assert_close(a, b)
    init = I.RandomUniform(seed=5)
    torch.testing.assert_close(init((4, 4)), init((4, 4)))  # Keras 3: a seeded initializer repeats
    assert not torch.equal(I.RandomNormal()((20,)), I.RandomNormal()((20,)))


def test_simple_distributions_and_defaults():
    n = I.RandomNormal(mean=1.0, stddev=2.0, seed=0)((40000,)).numpy()
    assert abs(n.mean() - 1) < 0.05 and abs(n.std() - 2) < 0.05
    u = I.RandomUniform(seed=0)((40000,)).numpy()
    assert u.min() >= -0.05 and u.max() < 0.05 and abs(u.mean()) < 2e-3
    t = I.TruncatedNormal(stddev=1.0, seed=0)((40000,)).numpy()
    assert np.abs(t).max() <= 2.0 and abs(t.std() - 0.8796) < 0.02  # Keras redraws, it does not rescale
    assert I.RandomNormal().stddev == 0.05 and I.VarianceScaling().get_config() == {
        "scale": 1.0, "mode": "fan_in", "distribution": "truncated_normal", "seed": None, "input_axes": None,
        "output_axes": None}
    fans = I.VarianceScaling(distribution="uniform", input_axes=[0], output_axes=[1, 2])((50, 3, 4))
    assert fans.abs().max() <= math.sqrt(3 / 50) + 1e-7
    np.testing.assert_array_equal(I.Constant(2.5)((2, 3)).numpy(), np.full((2, 3), 2.5))
    np.testing.assert_array_equal(I.Zeros()((2,)).numpy(), [0, 0])
    np.testing.assert_array_equal(I.Ones()((2,)).numpy(), [1, 1])
    np.testing.assert_array_equal(I.Identity(gain=2.0)((2, 3)).numpy(), 2 * np.eye(2, 3))


@pytest.mark.parametrize("shape", [(6, 6), (3, 7), (8, 2), (2, 3, 4)])
def test_orthogonal_gives_orthonormal_rows_or_columns(shape):
    w = I.Orthogonal(gain=1.5, seed=2)(shape).double().reshape(-1, shape[-1]) / 1.5
    small = w.t() @ w if w.shape[0] >= w.shape[1] else w @ w.t()
    torch.testing.assert_close(small, torch.eye(small.shape[0], dtype=torch.float64), atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", ["GlorotUniform", "HeNormal", "Orthogonal", "RandomNormal", "Constant", "Zeros",
                                  "VarianceScaling", "TruncatedNormal", "Identity", "LecunUniform"])
def test_keras_serialized_dicts_are_read(name):
    theirs = getattr(keras.initializers, name)()
    entry = keras.initializers.serialize(theirs)
    ours = I.get(entry)
    assert type(ours).__name__ == name
    assert ours.get_config().items() >= theirs.get_config().items()  # Keras 3.15 drops Identity's gain
    back = I.serialize(ours)
    assert back["class_name"] == name and back["config"].items() >= theirs.get_config().items()
    assert I.get(back) == ours


def test_configured_keras_dicts_keep_their_settings():
    entry = keras.initializers.serialize(keras.initializers.VarianceScaling(scale=2.0, mode="fan_out",
                                                                            distribution="uniform", seed=4))
    ours = I.get(entry)
    assert ours.get_config() == {"scale": 2.0, "mode": "fan_out", "distribution": "uniform", "seed": 4,
                                 "input_axes": None, "output_axes": None}
    w = ours((100, 50)).numpy()
    assert np.abs(w).max() <= math.sqrt(3 * 2.0 / 50) + 1e-7


def test_names_in_both_spellings_and_clear_errors():
    assert I.get("he_normal") is I.he_normal and I.get("HeNormal") is I.he_normal
    assert isinstance(I.get("orthogonal"), I.Orthogonal) and isinstance(I.get("Orthogonal"), I.Orthogonal)
    assert isinstance(I.get("truncated_normal"), I.TruncatedNormal)
    with pytest.raises(ValueError, match="Unknown initializer 'glorot'"):
        I.get("glorot")
    with pytest.raises(ValueError, match="Unknown initializer class 'Nope'"):
        I.get({"class_name": "Nope", "config": {}})
    with pytest.raises(ValueError, match="`stddev` must be a positive finite number"):
        I.RandomNormal(stddev=-1)
    with pytest.raises(ValueError, match="`mode` must be one of"):
        I.VarianceScaling(mode="fan_sum")
    with pytest.raises(ValueError, match="`seed`"):
        I.HeNormal(seed=1.5)


def test_objects_work_as_layer_initializers_and_survive_get_config():
    layer = L.Dense(4, kernel_initializer=I.Constant(0.5), bias_initializer=I.RandomNormal(mean=3.0, stddev=1e-6))
    layer(torch.zeros(1, 3))
    np.testing.assert_array_equal(layer.get_weights()[0], np.full((3, 4), 0.5))
    np.testing.assert_allclose(layer.get_weights()[1], 3.0, atol=1e-4)
    config = layer.get_config()
    assert config["kernel_initializer"]["class_name"] == "Constant"
    rebuilt = L.Dense.from_config(config)
    rebuilt(torch.zeros(1, 3))
    np.testing.assert_array_equal(rebuilt.get_weights()[0], np.full((3, 4), 0.5))
    conv = L.Conv2D(2, 3, kernel_initializer="orthogonal")
    conv(torch.zeros(1, 5, 5, 3))
    assert conv.get_config()["kernel_initializer"] == "orthogonal"  # default-configured: by name
    k = torch.tensor(conv.get_weights()[0]).reshape(-1, 2)
    torch.testing.assert_close(k.t() @ k, torch.eye(2), atol=1e-5, rtol=0)


def test_keras_call_form_returns_tensors_and_in_place_form_fills():
    init = I.GlorotUniform(seed=0)
    values = init((5, 4), dtype="float64")
    assert values.shape == (5, 4) and values.dtype == torch.float64
    target = torch.zeros(5, 4, dtype=torch.float64)
    assert init(target) is target
    torch.testing.assert_close(target, values)  # same seed, same values
