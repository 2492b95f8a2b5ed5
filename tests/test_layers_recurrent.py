"""SimpleRNN, LSTM, GRU, Bidirectional, TimeDistributed against real Keras 3 (torch backend) as the oracle:
same weights in, same outputs out; Keras's weight layouts and parameter counts; masks; fit and save/load."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import kerastyle as kt  # noqa: E402

keras = pytest.importorskip("keras")

RNG = np.random.default_rng(0)
X = RNG.normal(size=(4, 6, 3)).astype("float32")
KINDS = ["SimpleRNN", "LSTM", "GRU"]


def _np(values):
    values = values if isinstance(values, (list, tuple)) else [values]
    return [np.asarray(v.detach().cpu()) if torch.is_tensor(v) else np.asarray(v) for v in values]


def _pair(kind, **kwargs):
    """The same layer in Keras and kerastyle, both built on X, with Keras's weights copied over."""
    k_layer = getattr(keras.layers, kind)(5, **kwargs)
    k_layer(X)
    t_layer = getattr(kt.layers, kind)(5, **kwargs)
    t_layer(torch.tensor(X))
    t_layer.set_weights(k_layer.get_weights())
    return k_layer, t_layer


def _close(a, b, atol=2e-6):
    a, b = _np(a), _np(b)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.shape == y.shape
        np.testing.assert_allclose(y, x, atol=atol, rtol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("options", [{}, {"return_sequences": True}, {"go_backwards": True},
                                     {"go_backwards": True, "return_sequences": True},
                                     {"return_state": True}, {"return_sequences": True, "return_state": True}])
def test_outputs_match_keras(kind, options):
    k_layer, t_layer = _pair(kind, **options)
    _close(k_layer(X), t_layer(torch.tensor(X)))


@pytest.mark.parametrize("kind,counts", [("SimpleRNN", [(3, 5), (5, 5), (5,)]),
                                         ("LSTM", [(3, 20), (5, 20), (20,)]),
                                         ("GRU", [(3, 15), (5, 15), (2, 15)])])
def test_weight_layouts_and_param_counts(kind, counts):
    k_layer, t_layer = _pair(kind)
    assert [w.shape for w in t_layer.get_weights()] == counts == [w.shape for w in k_layer.get_weights()]
    assert t_layer.count_params() == k_layer.count_params()
    # LSTM: 4(u(in+u)+u), not torch's 4(u(in+u)+2u)
    if kind == "LSTM":
        assert t_layer.count_params() == 4 * (5 * (3 + 5) + 5)


def test_lstm_default_bias_has_unit_forget_bias_and_orthogonal_recurrent_kernel():
    layer = kt.layers.LSTM(4)
    layer(torch.zeros(2, 3, 2))
    bias = layer.get_weights()[2]
    np.testing.assert_array_equal(bias, np.r_[np.zeros(4), np.ones(4), np.zeros(8)])
    rec = layer.get_weights()[1]  # (4, 16): orthonormal rows
    np.testing.assert_allclose(rec @ rec.T, np.eye(4), atol=1e-5)


@pytest.mark.parametrize("options", [{"activation": "relu"}, {"use_bias": False}])
def test_simple_rnn_options(options):
    k_layer, t_layer = _pair("SimpleRNN", return_sequences=True, **options)
    _close(k_layer(X), t_layer(torch.tensor(X)))


@pytest.mark.parametrize("kind,options", [("GRU", {"reset_after": False}), ("GRU", {"use_bias": False}),
                                          ("LSTM", {"use_bias": False}), ("LSTM", {"activation": "relu"}),
                                          ("GRU", {"recurrent_activation": "hard_sigmoid"})])
def test_loop_configurations_match_keras(kind, options):
    """Configurations that torch's fused kernels cannot compute (or can, without bias) still match."""
    k_layer, t_layer = _pair(kind, return_sequences=True, **options)
    _close(k_layer(X), t_layer(torch.tensor(X)), atol=5e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_fused_and_loop_paths_agree(kind):
    """An all-True mask forces the Python loop; outputs and gradients equal the fused kernel's."""
    layer = getattr(kt.layers, kind)(5, return_sequences=True)
    x = torch.tensor(X, requires_grad=True)
    fused = layer(x)
    grads_fused = torch.autograd.grad(fused.square().sum(), [x, *layer.trainable_weights])
    looped = layer(x, mask=torch.ones(4, 6, dtype=torch.bool))
    grads_loop = torch.autograd.grad(looped.square().sum(), [x, *layer.trainable_weights])
    torch.testing.assert_close(looped, fused, atol=1e-6, rtol=1e-5)
    for a, b in zip(grads_loop, grads_fused):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("options", [{}, {"return_sequences": True}, {"go_backwards": True, "return_sequences": True},
                                     {"return_state": True}])
def test_masked_outputs_match_keras(kind, options):
    k_layer, t_layer = _pair(kind, **options)
    mask = np.ones((4, 6), dtype=bool)
    mask[0, :2] = False  # pre-padding (pad_sequences' default)
    mask[1, 4:] = False  # post-padding
    mask[2, 3] = False
    _close(k_layer(X, mask=mask), t_layer(torch.tensor(X), mask=torch.tensor(mask)))


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_matches_keras(merge_mode, return_sequences):
    k_layer = keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=return_sequences),
                                         merge_mode=merge_mode)
    k_layer(X)
    t_layer = kt.layers.Bidirectional(kt.layers.LSTM(4, return_sequences=return_sequences), merge_mode=merge_mode)
    t_layer(torch.tensor(X))
    assert [w.shape for w in t_layer.get_weights()] == [w.shape for w in k_layer.get_weights()]
    assert t_layer.count_params() == k_layer.count_params()
    t_layer.set_weights(k_layer.get_weights())
    _close(k_layer(X), t_layer(torch.tensor(X)))
    mask = np.ones((4, 6), dtype=bool)
    mask[0, :3] = False
    _close(k_layer(X, mask=mask), t_layer(torch.tensor(X), mask=torch.tensor(mask)))


def test_bidirectional_return_state_matches_keras():
    k_layer = keras.layers.Bidirectional(keras.layers.GRU(4, return_state=True))
    k_layer(X)
    t_layer = kt.layers.Bidirectional(kt.layers.GRU(4, return_state=True))
    t_layer(torch.tensor(X))
    t_layer.set_weights(k_layer.get_weights())
    _close(k_layer(X), t_layer(torch.tensor(X)))


def test_time_distributed_matches_keras():
    k_layer = keras.layers.TimeDistributed(keras.layers.Dense(7, activation="tanh"))
    k_layer(X)
    t_layer = kt.layers.TimeDistributed(kt.layers.Dense(7, activation="tanh"))
    t_layer(torch.tensor(X))
    t_layer.set_weights(k_layer.get_weights())
    _close(k_layer(X), t_layer(torch.tensor(X)))
    model = kt.Sequential([kt.Input(shape=(6, 3)), t_layer])
    assert model.output_shape == (None, 6, 7)


def test_initial_state_matches_keras():
    h0 = RNG.normal(size=(4, 5)).astype("float32")
    c0 = RNG.normal(size=(4, 5)).astype("float32")
    k_layer, t_layer = _pair("LSTM", return_sequences=True)
    _close(k_layer(X, initial_state=[h0, c0]),
           t_layer(torch.tensor(X), initial_state=[torch.tensor(h0), torch.tensor(c0)]))


@pytest.mark.parametrize("kind", KINDS)
def test_config_keys_match_keras(kind):
    k_keys = set(getattr(keras.layers, kind)(3).get_config())
    t_config = getattr(kt.layers, kind)(3).get_config()
    missing = k_keys - set(t_config) - {"use_cudnn"}
    assert not missing, missing
    assert t_config["recurrent_initializer"] == "orthogonal"


def test_summary_shapes_and_counts_match_keras():
    k_model = keras.Sequential([keras.Input((6, 3)), keras.layers.LSTM(8, return_sequences=True),
                                keras.layers.Bidirectional(keras.layers.GRU(4)), keras.layers.Dense(2)])
    t_model = kt.Sequential([kt.layers.LSTM(8, return_sequences=True, input_shape=(6, 3)),
                             kt.layers.Bidirectional(kt.layers.GRU(4)), kt.layers.Dense(2)])
    assert t_model.count_params() == k_model.count_params()
    assert [tuple(layer.output_shape) for layer in t_model.layers] == [(None, 6, 8), (None, 8), (None, 2)]
    t_model.set_weights(k_model.get_weights())
    _close(k_model.predict(X, verbose=0), t_model.predict(X, verbose=0), atol=1e-5)


def test_fit_trains_and_round_trips(tmp_path):
    kt.utils.set_random_seed(1)
    x = RNG.normal(size=(64, 8, 2)).astype("float32")
    y = (x[:, :, 0].sum(axis=1) > 0).astype("float32")
    model = kt.Sequential([kt.layers.GRU(8, input_shape=(8, 2), dropout=0.1, recurrent_dropout=0.1),
                           kt.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=kt.optimizers.Adam(learning_rate=0.01), loss="binary_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0] * 0.8
    path = tmp_path / "gru.keras"
    model.save(path)
    loaded = kt.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_functional_bidirectional_fit_and_round_trip(tmp_path):
    inputs = kt.Input(shape=(8, 2))
    seq = kt.layers.Bidirectional(kt.layers.LSTM(4, return_sequences=True))(inputs)
    out = kt.layers.Dense(1)(kt.layers.SimpleRNN(3)(seq))
    model = kt.Model(inputs, out)
    model.compile(optimizer="adam", loss="mse")
    x = RNG.normal(size=(32, 8, 2)).astype("float32")
    y = x.mean(axis=(1, 2))[:, None]
    history = model.fit(x, y, epochs=10, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    path = tmp_path / "bi.keras"
    model.save(path)
    loaded = kt.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_recurrent_dropout_differs_in_training_only():
    layer = kt.layers.LSTM(4, dropout=0.5, recurrent_dropout=0.5)
    x = torch.tensor(X)
    torch.testing.assert_close(layer(x), layer(x))  # inference: deterministic
    assert not torch.allclose(layer(x, training=True), layer(x, training=True))


def test_generic_rnn_with_keras_cell_and_user_cell():
    k_layer = keras.layers.RNN(keras.layers.LSTMCell(5), return_sequences=True)
    k_layer(X)
    t_layer = kt.layers.RNN(kt.layers.LSTMCell(5), return_sequences=True)
    t_layer(torch.tensor(X))
    t_layer.set_weights(k_layer.get_weights())
    _close(k_layer(X), t_layer(torch.tensor(X)))

    class Accumulate(kt.layers.Layer):  # a user's cell: h_t = h_{t-1} + x_t
        state_size = 3

        def call(self, inputs, states):
            h = states + inputs
            return h, [h]

    out = kt.layers.RNN(Accumulate(), return_sequences=True)(torch.tensor(X))
    np.testing.assert_allclose(out.numpy(), np.cumsum(X, axis=1), atol=1e-5)


@pytest.mark.parametrize("call,message", [
    (lambda: kt.layers.LSTM(0), "`units` must be a positive integer, got 0"),
    (lambda: kt.layers.LSTM(4, dropout=1.5), "`dropout` must be a number in [0, 1), got 1.5"),
    (lambda: kt.layers.GRU(4, reset_afterr=True), "reset_afterr"),
    (lambda: kt.layers.LSTM(4, stateful=True), "stateful=True"),
    (lambda: kt.layers.Bidirectional(kt.layers.LSTM(2), merge_mode="max"), "merge_mode"),
    (lambda: kt.layers.Bidirectional(kt.layers.Dense(2)), "recurrent layer"),
    (lambda: kt.layers.LSTM(4)(torch.zeros(2, 3)), "rank 3"),
])
def test_bad_arguments(call, message):
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    assert message in str(info.value)


def test_numpy_scalars_accepted():
    layer = kt.layers.LSTM(np.int64(3), dropout=np.float32(0.25))
    assert layer.units == 3 and layer.dropout == 0.25
