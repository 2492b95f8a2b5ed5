"""The Functional API against real Keras 3 (torch backend) as the oracle: same weights in, same outputs,
parameter counts and loss arithmetic out; plus graph errors, config/JSON/save round trips."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest
import torch

import kerastyle as ks
from kerastyle import layers

keras = pytest.importorskip("keras")

RNG = np.random.default_rng(0)
X1 = RNG.normal(size=(40, 3)).astype("float32")
X2 = RNG.normal(size=(40, 2)).astype("float32")
Y_CLASS = RNG.integers(0, 2, 40)
Y_REG = RNG.normal(size=(40, 1)).astype("float32")


def two_in_two_out(lib):
    a = lib.Input((3,), name="a")
    b = lib.Input((2,), name="b")
    h = lib.layers.Concatenate(name="concat")([a, b])
    h = lib.layers.Dense(4, activation="relu", name="hid")(h)
    cls = lib.layers.Dense(2, activation="softmax", name="cls")(h)
    reg = lib.layers.Dense(1, name="reg")(h)
    return lib.Model([a, b], [cls, reg])


def compiled_pair(loss_weights=(1.0, 0.5)):
    ours, theirs = two_in_two_out(ks), two_in_two_out(keras)
    ours.set_weights(theirs.get_weights())
    for model, lib in ((ours, ks), (theirs, keras)):
        model.compile(optimizer=lib.optimizers.SGD(0.1), loss=["sparse_categorical_crossentropy", "mse"],
                      loss_weights=list(loss_weights), metrics=[["accuracy"], ["mae"]])
    return ours, theirs


def test_two_input_two_output_model_matches_keras_predictions_and_counts():
    ours, theirs = compiled_pair()
    assert ours.count_params() == theirs.count_params() == 39
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]
    got = ours.predict([X1, X2], verbose=0)
    want = theirs.predict([X1, X2], verbose=0)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
    assert ours.output_names == ["cls", "reg"]
    assert [t.shape for t in ours.outputs] == [(None, 2), (None, 1)]


def test_evaluate_matches_keras_loss_arithmetic_with_loss_weights():
    ours, theirs = compiled_pair()
    got = ours.evaluate([X1, X2], [Y_CLASS, Y_REG], verbose=0, return_dict=True)
    want = theirs.evaluate([X1, X2], [Y_CLASS, Y_REG], verbose=0, return_dict=True)
    assert set(got) == set(want)
    for key in want:
        assert got[key] == pytest.approx(want[key], rel=1e-5), key
    assert got["loss"] == pytest.approx(got["cls_loss"] + 0.5 * got["reg_loss"], rel=1e-6)
    # list form: loss, per-output losses, metrics (Keras's order)
    values = ours.evaluate([X1, X2], [Y_CLASS, Y_REG], verbose=0)
    np.testing.assert_allclose(values, theirs.evaluate([X1, X2], [Y_CLASS, Y_REG], verbose=0), rtol=1e-5)


def test_fit_matches_keras_weights_and_history_with_dict_targets():
    ours, theirs = compiled_pair()
    kwargs = dict(epochs=2, batch_size=10, shuffle=False, verbose=0)
    h_ours = ours.fit({"a": X1, "b": X2}, {"cls": Y_CLASS, "reg": Y_REG}, **kwargs)
    h_theirs = theirs.fit({"a": X1, "b": X2}, {"cls": Y_CLASS, "reg": Y_REG}, **kwargs)
    for g, w in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-6)
    for key in h_theirs.history:
        np.testing.assert_allclose(h_ours.history[key], h_theirs.history[key], rtol=1e-4, err_msg=key)
    assert list(h_ours.history)[:3] == ["loss", "cls_loss", "reg_loss"]  # Keras 2 order


def test_shared_layer_and_merge_layers_match_keras():
    def build(lib):
        a = lib.Input((4,))
        b = lib.Input((4,))
        shared = lib.layers.Dense(3, activation="tanh", name="shared")
        sa, sb = shared(a), shared(b)
        merged = [lib.layers.Add()([sa, sb]), lib.layers.Subtract()([sa, sb]), lib.layers.Multiply()([sa, sb]),
                  lib.layers.Average()([sa, sb]), lib.layers.Maximum()([sa, sb]), lib.layers.Minimum()([sa, sb]),
                  lib.layers.Dot(axes=1)([sa, sb]), lib.layers.Dot(axes=1, normalize=True)([sa, sb])]
        return lib.Model([a, b], lib.layers.Concatenate()(merged))
    ours, theirs = build(ks), build(keras)
    ours.set_weights(theirs.get_weights())
    assert ours.count_params() == theirs.count_params() == 15  # one set of weights for both calls
    xa, xb = RNG.normal(size=(5, 4)).astype("float32"), RNG.normal(size=(5, 4)).astype("float32")
    np.testing.assert_allclose(ours.predict([xa, xb], verbose=0), theirs.predict([xa, xb], verbose=0),
                               rtol=1e-5, atol=1e-6)
    assert len(ours.get_layer("shared")._inbound_nodes) == 2


def test_symbolic_calls_infer_shapes_without_computing():
    x = ks.Input((5,), name="x")
    assert x.shape == (None, 5)
    y = layers.Dense(7)(x)
    assert isinstance(y, layers.KerasTensor) and y.shape == (None, 7)
    seq = ks.Input((None, 6))  # unknown length stays unknown
    z = layers.Dense(2)(seq)
    assert z.shape == (None, None, 2)
    with pytest.raises(TypeError, match="symbolic tensor"):
        _ = y + y


def test_functional_summary_has_the_keras2_connected_to_column():
    ours, _ = compiled_pair()
    lines = []
    ours.summary(print_fn=lines.append)
    assert lines[0] == f'Model: "{ours.name}"'
    assert len(lines[1]) == 98
    assert lines[2].startswith(" Layer (type)") and "Connected to" in lines[2]
    assert lines[2].index("Output Shape") == 32 and lines[2].index("Param #") == 53 and \
        lines[2].index("Connected to") == 65
    text = "\n".join(lines)
    assert "a (InputLayer)" in text and "[(None, 3)]" in text
    assert "['a[0][0]'," in text and "'b[0][0]']" in text
    assert "['hid[0][0]']" in text
    assert "Total params: 39" in text and "Trainable params: 39" in text


def test_graph_errors_are_clear():
    a, b = ks.Input((3,), name="in_a"), ks.Input((3,), name="in_b")
    out = layers.Add()([a, b])
    with pytest.raises(ValueError, match="graph disconnected.*'in_b'"):
        ks.Model(a, out)
    with pytest.raises(ValueError, match="several layers are named 'twin'"):
        x = ks.Input((3,))
        ks.Model(x, layers.Dense(2, name="twin")(layers.Dense(3, name="twin")(x)))
    model = ks.Model([a, b], out)
    with pytest.raises(ValueError, match=r"dict without entries for input \['in_b'\]"):
        model.compile(loss="mse")
        model.fit({"in_a": np.ones((4, 3))}, np.ones((4, 3)), verbose=0)
    dense = layers.Dense(2)
    dense(ks.Input((3,)))
    with pytest.raises(ValueError, match=r"Layer 'dense.*' \(Dense\).*shape \(None, 5\).*expects.*\(None, 3\)"):
        dense(ks.Input((5,)))
    with pytest.raises(TypeError, match="symbolic tensors"):
        ks.Model(a, np.ones(3))


def test_config_json_and_save_round_trips(tmp_path):
    ours, _ = compiled_pair()
    ours.fit([X1, X2], [Y_CLASS, Y_REG], epochs=1, verbose=0)
    want = ours.predict([X1, X2], verbose=0)
    clone = ks.models.model_from_json(ours.to_json())
    clone.set_weights(ours.get_weights())
    for g, w in zip(clone.predict([X1, X2], verbose=0), want):
        np.testing.assert_allclose(g, w, rtol=1e-6)
    assert [la.name for la in clone.layers] == [la.name for la in ours.layers]
    ours.save(tmp_path / "m.keras")
    loaded = ks.models.load_model(tmp_path / "m.keras")
    for g, w in zip(loaded.predict([X1, X2], verbose=0), want):
        np.testing.assert_allclose(g, w, rtol=1e-6)
    assert loaded.evaluate([X1, X2], [Y_CLASS, Y_REG], verbose=0) == pytest.approx(
        ours.evaluate([X1, X2], [Y_CLASS, Y_REG], verbose=0))
    fresh = ks.models.clone_model(ours)
    assert [w.shape for w in fresh.get_weights()] == [w.shape for w in ours.get_weights()]
    assert not np.allclose(fresh.get_weights()[2], ours.get_weights()[2])


def test_nested_sequential_inside_functional_and_functional_chain_uses_the_analytic_engine():
    x = ks.Input((6,))
    block = ks.Sequential([layers.Dense(5, activation="relu"), layers.Dense(4, activation="relu")], name="block")
    out = layers.Dense(3, activation="softmax")(block(x))
    model = ks.Model(x, out)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    history = model.fit(RNG.normal(size=(20, 6)), RNG.integers(0, 3, 20), epochs=1, verbose=0)
    assert history.params["engine"] == "analytic"
    assert model.count_params() == 6 * 5 + 5 + 5 * 4 + 4 + 4 * 3 + 3
    assert ks.backprop.check_gradients(model, RNG.normal(size=(8, 6)), RNG.integers(0, 3, 8)).passed


def test_branching_model_falls_back_to_autograd_and_says_why():
    model, _ = compiled_pair()
    history = model.fit([X1, X2], [Y_CLASS, Y_REG], epochs=1, verbose=0)
    assert history.params["engine"] == "autograd"
    assert "several outputs" in history.params["analytic_unsupported"]


def test_model_is_not_sequential_and_layer_io_properties():
    assert ks.Model is not ks.Sequential and issubclass(ks.Sequential, ks.Model)
    x = ks.Input((3,))
    dense = layers.Dense(2)
    y = dense(x)
    model = ks.Model(x, y)
    assert dense.input is x and dense.output is y
    assert model.inputs == [x] and model.outputs == [y]
    assert model.get_layer(index=1) is dense and model.get_layer("dense") is dense
    with pytest.raises(ValueError, match="No layer named 'nope'"):
        model.get_layer("nope")
    out = model(torch.ones(4, 3, dtype=torch.float64))  # eager call: float64 is cast, numpy accepted
    assert out.shape == (4, 2) and out.dtype == torch.float32
    assert model(np.ones((4, 3))).shape == (4, 2)


def test_integer_inputs_stay_integer():
    seen = []

    class Probe(layers.Layer):
        def call(self, inputs):
            seen.append(inputs.dtype)
            return inputs.float() * 2

    x = ks.Input((3,), dtype="int32")
    assert x.dtype == torch.int32
    model = ks.Model(x, Probe()(x))
    out = model.predict(np.array([[1, 2, 3]]), verbose=0)
    np.testing.assert_array_equal(out, [[2, 4, 6]])
    assert seen[-1] in (torch.int32, torch.int64)
