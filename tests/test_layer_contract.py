"""The Keras layer contract: custom layers, Lambda, subclassed models, trainability, regularizers,
constraints and add_loss. Independent truth: real Keras 3 (torch backend) with the same weights,
torch.autograd, and the regularizer/constraint formulas written out here."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest
import torch

import kerastyle as ks
from kerastyle import layers

keras = pytest.importorskip("keras")

RNG = np.random.default_rng(3)
X = RNG.normal(size=(32, 4)).astype("float32")
Y = (X @ np.array([[1.0], [-2.0], [0.5], [0.0]], dtype="float32") + 0.3).astype("float32")


def make_scaled_dense(lib):
    """A custom layer written exactly as a Keras user writes it, for either library."""

    class ScaledDense(lib.layers.Layer):
        def __init__(self, units, scale=2.0, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.scale = scale

        def build(self, input_shape):
            self.w = self.add_weight(name="w", shape=(input_shape[-1], self.units), initializer="glorot_uniform",
                                     trainable=True)
            self.b = self.add_weight(name="b", shape=(self.units,), initializer="zeros", trainable=True)
            self.count = self.add_weight(name="count", shape=(), initializer="zeros", trainable=False)

        def call(self, inputs):
            return self.scale * (lib.ops.matmul(inputs, self.w) + self.b)

        def compute_output_shape(self, input_shape):
            return (*input_shape[:-1], self.units)

        def get_config(self):
            return {**super().get_config(), "units": self.units, "scale": self.scale}

    return ScaledDense


@ks.saving.register_keras_serializable(package="tests")
class Doubler(layers.Layer):
    """A custom layer with only ``call``: it must not be mistaken for the identity."""

    def call(self, inputs):
        return inputs * 2


@ks.saving.register_keras_serializable(package="tests")
def cube(t):
    return t ** 3


def test_custom_layer_matches_keras_counts_outputs_and_training():
    Ours, Theirs = make_scaled_dense(ks), make_scaled_dense(keras)
    ours = ks.Sequential([ks.Input((4,)), Ours(3, name="scaled"), layers.Dense(1)])
    theirs = keras.Sequential([keras.Input((4,)), Theirs(3, name="scaled"), keras.layers.Dense(1)])
    ours.set_weights(theirs.get_weights())
    assert ours.count_params() == theirs.count_params() == 4 * 3 + 3 + 1 + 4
    assert len(ours.layers[0].trainable_weights) == 2 and len(ours.layers[0].non_trainable_weights) == 1
    np.testing.assert_allclose(ours.predict(X, verbose=0), theirs.predict(X, verbose=0), rtol=1e-5, atol=1e-6)
    lines = []
    ours.summary(print_fn=lines.append)
    assert any(line.startswith(" scaled (ScaledDense)") and "(None, 3)" in line and " 16 " in line + " "
               for line in lines)
    assert "Non-trainable params: 1" in lines
    for model, lib in ((ours, ks), (theirs, keras)):
        model.compile(optimizer=lib.optimizers.SGD(0.01), loss="mse")
    h_ours = ours.fit(X, Y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    h_theirs = theirs.fit(X, Y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    assert h_ours.params["engine"] == "autograd"
    np.testing.assert_allclose(h_ours.history["loss"], h_theirs.history["loss"], rtol=1e-4)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_custom_layer_round_trips_through_save_with_custom_objects_or_registration(tmp_path):
    Ours = make_scaled_dense(ks)
    model = ks.Sequential([ks.Input((4,)), Ours(3, scale=0.5), Doubler(), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(X, Y, epochs=1, verbose=0)
    model.save(tmp_path / "custom.keras")
    with pytest.raises(ks.saving.SavedFileError,
                       match=r"Unknown layer class 'ScaledDense'.*register_keras_serializable"):
        ks.models.load_model(tmp_path / "custom.keras")
    loaded = ks.models.load_model(tmp_path / "custom.keras", custom_objects={"ScaledDense": Ours})
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0), rtol=1e-6)
    assert loaded.layers[0].scale == 0.5 and isinstance(loaded.layers[1], Doubler)  # Doubler: registered


def test_a_layer_with_only_call_is_not_the_identity():
    model = ks.Sequential([ks.Input((3,)), Doubler()])
    np.testing.assert_allclose(model.predict(np.ones((2, 3)), verbose=0), 2 * np.ones((2, 3)))


def test_lambda_layer_trains_summarizes_and_round_trips(tmp_path):
    model = ks.Sequential([ks.Input((4,)), layers.Dense(3), layers.Lambda(cube), layers.Dense(1)])
    assert model.layers[1].output_shape == (None, 3)
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(X, Y, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all() and history.params["engine"] == "autograd"
    model.save(tmp_path / "lam.keras")
    loaded = ks.models.load_model(tmp_path / "lam.keras")
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0), rtol=1e-6)
    anonymous = ks.Sequential([ks.Input((4,)), layers.Lambda(lambda t: t + 1)])
    with pytest.raises(ValueError, match="not registered.*never stores code"):
        anonymous.save(tmp_path / "anon.keras")
    want = keras.Sequential([keras.Input((4,)), keras.layers.Lambda(lambda t: t ** 3)]).predict(X, verbose=0)
    np.testing.assert_allclose(ks.Sequential([ks.Input((4,)), layers.Lambda(cube)]).predict(X, verbose=0), want,
                               rtol=1e-6)


def test_subclassed_model_trains_like_the_same_keras_model():
    def subclass(lib):
        class TwoLayer(lib.Model):
            def __init__(self):
                super().__init__()
                self.hidden = lib.layers.Dense(5, activation="tanh")
                self.out = lib.layers.Dense(1)

            def call(self, inputs):
                return self.out(self.hidden(inputs))
        return TwoLayer()

    ours, theirs = subclass(ks), subclass(keras)
    ours(X[:1])  # both build on a first call
    theirs(X[:1])
    ours.set_weights(theirs.get_weights())
    for model, lib in ((ours, ks), (theirs, keras)):
        model.compile(optimizer=lib.optimizers.SGD(0.05), loss="mse")
    h_ours = ours.fit(X, Y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    h_theirs = theirs.fit(X, Y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    np.testing.assert_allclose(h_ours.history["loss"], h_theirs.history["loss"], rtol=1e-4)
    assert [la.name for la in ours.layers] == ["dense", "dense_1"]
    fresh = subclass(ks)  # built by fit from the data
    fresh.compile(optimizer="sgd", loss="mse")
    fresh.fit(X, Y, epochs=1, verbose=0)
    assert fresh.count_params() == 4 * 5 + 5 + 5 + 1


def test_l2_regularized_model_reports_keras_loss():
    ours = ks.Sequential([ks.Input((4,)), layers.Dense(2, kernel_regularizer="l2",
                                                       bias_regularizer=ks.regularizers.l1(0.1))])
    theirs = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, kernel_regularizer="l2",
                                                                     bias_regularizer=keras.regularizers.l1(0.1))])
    theirs.layers[0].bias.assign(np.array([0.3, -0.2], dtype="float32"))
    ours.set_weights(theirs.get_weights())
    target = np.zeros((32, 2), dtype="float32")
    for model in (ours, theirs):
        model.compile(optimizer="sgd", loss="mse")
    kernel, bias = ours.get_weights()
    formula = float(((X @ kernel + bias) ** 2).mean() + 0.01 * (kernel ** 2).sum() + 0.1 * np.abs(bias).sum())
    assert ours.evaluate(X, target, verbose=0) == pytest.approx(formula, rel=1e-5)
    assert ours.evaluate(X, target, verbose=0) == pytest.approx(theirs.evaluate(X, target, verbose=0), rel=1e-5)
    assert float(sum(ours.losses)) == pytest.approx(0.01 * (kernel ** 2).sum() + 0.1 * np.abs(bias).sum(), rel=1e-5)


@pytest.mark.parametrize("engine", ["analytic", "autograd"])
def test_regularized_training_matches_keras_with_both_engines(engine):
    ours = ks.Sequential([ks.Input((4,)), layers.Dense(3, activation="relu", kernel_regularizer=ks.regularizers.l1_l2(
        l1=0.01, l2=0.02)), layers.Dense(1, kernel_regularizer="l2")])
    theirs = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu",
                                                                     kernel_regularizer=keras.regularizers.l1_l2(
                                                                         l1=0.01, l2=0.02)),
                               keras.layers.Dense(1, kernel_regularizer="l2")])
    ours.set_weights(theirs.get_weights())
    for model, lib in ((ours, ks), (theirs, keras)):
        model.compile(optimizer=lib.optimizers.SGD(0.05), loss="mse")
    h_ours = ours.fit(X, Y, epochs=3, batch_size=8, shuffle=False, verbose=0, engine=engine)
    h_theirs = theirs.fit(X, Y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    assert h_ours.params["engine"] == engine
    np.testing.assert_allclose(h_ours.history["loss"], h_theirs.history["loss"], rtol=1e-4)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_regularized_gradients_check_against_autograd():
    model = ks.Sequential([ks.Input((4,)), layers.Dense(3, activation="tanh", kernel_regularizer="l1_l2"),
                           layers.Dense(1, kernel_regularizer="l2", bias_regularizer="l1")])
    model.compile(optimizer="sgd", loss="mse")
    assert ks.backprop.check_gradients(model, X[:8], Y[:8]).passed


def test_constraints_are_applied_after_each_update():
    model = ks.Sequential([ks.Input((4,)), layers.Dense(3, kernel_constraint=ks.constraints.max_norm(0.5),
                                                        bias_constraint="non_neg"), layers.Dense(1)])
    model.compile(optimizer=ks.optimizers.SGD(1.0), loss="mse")
    model.fit(X, Y * 100, epochs=2, verbose=0)
    kernel, bias = model.layers[0].get_weights()
    assert np.sqrt((kernel ** 2).sum(axis=0)).max() <= 0.5 + 1e-5  # MaxNorm over each unit's incoming weights
    assert (bias >= 0).all()
    w = torch.tensor([[3.0, 0.1], [4.0, 0.1]])
    np.testing.assert_allclose(ks.constraints.UnitNorm()(w).norm(dim=0).numpy(), [1.0, 1.0], rtol=1e-6)
    np.testing.assert_allclose(ks.constraints.MaxNorm(2.0)(w).numpy(),
                               keras.constraints.MaxNorm(2.0)(w.numpy()).cpu().numpy(), rtol=1e-6)
    np.testing.assert_allclose(ks.constraints.MinMaxNorm(1.0, 2.0, rate=0.5)(w).numpy(),
                               keras.constraints.MinMaxNorm(1.0, 2.0, rate=0.5)(w.numpy()).cpu().numpy(), rtol=1e-6)


def test_unknown_regularizer_and_constraint_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="Unknown regularizer 'l3'.*l1, l1_l2, l1l2, l2"):
        layers.Dense(2, kernel_regularizer="l3")
    with pytest.raises(ValueError, match="Unknown constraint 'maxnorm2'.*max_norm"):
        layers.Dense(2, kernel_constraint="maxnorm2")


@pytest.mark.parametrize("engine", ["analytic", "autograd"])
def test_trainable_flag_after_build_freezes_weights_after_compile(engine):
    model = ks.Sequential([ks.Input((4,)), layers.Dense(3, activation="relu"), layers.Dense(1)])
    model.layers[0].trainable = False
    model.compile(optimizer="sgd", loss="mse")
    frozen = model.layers[0].get_weights()
    model.fit(X, Y, epochs=2, verbose=0, engine=engine)
    for a, b in zip(frozen, model.layers[0].get_weights()):
        np.testing.assert_array_equal(a, b)
    lines = []
    model.summary(print_fn=lines.append)
    assert "Trainable params: 4" in lines and "Non-trainable params: 15" in lines
    model.trainable = False
    model.compile(optimizer="sgd", loss="mse")
    everything = model.get_weights()
    model.fit(X, Y, epochs=1, verbose=0, engine="autograd")
    for a, b in zip(everything, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    model.trainable = True
    model.compile(optimizer="sgd", loss="mse")
    model.fit(X, Y, epochs=1, verbose=0, engine=engine)
    assert not np.array_equal(everything[0], model.get_weights()[0])


def test_add_loss_is_added_to_the_training_loss_like_keras():
    def with_penalty(lib):
        class Penalized(lib.layers.Layer):
            def call(self, inputs):
                self.add_loss(0.5 * lib.ops.sum(lib.ops.square(inputs)) / 8)
                return inputs
        return Penalized

    ours = ks.Sequential([ks.Input((4,)), layers.Dense(2), with_penalty(ks)(), layers.Dense(1)])
    theirs = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2), with_penalty(keras)(), keras.layers.Dense(1)])
    ours.set_weights(theirs.get_weights())
    for model, lib in ((ours, ks), (theirs, keras)):
        model.compile(optimizer=lib.optimizers.SGD(0.01), loss="mse")
    h_ours = ours.fit(X, Y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    h_theirs = theirs.fit(X, Y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    np.testing.assert_allclose(h_ours.history["loss"], h_theirs.history["loss"], rtol=1e-4)
    assert ours.evaluate(X, Y, verbose=0) == pytest.approx(theirs.evaluate(X, Y, verbose=0), rel=1e-5)


def test_bad_layer_usage_gives_clear_errors():
    with pytest.raises(ValueError, match=r"add_weight\(\) argument `shape`.*\(3, -1\)"):
        class Bad(layers.Layer):
            def build(self, input_shape):
                self.add_weight(shape=(3, -1))

            def call(self, inputs):
                return inputs
        ks.Sequential([ks.Input((3,)), Bad()])

    class Liar(layers.Layer):
        def call(self, inputs):
            return inputs[:, :2]

        def compute_output_shape(self, input_shape):
            return input_shape

    with pytest.raises(ValueError,
                       match=r"compute_output_shape\(\) returns \(None, 3\).*call\(\) returns.*\(None, 2\)"):
        Liar()(ks.Input((3,)))
    with pytest.raises(TypeError, match=r"Dense: unrecognized keyword argument\(s\) 'unit'"):
        layers.Dense(3, unit=4)
    with pytest.raises(ValueError, match=r"`input_shape`.*4.5.*not an integer"):
        layers.Dense(3, input_shape=(4.5,))
    dense = layers.Dense(2)
    dense(torch.ones(3, 4))
    with pytest.raises(ValueError, match=r"Layer 'dense.*' \(Dense\).*shape \(None, 5\).*expects"):
        dense(torch.ones(3, 5))
    with pytest.raises(ValueError, match="already has a layer named"):
        ks.Sequential([ks.Input((3,)), layers.Dense(2, name="same"), layers.Dense(2, name="same")])


def test_one_layer_object_means_one_set_of_weights_in_two_models():
    shared = layers.Dense(2)
    first = ks.Sequential([ks.Input((4,)), shared])
    second = ks.Sequential([ks.Input((4,)), shared])
    first.set_weights([np.ones((4, 2)), np.zeros(2)])
    np.testing.assert_array_equal(second.predict(X[:3], verbose=0), first.predict(X[:3], verbose=0))
    np.testing.assert_array_equal(second.get_weights()[0], np.ones((4, 2)))
