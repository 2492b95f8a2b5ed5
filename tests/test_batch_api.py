"""train_on_batch / test_on_batch / predict_on_batch against Keras 3 (same weights in, same numbers out),
Keras 2 return forms and reset_metrics, the learning rate, predict on one sample, predict_classes."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import kerastyle  # noqa: E402

RNG = np.random.default_rng(1)
X = RNG.normal(size=(16, 4)).astype(np.float32)
Y = RNG.integers(0, 3, 16)


def pair(metrics=("accuracy",)):
    keras = pytest.importorskip("keras")
    theirs = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, activation="tanh"),
                               keras.layers.Dense(3, activation="softmax")])
    theirs.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy", metrics=list(metrics))
    ours = kerastyle.Sequential([kerastyle.layers.Dense(5, activation="tanh", input_shape=(4,)),
                                 kerastyle.layers.Dense(3, activation="softmax")])
    ours.compile(kerastyle.optimizers.SGD(0.1), "sparse_categorical_crossentropy", metrics=list(metrics))
    ours.set_weights(theirs.get_weights())
    return theirs, ours


def test_train_on_batch_matches_keras():
    theirs, ours = pair()
    for i in range(3):
        xb, yb = X[i * 5:(i + 1) * 5], Y[i * 5:(i + 1) * 5]
        np.testing.assert_allclose(ours.train_on_batch(xb, yb), theirs.train_on_batch(xb, yb), rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    got = ours.test_on_batch(X, Y, return_dict=True)
    expected = theirs.test_on_batch(X, Y, return_dict=True)
    assert set(got) == set(expected)
    for key in got:
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-5)
    np.testing.assert_allclose(ours.predict_on_batch(X), theirs.predict_on_batch(X), rtol=1e-5)


def test_return_forms_and_metrics_names():
    theirs, ours = pair(metrics=())
    loss = ours.train_on_batch(X, Y)
    assert isinstance(loss, float)
    np.testing.assert_allclose(loss, theirs.train_on_batch(X, Y), rtol=1e-5)
    _, ours = pair()
    values = ours.test_on_batch(X, Y)
    assert isinstance(values, list) and len(values) == 2
    assert ours.metrics_names == ["loss", "accuracy"]
    assert list(ours.train_on_batch(X, Y, return_dict=True)) == ["loss", "accuracy"]


def test_reset_metrics_false_accumulates_keras2_style():
    _, ours = pair()
    first = ours.test_on_batch(X[:8], Y[:8], return_dict=True)
    second = ours.test_on_batch(X[8:], Y[8:], reset_metrics=False, return_dict=True)
    whole = ours.test_on_batch(X, Y, return_dict=True)
    # Accumulated over both halves: the same as one call on all 16 samples.
    np.testing.assert_allclose(second["loss"], whole["loss"], rtol=1e-5)
    np.testing.assert_allclose(second["accuracy"], whole["accuracy"], rtol=1e-6)
    probs = ours.predict(X[:8], verbose=0)
    np.testing.assert_allclose(first["accuracy"], np.mean(probs.argmax(1) == Y[:8]), rtol=1e-6)
    with pytest.raises(ValueError, match="reset_metrics"):
        ours.test_on_batch(X, Y, reset_metrics="yes")


def test_learning_rate_is_readable_and_settable_and_stop_training():
    _, ours = pair(metrics=())
    before = ours.get_weights()
    ours.optimizer.learning_rate = 0.0
    assert ours.optimizer.learning_rate == 0.0
    ours.train_on_batch(X, Y)
    for a, b in zip(before, ours.get_weights()):
        np.testing.assert_array_equal(a, b)
    ours.optimizer.learning_rate = 0.1

    class Stop(kerastyle.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            self.model.stop_training = True
    history = ours.fit(X, Y, epochs=5, batch_size=4, verbose=0, callbacks=[Stop()])
    assert len(history.history["loss"]) == 1


def test_predict_single_sample_and_list_of_samples():
    _, ours = pair()
    full = ours.predict(X, verbose=0)
    np.testing.assert_allclose(ours.predict(X[0], verbose=0), full[:1], rtol=1e-6)
    np.testing.assert_allclose(ours.predict([X[0], X[1], X[2]], verbose=0), full[:3], rtol=1e-6)
    np.testing.assert_allclose(ours.predict_on_batch(X[3]), full[3:4], rtol=1e-6)


def test_predict_classes_and_proba_keras2():
    _, ours = pair()
    probs = ours.predict(X, verbose=0)
    np.testing.assert_array_equal(ours.predict_classes(X), probs.argmax(axis=-1))
    np.testing.assert_allclose(ours.predict_proba(X), probs)
    binary = kerastyle.Sequential([kerastyle.layers.Dense(1, activation="sigmoid", input_shape=(4,))])
    p = binary.predict(X, verbose=0)
    classes = binary.predict_classes(X)
    assert classes.shape == (16, 1) and classes.dtype == np.int32
    np.testing.assert_array_equal(classes, (p > 0.5).astype(np.int32))


def test_train_on_batch_uses_class_weight_like_sample_weight():
    _, a = pair(metrics=())
    _, b = pair(metrics=())
    b.set_weights(a.get_weights())
    table = {0: 2.0, 1: 0.5, 2: 1.0}
    a.train_on_batch(X, Y, class_weight=table)
    b.train_on_batch(X, Y, sample_weight=np.array([table[int(c)] for c in Y], np.float32))
    for u, v in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(u, v, rtol=1e-6)
