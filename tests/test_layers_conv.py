"""Convolution and pooling layers against real Keras 3 (torch backend) as the oracle: same weights in,
same outputs, shapes, parameter counts and config keys out; plus numpy references where Keras's
torch backend departs from Keras's documented semantics, training and saving."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import kerastyle  # noqa: E402
from kerastyle import layers as L  # noqa: E402

keras = pytest.importorskip("keras")


def _against_keras(name, shape, rtol=1e-5, atol=1e-5, **kwargs):
    """Build the layer in both, copy Keras's weights over, compare everything observable."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape).astype("float32")
    theirs = getattr(keras.layers, name)(**kwargs)
    expected = np.asarray(theirs(x).detach().cpu())
    ours = getattr(L, name)(**kwargs)
    ours(torch.tensor(x))
    weights = [np.asarray(w) for w in theirs.get_weights()]
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in weights]  # Keras's layouts
    ours.set_weights(weights)
    got = ours(torch.tensor(x)).detach().numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)
    batchless = (None, *shape[1:])
    assert tuple(ours.compute_output_shape(batchless)) == tuple(theirs.compute_output_shape(batchless))
    assert ours.count_params() == theirs.count_params()
    assert set(ours.get_config()) - {"batch_input_shape"} == set(theirs.get_config()) - {"build_config"}
    return ours


CONV2D = [
    dict(filters=4, kernel_size=3),
    dict(filters=4, kernel_size=4, strides=2, padding="same"),  # even kernel: asymmetric 'same' padding
    dict(filters=4, kernel_size=3, strides=2, padding="same"),
    dict(filters=6, kernel_size=(2, 3), padding="same", dilation_rate=2, groups=3, activation="relu"),
    dict(filters=2, kernel_size=3, strides=(2, 1), use_bias=False, activation="tanh"),
]


@pytest.mark.parametrize("kwargs", CONV2D)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_conv2d_matches_keras(kwargs, data_format):
    shape = (2, 9, 8, 3) if data_format == "channels_last" else (2, 3, 9, 8)
    _against_keras("Conv2D", shape, data_format=data_format, **kwargs)


@pytest.mark.parametrize("kwargs", [dict(filters=4, kernel_size=3, padding="causal", dilation_rate=2),
                                    dict(filters=4, kernel_size=4, strides=3, padding="same"),
                                    dict(filters=3, kernel_size=2, data_format="channels_first")])
def test_conv1d_matches_keras(kwargs):
    shape = (2, 3, 10) if kwargs.get("data_format") == "channels_first" else (2, 10, 3)
    _against_keras("Conv1D", shape, **kwargs)


def test_causal_conv1d_never_looks_ahead():
    layer = L.Conv1D(2, 3, padding="causal", dilation_rate=2)
    x = torch.randn(1, 12, 3)
    base = layer(x)
    x2 = x.clone()
    x2[:, 7:] += 5.0  # change only the future of step 6
    np.testing.assert_allclose(layer(x2)[:, :7].detach().numpy(), base[:, :7].detach().numpy(), atol=1e-6)


@pytest.mark.parametrize("kwargs", [
    dict(filters=4, kernel_size=3, strides=2, padding="same"),
    dict(filters=4, kernel_size=4, strides=2, padding="same"),
    dict(filters=4, kernel_size=2, strides=3, padding="valid"),  # kernel < stride: zero rows appended
    dict(filters=4, kernel_size=3, strides=2, padding="valid", output_padding=1),
    dict(filters=4, kernel_size=4, strides=3, padding="same", output_padding=2),
    dict(filters=2, kernel_size=3, padding="same", dilation_rate=2),
    dict(filters=2, kernel_size=1, strides=3, padding="same"),
    dict(filters=2, kernel_size=3, strides=2, padding="same", data_format="channels_first"),
])
def test_conv2d_transpose_matches_keras(kwargs):
    shape = (2, 3, 5, 6) if kwargs.get("data_format") == "channels_first" else (2, 5, 6, 3)
    _against_keras("Conv2DTranspose", shape, **kwargs)


@pytest.mark.parametrize("kwargs", [dict(kernel_size=3, depth_multiplier=2, padding="same", strides=2),
                                    dict(kernel_size=3, data_format="channels_first"),
                                    dict(kernel_size=(2, 3), dilation_rate=2, use_bias=False)])
def test_depthwise_conv2d_matches_keras(kwargs):
    shape = (2, 3, 7, 7) if kwargs.get("data_format") == "channels_first" else (2, 7, 7, 3)
    _against_keras("DepthwiseConv2D", shape, **kwargs)


@pytest.mark.parametrize("kwargs", [dict(filters=5, kernel_size=3, depth_multiplier=2, padding="same", strides=2),
                                    dict(filters=2, kernel_size=2, data_format="channels_first")])
def test_separable_conv2d_matches_keras(kwargs):
    shape = (2, 3, 7, 7) if kwargs.get("data_format") == "channels_first" else (2, 7, 7, 3)
    _against_keras("SeparableConv2D", shape, **kwargs)


def test_conv2d_against_a_numpy_loop():
    """Independent of Keras: the definition, cross-correlation with a (kh, kw, in, out) kernel."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 6, 5, 3))
    k = rng.normal(size=(3, 2, 3, 4))
    b = rng.normal(size=4)
    layer = L.Conv2D(4, (3, 2), strides=(2, 1), dtype="float64")
    layer(torch.zeros(1, 6, 5, 3, dtype=torch.float64))
    layer.set_weights([k, b])
    expected = np.zeros((2, 2, 4, 4))
    for i in range(2):
        for j in range(4):
            patch = x[:, 2 * i:2 * i + 3, j:j + 2, :]
            expected[:, i, j, :] = np.einsum("nabc,abco->no", patch, k) + b
    np.testing.assert_allclose(layer(torch.tensor(x)).detach().numpy(), expected, rtol=1e-12)


POOL2D = [dict(pool_size=2), dict(pool_size=3, strides=2, padding="same"), dict(pool_size=2, padding="same"),
          dict(pool_size=(3, 2), strides=1, padding="same")]


@pytest.mark.parametrize("kwargs", POOL2D)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_max_pooling2d_matches_keras(kwargs, data_format):
    shape = (2, 7, 8, 3) if data_format == "channels_last" else (2, 3, 7, 8)
    _against_keras("MaxPooling2D", shape, data_format=data_format, **kwargs)


@pytest.mark.parametrize("name", ["MaxPooling1D", "AveragePooling1D"])
@pytest.mark.parametrize("kwargs", [dict(pool_size=2), dict(pool_size=3, strides=2, padding="same"),
                                    dict(pool_size=3, padding="valid", strides=1)])
def test_pooling1d_matches_keras(name, kwargs):
    _against_keras(name, (2, 9, 3), **kwargs)


def test_average_pooling2d_symmetric_same_matches_keras():
    _against_keras("AveragePooling2D", (2, 7, 7, 3), pool_size=3, strides=2, padding="same")
    _against_keras("AveragePooling2D", (2, 8, 6, 3), pool_size=2)


def _avg_pool_reference(x, pool, stride):
    """Keras's 'same' average pooling by its definition (TensorFlow's): the mean over the real inputs of
    each window, padding split with the extra pixel at the end."""
    n, h, w, c = x.shape
    out_h, out_w = -(-h // stride[0]), -(-w // stride[1])
    pad_h = max((out_h - 1) * stride[0] + pool[0] - h, 0) // 2
    pad_w = max((out_w - 1) * stride[1] + pool[1] - w, 0) // 2
    out = np.zeros((n, out_h, out_w, c))
    for i in range(out_h):
        for j in range(out_w):
            r0, c0 = i * stride[0] - pad_h, j * stride[1] - pad_w
            window = x[:, max(r0, 0):min(r0 + pool[0], h), max(c0, 0):min(c0 + pool[1], w), :]
            out[:, i, j, :] = window.mean(axis=(1, 2))
    return out


@pytest.mark.parametrize("pool,stride,size", [((3, 3), (2, 2), (7, 8)), ((3, 2), (1, 1), (7, 8)),
                                              ((2, 2), (2, 2), (5, 5)), ((4, 4), (3, 3), (10, 9))])
def test_average_pooling2d_same_averages_real_inputs_only(pool, stride, size):
    """Asymmetric 'same' windows: Keras 3's torch backend pads them by replication, which breaks its own
    documented rule; kerastyle follows the rule (and TensorFlow), checked against a numpy loop."""
    x = np.random.default_rng(2).normal(size=(2, *size, 3))
    layer = L.AveragePooling2D(pool, strides=stride, padding="same", dtype="float64")
    np.testing.assert_allclose(layer(torch.tensor(x)).numpy(), _avg_pool_reference(x, pool, stride), rtol=1e-12)
    first = L.AveragePooling2D(pool, strides=stride, padding="same", data_format="channels_first", dtype="float64")
    got = first(torch.tensor(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(got, _avg_pool_reference(x, pool, stride), rtol=1e-12)


@pytest.mark.parametrize("name", ["GlobalMaxPooling2D", "GlobalAveragePooling2D"])
@pytest.mark.parametrize("kwargs", [dict(), dict(keepdims=True), dict(data_format="channels_first")])
def test_global_pooling2d_matches_keras(name, kwargs):
    _against_keras(name, (2, 5, 6, 3), **kwargs)


@pytest.mark.parametrize("name", ["GlobalMaxPooling1D", "GlobalAveragePooling1D"])
@pytest.mark.parametrize("kwargs", [dict(), dict(keepdims=True), dict(data_format="channels_first")])
def test_global_pooling1d_matches_keras(name, kwargs):
    _against_keras(name, (2, 5, 3), **kwargs)


def test_global_average_pooling1d_with_a_mask_matches_keras():
    x = np.random.default_rng(3).normal(size=(2, 5, 3)).astype("float32")
    mask = np.array([[1, 1, 0, 0, 0], [1, 1, 1, 1, 0]], bool)
    expected = np.asarray(keras.layers.GlobalAveragePooling1D()(x, mask=mask).cpu())
    got = L.GlobalAveragePooling1D()(torch.tensor(x), mask=torch.tensor(mask)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_keras2_aliases():
    assert L.MaxPool2D is L.MaxPooling2D and L.AvgPool1D is L.AveragePooling1D
    assert L.GlobalAvgPool2D is L.GlobalAveragePooling2D and L.Convolution2D is L.Conv2D
    assert L.MaxPooling1D().pool_size == (2,) and L.AveragePooling2D().pool_size == (2, 2)  # Keras 2 defaults


@pytest.mark.parametrize("make,message", [
    (lambda: L.Conv2D(-3, 3), "`filters` must be a positive integer, got -3"),
    (lambda: L.Conv2D(4, (3, 0)), "`kernel_size`"),
    (lambda: L.Conv2D(4, 3, padding="full"), "`padding` must be one of 'valid', 'same', got 'full'"),
    (lambda: L.Conv2D(4, 3, padding="causal"), "`padding`"),
    (lambda: L.Conv2D(4, 3, data_format="NHWC"), "`data_format`"),
    (lambda: L.Conv2D(5, 3, groups=2), "divisible by `groups`"),
    (lambda: L.Conv2DTranspose(4, 3, strides=2, output_padding=2), "smaller than `strides`"),
    (lambda: L.MaxPooling2D(pool_size=(2, 2.5)), "`pool_size`"),
    (lambda: L.DepthwiseConv2D(3, depth_multiplier=0), "`depth_multiplier`"),
])
def test_bad_arguments_are_refused_with_clear_messages(make, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make()


def test_unknown_keyword_is_refused():
    with pytest.raises(TypeError, match="kernal_size"):
        L.Conv2D(4, 3, kernal_size=3)


def test_wrong_input_rank_and_channels_are_clear_errors():
    with pytest.raises(ValueError, match="rank 4"):
        L.Conv2D(2, 3)(torch.zeros(2, 8, 8))
    layer = L.Conv2D(2, 3)
    layer(torch.zeros(1, 8, 8, 3))
    with pytest.raises(ValueError, match="axis -1 of size 3"):
        layer(torch.zeros(1, 8, 8, 4))


def test_channels_last_output_is_contiguous_and_shares_no_copy_of_the_input():
    """Torch's conv receives a permuted view (channels-last memory format) and its result, permuted
    back, is a plain contiguous NHWC tensor: no layout copies on the way."""
    layer = L.Conv2D(8, 3, padding="same")
    y = layer(torch.randn(4, 10, 10, 3))
    assert y.shape == (4, 10, 10, 8) and y.is_contiguous()


def _cnn():
    return kerastyle.Sequential([
        L.Input((12, 12, 1)), L.Conv2D(4, 3, activation="relu"), L.MaxPooling2D(), L.Conv2D(6, 3, padding="same"),
        L.AveragePooling2D(2, padding="same"), L.Flatten(), L.Dense(3, activation="softmax")])


def test_summary_shapes_and_counts_match_keras():
    ours = _cnn()
    theirs = keras.Sequential([
        keras.Input((12, 12, 1)), keras.layers.Conv2D(4, 3, activation="relu"), keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(6, 3, padding="same"), keras.layers.AveragePooling2D(2, padding="same"),
        keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax")])
    assert [layer.output_shape for layer in ours.layers] == [tuple(layer.output.shape) for layer in theirs.layers]
    assert [layer.count_params() for layer in ours.layers] == [layer.count_params() for layer in theirs.layers]
    assert [layer.name for layer in ours.layers][:2] == ["conv2d", "max_pooling2d"]


def test_cnn_trains_with_fit_and_round_trips_through_save(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 12, 12, 1)).astype("float32")
    y = (x[:, :6].mean(axis=(1, 2, 3)) > x[:, 6:].mean(axis=(1, 2, 3))).astype("int64")
    model = _cnn()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=8, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    path = tmp_path / "cnn.keras"
    model.save(path)
    loaded = kerastyle.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    assert [type(layer).__name__ for layer in loaded.layers] == [type(layer).__name__ for layer in model.layers]


def test_functional_model_with_conv_transpose_and_separable_trains_and_saves(tmp_path):
    inputs = L.Input((8, 8, 2))
    h = L.SeparableConv2D(4, 3, padding="same", activation="relu")(inputs)
    h = L.DepthwiseConv2D(3, strides=2, padding="same")(h)
    h = L.Conv2DTranspose(2, 3, strides=2, padding="same")(h)
    model = kerastyle.Model(inputs, h)
    assert model.output_shape == (None, 8, 8, 2)
    x = np.random.default_rng(1).normal(size=(32, 8, 8, 2)).astype("float32")
    model.compile("adam", "mse")
    history = model.fit(x, x, epochs=5, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    model.save(tmp_path / "f.keras")
    loaded = kerastyle.models.load_model(tmp_path / "f.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_conv_gradients_match_finite_differences():
    layer = L.Conv2D(2, 3, strides=2, padding="same", dtype="float64")
    x = torch.randn(2, 5, 4, 3, dtype=torch.float64, requires_grad=True)
    layer(x)
    assert torch.autograd.gradcheck(lambda t: layer(t), (x,))
