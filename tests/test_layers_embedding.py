"""Embedding, Masking and mask propagation through Sequential and functional models, against real Keras 3
(torch backend): same weights in, same outputs out."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import kerastyle as kt  # noqa: E402

keras = pytest.importorskip("keras")

RNG = np.random.default_rng(1)
# Padded token ids as pad_sequences makes them (zeros in front), vocabulary 20.
IDS = np.array([[0, 0, 3, 7, 1, 9], [4, 2, 8, 8, 1, 5], [0, 0, 0, 0, 6, 2], [11, 0, 3, 19, 0, 0]], dtype="int32")


def _np(t):
    return np.asarray(t.detach().cpu()) if torch.is_tensor(t) else np.asarray(t)


def test_embedding_lookup_layout_and_defaults():
    layer = kt.layers.Embedding(20, 4)
    out = layer(torch.tensor(IDS))
    table = layer.get_weights()[0]
    assert table.shape == (20, 4) and layer.count_params() == 80
    np.testing.assert_array_equal(_np(out), table[IDS])
    assert np.abs(table).max() <= 0.05  # Keras's 'uniform': RandomUniform(-0.05, 0.05)
    assert tuple(out.shape) == (4, 6, 4)


def test_embedding_matches_keras_and_float_ids_are_cast():
    k_layer = keras.layers.Embedding(20, 4)
    k_layer(IDS)
    t_layer = kt.layers.Embedding(20, 4)
    t_layer(torch.tensor(IDS))
    t_layer.set_weights(k_layer.get_weights())
    np.testing.assert_allclose(_np(t_layer(torch.tensor(IDS.astype("float32")))), _np(k_layer(IDS)), atol=0)
    assert set(k_layer.get_config()) - set(t_layer.get_config()) <= {"lora_rank", "lora_alpha",
                                                                     "embeddings_quantizer", "quantization_config"}


def test_masks_from_embedding_and_masking():
    emb = kt.layers.Embedding(20, 3, mask_zero=True)
    x = torch.tensor(IDS)
    np.testing.assert_array_equal(_np(emb.compute_mask(x)), IDS != 0)
    assert kt.layers.Embedding(20, 3).compute_mask(x) is None
    values = RNG.normal(size=(2, 4, 3)).astype("float32")
    values[0, 1] = 0.0
    masking = kt.layers.Masking(mask_value=0.0)
    np.testing.assert_array_equal(_np(masking.compute_mask(torch.tensor(values))), [[1, 0, 1, 1], [1, 1, 1, 1]])
    k_out = keras.layers.Masking()(values)
    np.testing.assert_allclose(_np(masking(torch.tensor(values))), _np(k_out))


@pytest.mark.parametrize("rnn", ["LSTM", "GRU", "SimpleRNN"])
def test_sequential_mask_zero_into_recurrent_matches_keras(rnn):
    k_model = keras.Sequential([keras.Input((6,), dtype="int32"), keras.layers.Embedding(20, 4, mask_zero=True),
                                keras.layers.Dropout(0.2), getattr(keras.layers, rnn)(5), keras.layers.Dense(1)])
    t_model = kt.Sequential([kt.layers.Embedding(20, 4, mask_zero=True, input_length=6), kt.layers.Dropout(0.2),
                             getattr(kt.layers, rnn)(5), kt.layers.Dense(1)])
    assert t_model.count_params() == k_model.count_params()
    t_model.set_weights(k_model.get_weights())
    expected = k_model.predict(IDS, verbose=0)
    np.testing.assert_allclose(t_model.predict(IDS, verbose=0), expected, atol=2e-6)
    # the mask matters: without it the padded steps change the result
    plain = kt.Sequential([kt.layers.Embedding(20, 4, input_length=6), getattr(kt.layers, rnn)(5), kt.layers.Dense(1)])
    plain.set_weights(k_model.get_weights())
    assert not np.allclose(plain.predict(IDS, verbose=0), expected, atol=1e-4)


def test_functional_mask_into_bidirectional_matches_keras():
    k_in = keras.Input((6,), dtype="int32")
    k_seq = keras.layers.Bidirectional(keras.layers.LSTM(3, return_sequences=True))(
        keras.layers.Embedding(20, 4, mask_zero=True)(k_in))
    k_model = keras.Model(k_in, keras.layers.GRU(2)(k_seq))
    t_in = kt.Input((6,), dtype="int32")
    t_seq = kt.layers.Bidirectional(kt.layers.LSTM(3, return_sequences=True))(
        kt.layers.Embedding(20, 4, mask_zero=True)(t_in))
    t_model = kt.Model(t_in, kt.layers.GRU(2)(t_seq))
    t_model.set_weights(k_model.get_weights())
    np.testing.assert_allclose(t_model.predict(IDS, verbose=0), k_model.predict(IDS, verbose=0), atol=2e-6)


def test_mask_passes_through_dense_as_in_keras():
    k_model = keras.Sequential([keras.Input((6,), dtype="int32"), keras.layers.Embedding(20, 4, mask_zero=True),
                                keras.layers.Dense(3), keras.layers.GRU(2)])
    t_model = kt.Sequential([kt.layers.Embedding(20, 4, mask_zero=True, input_length=6), kt.layers.Dense(3),
                             kt.layers.GRU(2)])
    t_model.set_weights(k_model.get_weights())
    np.testing.assert_allclose(t_model.predict(IDS, verbose=0), k_model.predict(IDS, verbose=0), atol=2e-6)


def test_masking_layer_in_sequential_matches_keras():
    values = RNG.normal(size=(3, 5, 2)).astype("float32")
    values[0, :2] = 0.0
    values[2, 3:] = 0.0
    k_model = keras.Sequential([keras.Input((5, 2)), keras.layers.Masking(), keras.layers.LSTM(3)])
    t_model = kt.Sequential([kt.layers.Masking(input_shape=(5, 2)), kt.layers.LSTM(3)])
    t_model.set_weights(k_model.get_weights())
    np.testing.assert_allclose(t_model.predict(values, verbose=0), k_model.predict(values, verbose=0), atol=2e-6)


def test_integer_inputs_stay_integers_in_embedding_first_sequential():
    big = np.array([[2 ** 24 + 1, 3]], dtype="int64")  # not exactly representable in float32
    model = kt.Sequential([kt.layers.Embedding(2 ** 24 + 2, 1, input_length=2)])
    with torch.no_grad():
        model.layers[0].embeddings[2 ** 24 + 1] = 7.0
    assert model._input_dtypes() == [torch.int64]
    assert model.predict(big, verbose=0)[0, 0, 0] == 7.0


def test_embedding_lstm_fit_trains_and_round_trips(tmp_path):
    kt.utils.set_random_seed(0)
    x = RNG.integers(1, 30, size=(128, 10))
    x[:, :3] = 0  # padding
    y = (x == 7).any(axis=1).astype("float32")
    model = kt.Sequential([kt.layers.Embedding(30, 8, mask_zero=True, input_shape=(10,)), kt.layers.LSTM(8),
                           kt.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=20, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < 0.8 * history.history["loss"][0]
    path = tmp_path / "emb.keras"
    model.save(path)
    loaded = kt.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_summary_output_shapes():
    model = kt.Sequential([kt.layers.Embedding(1000, 16, input_length=50), kt.layers.LSTM(32),
                           kt.layers.Dense(1)])
    assert model.layers[0].output_shape == (None, 50, 16)
    assert model.count_params() == 1000 * 16 + 4 * (32 * (16 + 32) + 32) + 33


@pytest.mark.parametrize("call,message", [
    (lambda: kt.layers.Embedding(0, 4), "`input_dim` must be a positive integer, got 0"),
    (lambda: kt.layers.Embedding(10, 2.5), "`output_dim` must be a positive integer, got 2.5"),
    (lambda: kt.layers.Embedding(10, 4, mask_zero="yes"), "`mask_zero` must be True or False"),
    (lambda: kt.layers.Embedding(10, 4, embeddings_initializer="nope"), "embeddings_initializer"),
    (lambda: kt.layers.Embedding(10, 4, input_lenght=3), "input_lenght"),
    (lambda: kt.layers.Masking(mask_value="0"), "`mask_value` must be a number"),
])
def test_bad_arguments(call, message):
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    assert message in str(info.value)
