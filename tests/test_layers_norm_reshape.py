"""Normalization, reshaping, noise and activation layers, and the new activation functions, against
real Keras 3 (torch backend) and numpy reference formulas; training behaviour, fit and saving."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import kerastyle  # noqa: E402
from kerastyle import activations  # noqa: E402
from kerastyle import layers as L  # noqa: E402

keras = pytest.importorskip("keras")


def _against_keras(name, shape, random_weights=True, **kwargs):
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape).astype("float32")
    theirs = getattr(keras.layers, name)(**kwargs)
    theirs.build(shape)
    ours = getattr(L, name)(**kwargs)
    ours(torch.tensor(x))
    if random_weights and theirs.get_weights():
        weights = [rng.uniform(0.5, 1.5, size=np.shape(w)).astype("float32") for w in theirs.get_weights()]
        theirs.set_weights(weights)
        ours.set_weights(weights)
    expected = np.asarray(theirs(x).detach().cpu())
    got = ours(torch.tensor(x)).detach().numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    batchless = (None, *shape[1:])
    assert tuple(ours.compute_output_shape(batchless)) == tuple(theirs.compute_output_shape(batchless))
    assert ours.count_params() == theirs.count_params()
    assert set(ours.get_config()) - {"batch_input_shape"} >= set(theirs.get_config()) - {"build_config"}
    return ours, theirs, x


# -- BatchNormalization -------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [dict(), dict(axis=1, momentum=0.9), dict(center=False),
                                    dict(scale=False, epsilon=0.1)])
def test_batch_normalization_matches_keras_in_training_and_inference(kwargs):
    ours, theirs, x = _against_keras("BatchNormalization", (6, 4, 5, 3), **kwargs)
    for _ in range(2):  # two training steps: outputs and the moving statistics
        expected = np.asarray(theirs(x, training=True).detach().cpu())
        got = ours(torch.tensor(x), training=True).detach().numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    for mine, ref in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(mine, np.asarray(ref), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(ours(torch.tensor(x)).detach().numpy(), np.asarray(theirs(x).detach().cpu()),
                               rtol=1e-5, atol=1e-5)


def test_batch_normalization_update_formula_by_hand():
    """moving = moving * momentum + batch_stat * (1 - momentum), with the batch's BIASED variance."""
    x = np.random.default_rng(1).normal(size=(8, 3)) * 2 + 1
    layer = L.BatchNormalization(momentum=0.8, dtype="float64")
    y = layer(torch.tensor(x), training=True).detach().numpy()
    np.testing.assert_allclose(y, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-3), rtol=1e-10)
    gamma, beta, mean, var = layer.get_weights()
    np.testing.assert_allclose(mean, 0.2 * x.mean(0), rtol=1e-10)
    np.testing.assert_allclose(var, 0.8 + 0.2 * x.var(0), rtol=1e-10)  # np.var is biased (ddof=0)
    assert layer.trainable_weights[0] is layer.gamma and len(layer.non_trainable_weights) == 2


def test_frozen_batch_normalization_uses_moving_statistics_in_training():
    layer = L.BatchNormalization()
    x = torch.randn(8, 3) * 3 + 2
    layer(x)
    layer.trainable = False
    before = [w.copy() for w in layer.get_weights()]
    np.testing.assert_allclose(layer(x, training=True).numpy(), layer(x, training=False).numpy())
    for a, b in zip(before, layer.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_summary_counts_of_the_issue_model():
    model = kerastyle.Sequential([L.Input((28, 28, 1)), L.Conv2D(8, 3), L.BatchNormalization(), L.Flatten(),
                                  L.Dense(10)])
    trainable = sum(p.numel() for p in model.trainable_weights)
    assert model.count_params() == 54_202 and trainable == 54_186
    assert sum(p.numel() for p in model.non_trainable_weights) == 16


def test_fit_updates_moving_statistics_and_predict_uses_them(tmp_path):
    rng = np.random.default_rng(2)
    x = (rng.normal(size=(64, 4)) * 3 + 5).astype("float32")
    y = x.sum(1, keepdims=True)
    model = kerastyle.Sequential([L.Input((4,)), L.BatchNormalization(momentum=0.5), L.Dense(1)])
    model.compile("sgd", "mse")
    model.fit(x, y, epochs=3, batch_size=16, verbose=0, shuffle=False)
    bn = model.layers[0]
    np.testing.assert_allclose(bn.get_weights()[2], x.mean(0), rtol=0.1)  # the moving mean moved to the data
    out = model.predict(x, verbose=0)
    gamma, beta, mean, var = bn.get_weights()
    dense = model.layers[1].get_weights()
    expected = ((x - mean) / np.sqrt(var + 1e-3) * gamma + beta) @ dense[0] + dense[1]
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)
    model.save(tmp_path / "bn.keras")
    loaded = kerastyle.models.load_model(tmp_path / "bn.keras")
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


# -- LayerNormalization, UnitNormalization --------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [dict(), dict(axis=[-2, -1]), dict(center=False, epsilon=0.1)])
def test_layer_normalization_matches_keras(kwargs):
    _against_keras("LayerNormalization", (3, 4, 5), **kwargs)


def test_layer_normalization_on_a_middle_axis_by_formula():
    x = np.random.default_rng(3).normal(size=(2, 4, 3))
    layer = L.LayerNormalization(axis=1, dtype="float64")
    layer(torch.tensor(x))
    gamma, beta = np.arange(1, 5.0), np.arange(4.0) / 10
    layer.set_weights([gamma, beta])
    mean, var = x.mean(1, keepdims=True), x.var(1, keepdims=True)
    expected = (x - mean) / np.sqrt(var + 1e-3) * gamma[:, None] + beta[:, None]
    np.testing.assert_allclose(layer(torch.tensor(x)).detach().numpy(), expected, rtol=1e-10)


@pytest.mark.parametrize("kwargs", [dict(), dict(axis=[1, 2])])
def test_unit_normalization_matches_keras(kwargs):
    _against_keras("UnitNormalization", (3, 4, 5), **kwargs)


# -- reshaping --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,shape,kwargs", [
    ("Reshape", (2, 6, 4), dict(target_shape=(3, -1))),
    ("Reshape", (2, 6, 4), dict(target_shape=(2, 3, 4))),
    ("Permute", (2, 3, 4, 5), dict(dims=(3, 1, 2))),
    ("RepeatVector", (2, 5), dict(n=3)),
    ("UpSampling1D", (2, 4, 3), dict(size=3)),
    ("UpSampling2D", (2, 4, 5, 3), dict(size=(2, 3))),
    ("UpSampling2D", (2, 4, 5, 3), dict(size=2, interpolation="bilinear")),
    ("UpSampling2D", (2, 3, 4, 5), dict(size=2, data_format="channels_first")),
    ("ZeroPadding1D", (2, 4, 3), dict(padding=(1, 2))),
    ("ZeroPadding2D", (2, 4, 5, 3), dict(padding=((1, 2), (0, 3)))),
    ("ZeroPadding2D", (2, 3, 4, 5), dict(padding=2, data_format="channels_first")),
    ("Cropping1D", (2, 6, 3), dict(cropping=(1, 2))),
    ("Cropping2D", (2, 6, 7, 3), dict(cropping=((1, 2), (0, 3)))),
    ("Cropping2D", (2, 3, 6, 7), dict(cropping=1, data_format="channels_first")),
])
def test_reshaping_layers_match_keras(name, shape, kwargs):
    _against_keras(name, shape, **kwargs)


def test_reshape_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match=r"cannot reshape inputs of shape \(None, 6, 4\)"):
        kerastyle.Sequential([L.Input((6, 4)), L.Reshape((5, 5))])
    with pytest.raises(ValueError, match="`dims` must be a permutation"):
        L.Permute((0, 1))


# -- activation layers and functions --------------------------------------------------------------------------
@pytest.mark.parametrize("name,kwargs", [
    ("ReLU", dict()), ("ReLU", dict(max_value=0.5, negative_slope=0.1, threshold=0.3)), ("ReLU", dict(max_value=6.0)),
    ("LeakyReLU", dict()), ("LeakyReLU", dict(negative_slope=0.05)), ("ELU", dict(alpha=0.5)),
    ("Softmax", dict(axis=1)), ("Softmax", dict(axis=[1, 2])), ("PReLU", dict()), ("PReLU", dict(shared_axes=[1])),
])
def test_activation_layers_match_keras(name, kwargs):
    _against_keras(name, (2, 3, 4), **kwargs)


def test_leaky_relu_keras2_alpha_and_softmax_mask():
    assert L.LeakyReLU(alpha=0.1).negative_slope == 0.1 and L.LeakyReLU().negative_slope == 0.3
    x = np.random.default_rng(4).normal(size=(2, 5)).astype("float32")
    mask = np.array([[1, 1, 0, 1, 0], [0, 1, 1, 1, 1]], bool)
    expected = np.asarray(keras.layers.Softmax()(x, mask=mask).cpu())
    np.testing.assert_allclose(L.Softmax()(torch.tensor(x), mask=torch.tensor(mask)).numpy(), expected, rtol=1e-6)


NEW_ACTIVATIONS = ["elu", "selu", "gelu", "swish", "silu", "softplus", "softsign", "exponential", "mish", "relu6",
                   "log_softmax"]


@pytest.mark.parametrize("name", NEW_ACTIVATIONS)
def test_new_activation_functions_match_keras(name):
    x = np.linspace(-7, 7, 29, dtype="float32").reshape(1, -1)
    expected = np.asarray(keras.activations.get(name)(keras.ops.convert_to_tensor(x)).cpu())
    np.testing.assert_allclose(getattr(activations, name)(torch.tensor(x)).numpy(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(activations.get(name)(torch.tensor(x)).numpy(), expected, rtol=1e-5, atol=1e-6)
    layer = L.Dense(29, activation=name)
    layer(torch.zeros(1, 29))
    assert layer.get_config()["activation"] == name  # saved by the name it was given


def test_gelu_approximate_and_analytic_derivatives_match_autograd():
    x = torch.linspace(-4, 4, 33, dtype=torch.float64)
    expected = 0.5 * x * (1 + torch.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
    torch.testing.assert_close(activations.gelu(x, approximate=True), expected)
    for name in NEW_ACTIVATIONS:
        module = activations.get(name)
        op = activations.analytic_op(module)
        z = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
        g = torch.randn(3, 5, dtype=torch.float64)
        (auto,) = torch.autograd.grad(module(z), z, g)
        op.forward(z.detach())
        torch.testing.assert_close(op.backward(g.clone()), auto, msg=name)


def test_activation_layers_train_with_the_analytic_engine():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = rng.integers(0, 3, 64)
    model = kerastyle.Sequential([L.Input((4,)), L.Dense(8), L.LeakyReLU(), L.Dense(8), L.ELU(), L.Dense(3),
                                  L.Softmax()])
    model.compile("adam", "sparse_categorical_crossentropy")
    history = model.fit(x, y, epochs=3, verbose=0)
    assert history.params["engine"] == "analytic" and history.history["loss"][-1] < history.history["loss"][0]


# -- noise layers -----------------------------------------------------------------------------------------------
def test_noise_layers_are_identity_in_inference_and_act_in_training():
    x = torch.ones(4000, 2, 3)
    for layer in (L.SpatialDropout1D(0.5), L.GaussianNoise(0.5), L.GaussianDropout(0.5)):
        assert layer(x) is x or torch.equal(layer(x), x)
        assert not torch.equal(layer(x, training=True), x)
    dropped = L.SpatialDropout1D(0.5)(x, training=True)
    assert torch.all(dropped == dropped[:, :1, :])  # one draw per (sample, channel), shared by the steps
    assert set(torch.unique(dropped).tolist()) <= {0.0, 2.0} and abs(dropped.mean().item() - 1) < 0.05
    noisy = L.GaussianNoise(0.5)(x, training=True)
    assert abs(noisy.std().item() - 0.5) < 0.02 and abs(noisy.mean().item() - 1) < 0.02
    scaled = L.GaussianDropout(0.2)(x, training=True)
    assert abs(scaled.std().item() - 0.5) < 0.02  # sqrt(rate / (1 - rate)) = 0.5
    maps = L.SpatialDropout2D(0.5)(torch.ones(50, 4, 4, 3), training=True)
    assert torch.all(maps == maps[:, :1, :1, :])
    first = L.SpatialDropout2D(0.5, data_format="channels_first")(torch.ones(50, 3, 4, 4), training=True)
    assert torch.all(first == first[:, :, :1, :1])


def test_seeded_noise_layers_repeat_across_instances():
    x = torch.ones(5, 6)
    a = L.GaussianNoise(1.0, seed=7)(x, training=True)
    b = L.GaussianNoise(1.0, seed=7)(x, training=True)
    torch.testing.assert_close(a, b)


def test_activity_regularization_adds_the_keras_loss():
    layer = L.ActivityRegularization(l1=0.1, l2=0.01)
    x = torch.tensor([[1.0, -2.0], [3.0, 0.5]])
    with kerastyle.layers.layer.collect_losses() as terms:
        layer._call(x, True)
    expected = (0.1 * 6.5 + 0.01 * (1 + 4 + 9 + 0.25)) / 2  # Keras 3 divides by the batch size
    assert len(terms) == 1 and abs(terms[0].item() - expected) < 1e-6
    config = layer.get_config()
    assert config["l1"] == 0.1 and "activity_regularizer" not in config
    assert L.ActivityRegularization.from_config(config).l2 == 0.01


def test_everything_saves_and_loads_in_a_functional_model(tmp_path):
    inputs = L.Input((6, 4))
    h = L.Conv1D(4, 3, padding="causal")(inputs)
    h = L.LayerNormalization()(h)
    h = L.PReLU()(h)
    h = L.UpSampling1D(2)(h)
    h = L.Cropping1D((1, 1))(h)
    h = L.ZeroPadding1D(1)(h)
    h = L.SpatialDropout1D(0.2)(h)
    h = L.Permute((2, 1))(h)
    h = L.Reshape((-1,))(h)
    h = L.GaussianNoise(0.1)(h)
    h = L.Dense(3)(h)
    h = L.RepeatVector(2)(h)
    h = L.GlobalAveragePooling1D()(h)
    out = L.Softmax()(h)
    model = kerastyle.Model(inputs, out)
    x = np.random.default_rng(6).normal(size=(32, 6, 4)).astype("float32")
    y = np.random.default_rng(7).integers(0, 3, 32)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = kerastyle.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-7)
