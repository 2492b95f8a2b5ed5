"""Bad input: every case of the issue's "Bad input" list fails early with a message that
names the argument, the offending value and what was expected."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from kerastyle.layers import Activation, Dense
from kerastyle.models import Sequential
from kerastyle.optimizers import SGD

RNG = np.random.default_rng(0)
X = RNG.random((10, 4)).astype(np.float32)
LABELS = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
ONEHOT = np.eye(3, dtype=np.float32)[LABELS]


def model(k=3, loss="categorical_crossentropy", activation="softmax", metrics=("accuracy",)):
    m = Sequential([Dense(5, activation="relu", input_shape=(4,)), Dense(k, activation=activation)])
    m.compile(optimizer="sgd", loss=loss, metrics=list(metrics))
    return m


def raises(exc, *fragments):
    """pytest.raises requiring every fragment (plain text, not regex) in the message."""
    return pytest.raises(exc, match="(?s)" + "".join(f"(?=.*{re.escape(f)})" for f in fragments))


# -- order of calls --------------------------------------------------------------------------
def test_fit_before_compile():
    m = Sequential([Dense(3, input_shape=(4,))])
    with raises(RuntimeError, "'sequential'", "compiled before fit()", "model.compile("):
        m.fit(X, ONEHOT)
    with raises(RuntimeError, "compiled before evaluate()"):
        m.evaluate(X, ONEHOT)


def test_predict_before_build_builds_from_the_data_as_keras_does():
    m = Sequential([Dense(3), Dense(2)])
    assert m.predict(X, verbose=0).shape == (10, 2)
    assert m.built and m.input_shape == (None, X.shape[1])


def test_predict_works_without_compile():
    m = Sequential([Dense(3, input_shape=(4,))])
    assert m.predict(X, verbose=0).shape == (10, 3)


def test_empty_model():
    m = Sequential()
    m.compile(optimizer="sgd", loss="mse")
    with raises(ValueError, "no layers", "fit()"):
        m.fit(X, X)


# -- data shapes -----------------------------------------------------------------------------
def test_x_y_length_mismatch():
    with raises(ValueError, "`x`", "`y`", "same number of samples", "10 and 8"):
        model().fit(X, ONEHOT[:8])
    with raises(ValueError, "`validation_data[0]`", "`validation_data[1]`", "10 and 3"):
        model().fit(X, ONEHOT, validation_data=(X, ONEHOT[:3]))


def test_feature_size_mismatch():
    with raises(ValueError, "`x`", "(10, 5)", "(None, 4)"):
        model().fit(RNG.random((10, 5)), ONEHOT)
    with raises(ValueError, "`x`", "(10, 5)", "(None, 4)"):
        model().predict(RNG.random((10, 5)))
    with raises(ValueError, "`x`", "(10, 2, 2)", "(None, 4)", "Flatten"):
        model().evaluate(RNG.random((10, 2, 2)), ONEHOT)


def test_one_hot_targets_with_sparse_loss():
    with raises(ValueError, "`y`", "(10, 3)", "sparse_categorical_crossentropy", "integer class labels",
                "'categorical_crossentropy'"):
        model(loss="sparse_categorical_crossentropy").fit(X, ONEHOT)


def test_integer_labels_with_categorical_loss():
    with raises(ValueError, "`y`", "integer class labels", "(10,)", "categorical_crossentropy",
                "one-hot rows of width 3", "to_categorical"):
        model().fit(X, LABELS)


def test_one_hot_of_wrong_width():
    with raises(ValueError, "`y`", "(10, 4)", "(None, 3)"):
        model().fit(X, np.eye(4)[LABELS])


@pytest.mark.parametrize("labels, shown", [(LABELS + 1, "[1, 3]"), (LABELS - 1, "[-1, 1]")])
def test_labels_out_of_range(labels, shown):
    with raises(ValueError, "`y`", shown, "3 output units", "[0, 2]"):
        model(loss="sparse_categorical_crossentropy").fit(X, labels)


def test_non_integer_sparse_labels():
    with raises(ValueError, "`y`", "integer class labels", "0.5"):
        model(loss="sparse_categorical_crossentropy").fit(X, LABELS + 0.5)


def test_binary_targets_out_of_range():
    with raises(ValueError, "`y`", "[0, 2]", "binary_crossentropy", "[0, 1]"):
        model(k=1, loss="binary_crossentropy", activation="sigmoid").fit(X, LABELS)


# -- data values -----------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_x(bad):
    x = X.copy()
    x[3, 1] = bad
    with raises(ValueError, "`x`", "NaN" if np.isnan(bad) else "infinite", "(3, 1)"):
        model().fit(x, ONEHOT)
    with raises(ValueError, "`x`", "(3, 1)"):
        model().predict(x)


def test_finite_data_whose_sum_overflows_is_accepted_and_nan_among_it_is_not():
    from kerastyle.inputs import to_tensor
    big = np.full((4, 3), 3e38, dtype=np.float32)  # every value finite, the float32 sum is inf
    assert torch.equal(to_tensor(big, "x"), torch.from_numpy(big))
    big[2, 1] = np.nan
    with raises(ValueError, "`x`", "1 NaN", "(2, 1)"):
        to_tensor(big, "x")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_y(bad):
    y = RNG.random((10, 1))
    y[7, 0] = bad
    with raises(ValueError, "`y`", "1 NaN" if np.isnan(bad) else "1 infinite", "(7, 0)"):
        model(k=1, loss="mse", activation=None, metrics=()).fit(X, y)


def test_non_finite_validation_data():
    xv = X.copy()
    xv[0, 0] = np.nan
    with raises(ValueError, "`validation_data[0]`", "NaN"):
        model().fit(X, ONEHOT, validation_data=(xv, ONEHOT))


def test_empty_arrays():
    with raises(ValueError, "`x`", "empty", "(0, 4)", "at least one sample"):
        model().fit(np.zeros((0, 4)), np.zeros((0, 3)))
    with raises(ValueError, "`x`", "empty"):
        model().predict(np.zeros((0, 4)))
    with raises(ValueError, "`x`", "empty"):
        model().fit([], [])


def test_non_numeric_and_ragged_input():
    with raises(ValueError, "`x`", "numeric", "<U"):
        model().fit([["a", "b", "c", "d"]] * 10, ONEHOT)
    with raises(ValueError, "`x`", "same shape"):
        model().predict([[1.0, 2.0, 3.0, 4.0], [1.0, 2.0]])


def test_missing_x():
    with raises(ValueError, "`x`", "None"):
        model().fit(None, ONEHOT)


# -- arguments -------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, arg, value", [
    ({"batch_size": 0}, "batch_size", "0"),
    ({"batch_size": -4}, "batch_size", "-4"),
    ({"batch_size": 2.5}, "batch_size", "2.5"),
    ({"epochs": 0}, "epochs", "0"),
    ({"epochs": -1}, "epochs", "-1"),
    ({"epochs": "3"}, "epochs", "'3'"),
])
def test_non_positive_batch_size_and_epochs(kwargs, arg, value):
    with raises(ValueError, f"`{arg}`", "positive integer", f"got {value}."):
        model().fit(X, ONEHOT, **kwargs)


def test_non_positive_batch_size_in_evaluate_and_predict():
    with raises(ValueError, "`batch_size`", "positive integer", "got 0."):
        model().evaluate(X, ONEHOT, batch_size=0)
    with raises(ValueError, "`batch_size`", "positive integer", "got -1."):
        model().predict(X, batch_size=-1)


@pytest.mark.parametrize("split", [1.0, 1.5, -0.1, "0.2"])
def test_validation_split_outside_unit_interval(split):
    with raises(ValueError, "`validation_split`", "[0, 1)", f"got {split!r}"):
        model().fit(X, ONEHOT, validation_split=split)


def test_validation_split_leaving_no_samples():
    with raises(ValueError, "`validation_split`", "0.5", "0 training", "1 validation", "at least 1"):
        model().fit(X[:1], ONEHOT[:1], validation_split=0.5)


def test_bad_verbose_and_initial_epoch():
    with raises(ValueError, "`verbose`", "'auto', 0, 1 or 2", "3"):
        model().fit(X, ONEHOT, verbose=3)
    with raises(ValueError, "`initial_epoch`", ">= 0", "-1"):
        model().fit(X, ONEHOT, initial_epoch=-1)


def test_sample_weight_problems():
    with raises(ValueError, "`y`", "`sample_weight`", "10 and 4"):
        model().fit(X, ONEHOT, sample_weight=np.ones(4))
    with raises(ValueError, "`sample_weight`", "`class_weight`"):
        model().fit(X, ONEHOT, sample_weight=np.ones(10), class_weight={0: 2.0})
    with raises(ValueError, "`class_weight`", "7", "classes present: [0, 1, 2]"):
        model().fit(X, ONEHOT, class_weight={7: 2.0})


# -- unknown names ---------------------------------------------------------------------------
def test_unknown_loss_lists_valid_names():
    with raises(ValueError, "Unknown loss 'categorical_crossentropyy'", "Valid names:", "binary_crossentropy",
                "categorical_crossentropy", "mean_squared_error", "mse", "sparse_categorical_crossentropy"):
        model(loss="categorical_crossentropyy")


def test_missing_loss():
    with raises(ValueError, "needs a loss", "categorical_crossentropy"):
        Sequential([Dense(3, input_shape=(4,))]).compile(optimizer="sgd")


def test_unknown_optimizer_lists_valid_names():
    with raises(ValueError, "Unknown optimizer 'adamx'", "adadelta, adagrad, adam, adamax, adamw, ftrl, lion, nadam, "
                "rmsprop, sgd"):
        Sequential([Dense(3, input_shape=(4,))]).compile(optimizer="adamx", loss="mse")


def test_unknown_activation_lists_valid_names():
    valid = ["hard_sigmoid", "leaky_relu", "linear", "relu", "rigid_sigmoid", "sigmoid", "softmax", "tanh"]
    with raises(ValueError, "Unknown activation 'relu7'", *valid):
        Dense(3, activation="relu7")
    with raises(ValueError, "Unknown activation 'sofmax'", *valid):
        Activation("sofmax")


def test_unknown_metric_lists_valid_names():
    with raises(ValueError, "Unknown metric 'accuracyy'", "accuracy", "acc", "mae", "mse"):
        Sequential([Dense(3, input_shape=(4,))]).compile(loss="mse", metrics=["accuracyy"])


# -- non-finite loss during training ---------------------------------------------------------
@pytest.mark.parametrize("lr, batch_size", [(1e6, 8), (1e38, 8), (1e38, 64)],
                         ids=["loss-overflows", "update-overflows", "update-overflows-at-epoch-end"])
def test_non_finite_loss_stops_with_clear_message_and_finite_weights(lr, batch_size):
    rng = np.random.default_rng(0)
    x = rng.random((64, 4)) * 100
    y = x.sum(axis=1, keepdims=True) * 100
    m = Sequential([Dense(16, activation="relu", input_shape=(4,)), Dense(1)])
    m.compile(optimizer=SGD(learning_rate=lr), loss="mse")
    with pytest.raises(FloatingPointError) as info:
        m.fit(x, y, epochs=50, batch_size=batch_size, verbose=0)
    message = str(info.value)
    assert re.search(r"loss became (nan|inf)|made the weights non-finite", message), message
    assert re.search(rf"epoch \d+, batch \d+ of {64 // batch_size}", message), message
    assert "learning rate" in message
    assert all(np.isfinite(w).all() for w in m.get_weights())
    assert all(np.isfinite(v) for v in m.history.history.get("loss", []))
    # the model is still usable
    assert np.isfinite(m.predict(x[:2], verbose=0)).all()
