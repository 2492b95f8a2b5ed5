"""Keras 2 ``K.*`` functions: values against Keras 3's ops/backend (oracle) and numpy; session
settings; variables and set_value/get_value."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest
import torch

import kerastyle as ks
from kerastyle import backend as K

X = np.random.default_rng(0).uniform(0.05, 0.95, size=(3, 4)).astype(np.float32)
T = np.eye(4, dtype=np.float32)[[0, 3, 1]]


def test_k_functions_match_numpy():
    np.testing.assert_allclose(K.mean(X, axis=1).numpy(), X.mean(1), rtol=1e-6)
    np.testing.assert_allclose(K.sum(X, axis=0, keepdims=True).numpy(), X.sum(0, keepdims=True), rtol=1e-6)
    np.testing.assert_allclose(K.max(X, axis=1).numpy(), X.max(1))
    np.testing.assert_allclose(K.min(X).numpy(), X.min())
    np.testing.assert_allclose(K.log(K.clip(X, K.epsilon(), 1 - K.epsilon())).numpy(), np.log(X), rtol=1e-6)
    np.testing.assert_allclose(K.pow(X, 3).numpy(), X ** 3, rtol=1e-6)
    np.testing.assert_allclose(K.sqrt(K.square(X)).numpy(), X, rtol=1e-6)
    np.testing.assert_allclose(K.abs(-X).numpy(), X)
    np.testing.assert_allclose(K.exp(X).numpy(), np.exp(X), rtol=1e-6)
    np.testing.assert_allclose(K.sigmoid(X).numpy(), 1 / (1 + np.exp(-X)), rtol=1e-6)
    e = np.exp(X)
    np.testing.assert_allclose(K.softmax(X).numpy(), e / e.sum(1, keepdims=True), rtol=1e-6)
    np.testing.assert_allclose(K.dot(X, X.T).numpy(), X @ X.T, rtol=1e-6)
    np.testing.assert_allclose(K.transpose(X).numpy(), X.T)
    np.testing.assert_allclose(K.flatten(X).numpy(), X.reshape(-1))
    np.testing.assert_allclose(K.reshape(X, (4, 3)).numpy(), X.reshape(4, 3))
    np.testing.assert_allclose(K.cast(X > 0.5, "float32").numpy(), (X > 0.5).astype(np.float32))
    np.testing.assert_allclose(K.ones_like(X).numpy(), np.ones_like(X))
    np.testing.assert_allclose(K.zeros_like(X).numpy(), np.zeros_like(X))
    assert K.int_shape(X) == (3, 4) and K.int_shape(torch.zeros(2, 5)) == (2, 5)


def test_k_crossentropies_match_keras():
    keras = pytest.importorskip("keras")
    np.testing.assert_allclose(K.categorical_crossentropy(T, X).numpy(),
                               np.asarray(keras.losses.categorical_crossentropy(T, X)), rtol=1e-5)
    # Keras 2's K.binary_crossentropy is element-wise (no mean over the last axis)
    expected = -(T * np.log(X) + (1 - T) * np.log(1 - X))
    np.testing.assert_allclose(K.binary_crossentropy(T, X).numpy(), expected, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(keras.ops.binary_crossentropy(T, X)), expected, rtol=1e-5)


def test_config_functions():
    assert K.floatx() == "float32" and K.epsilon() == 1e-7 and K.image_data_format() == "channels_last"
    K.set_epsilon(1e-5)
    try:
        assert K.epsilon() == 1e-5
    finally:
        K.set_epsilon(1e-7)
    K.set_image_data_format("channels_first")
    try:
        assert K.image_data_format() == "channels_first"
    finally:
        K.set_image_data_format("channels_last")
    with pytest.raises(ValueError, match="`data_format`"):
        K.set_image_data_format("nhwc")
    with pytest.raises(ValueError, match="float32 only"):
        K.set_floatx("float64")
    with pytest.raises(ValueError, match="got -1"):
        K.set_epsilon(-1)


def test_variables_and_set_get_value():
    v = K.variable(np.array([1.0, 2.0]), name="v")
    K.set_value(v, [3.0, 4.0])
    np.testing.assert_allclose(K.get_value(v), [3.0, 4.0])
    v.assign_add(1.0)
    np.testing.assert_allclose(K.eval(v * 2), [8.0, 10.0])
    t = torch.zeros(2)
    K.set_value(t, [5.0, 6.0])
    assert t.tolist() == [5.0, 6.0]
    with pytest.raises(TypeError, match=r"cannot change 0.01 .*in place.*learning_rate = 0.1"):
        K.set_value(0.01, 0.1)


def test_bound_value_writes_back_to_its_owner():
    class Owner:
        rate = 0.5

    value = K.BoundValue(0.5, Owner, "rate")
    assert value == 0.5 and K.get_value(value) == 0.5
    K.set_value(value, 0.25)
    assert Owner.rate == 0.25


def test_session_functions_kept():
    K.clear_session()
    assert K.unique_name("thing") == "thing" and K.unique_name("thing") == "thing_1"
    assert K.get_device() == ks.backend.get_device()
