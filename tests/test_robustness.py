"""Property-based robustness: random small models, activations, losses, targets and inputs.

For finite inputs, fit/evaluate/predict either work and return finite numbers, or raise a
ValueError/TypeError/RuntimeError raised by kerastyle itself (its own message), never an error
from inside PyTorch. Saved models reload to identical predictions. Examples are derandomized so
CI runs are reproducible; the counts are small to keep the file fast.
"""

from __future__ import annotations

import math
import traceback
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import kerastyle
from kerastyle import activations
from kerastyle.layers import Activation, Dense, Dropout, Flatten, Input
from kerastyle.models import Sequential, load_model
from kerastyle.optimizers import SGD, Adagrad, Adam, RMSprop
from kerastyle.trainers import NonFiniteLossError

PACKAGE = str(Path(kerastyle.__file__).resolve().parent)
LOSSES = ["mse", "mae", "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy"]
ACTIVATIONS = [None, *activations.names()]
SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def models(draw):
    """A small Sequential: optional Flatten for 3-D inputs, 0-2 hidden Dense blocks, a Dense output."""
    features = draw(st.integers(1, 4))
    shape = (features,) if draw(st.booleans()) else (features, draw(st.integers(1, 3)))
    layers = [Input(shape)] + ([Flatten()] if len(shape) == 2 else [])
    for _ in range(draw(st.integers(0, 2))):
        layers.append(Dense(draw(st.integers(1, 5)), activation=draw(st.sampled_from(ACTIVATIONS))))
        extra = draw(st.sampled_from(["none", "dropout", "activation"]))
        if extra == "dropout":
            layers.append(Dropout(draw(st.floats(0.0, 0.5))))
        elif extra == "activation":
            layers.append(Activation(draw(st.sampled_from(activations.names()))))
    units, output = draw(st.integers(1, 4)), draw(st.sampled_from(ACTIVATIONS))
    layers.append(Dense(units, activation=output))
    return Sequential(layers), shape, units, output or "linear"


@st.composite
def targets(draw, loss, n, units):
    """Targets that fit the loss, or (sometimes) ones that do not, to exercise the error paths."""
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    if rng.random() < 0.15:  # a mismatch: wrong width, wrong kind or out-of-range labels
        return draw(st.sampled_from([
            rng.normal(size=(n, units + 1)), rng.integers(-2, units + 3, size=n).astype(float),
            rng.normal(size=(n,)) * 5, np.ones((n, units, 2))]))
    if loss in ("mse", "mae"):
        return rng.normal(size=(n, units))
    if loss == "binary_crossentropy":
        return rng.integers(0, 2, size=(n, units)).astype(float)
    labels = rng.integers(0, units, size=n)
    return labels if loss == "sparse_categorical_crossentropy" else np.eye(units)[labels]


def check_error(err: BaseException, allowed=(ValueError, TypeError, RuntimeError)):
    """An expected error type, raised by kerastyle's own code with a message."""
    frames = traceback.extract_tb(err.__traceback__)
    assert isinstance(err, allowed), f"unexpected {type(err).__name__}: {err}"
    assert frames[-1].filename.startswith(PACKAGE), \
        f"{type(err).__name__} raised outside kerastyle ({frames[-1].filename}:{frames[-1].lineno}): {err}"
    assert len(str(err)) > 20


@SETTINGS
@given(spec=models(), loss=st.sampled_from(LOSSES), data=st.data(),
       optimizer=st.sampled_from([lambda: SGD(0.01), lambda: Adam(1e-3), lambda: RMSprop(1e-3),
                                  lambda: Adagrad(0.01)]),
       batch_size=st.integers(1, 8), validation_split=st.sampled_from([0.0, 0.0, 0.3]))
def test_fit_evaluate_predict_work_or_fail_clearly(spec, loss, data, optimizer, batch_size, validation_split):
    model, shape, units, output = spec
    # Keras renormalises probabilities (p / sum p): an output that can sum to 0 (linear, relu, tanh, ...)
    # makes categorical losses NaN, which fit reports as NonFiniteLossError naming that mismatch.
    mismatched = "categorical" in loss and output not in ("softmax", "sigmoid")
    n = data.draw(st.integers(1, 12), label="n")
    x = data.draw(arrays(np.float32, (n, *shape), elements=st.floats(-10, 10, width=32)), label="x")
    y = data.draw(targets(loss, n, units), label="y")
    try:
        model.compile(optimizer=optimizer(), loss=loss, metrics=["accuracy"] if loss != "mse" else ["mae"])
        history = model.fit(x, y, epochs=2, batch_size=batch_size, validation_split=validation_split, verbose=0)
        result = model.evaluate(x, y, verbose=0, return_dict=True)
    except (ValueError, TypeError, RuntimeError, ArithmeticError) as err:
        event(f"error: {type(err).__name__}")
        if isinstance(err, NonFiniteLossError):
            assert mismatched and "does not match the output activation" in str(err), err
            check_error(err, NonFiniteLossError)
        else:
            check_error(err)
    else:
        event("trained")
        assert all(math.isfinite(v) for values in history.history.values() for v in values), history.history
        assert all(math.isfinite(v) for v in result.values()), result
    predictions = model.predict(x, verbose=0)
    assert predictions.shape == (n, units) and predictions.dtype == np.float32
    assert np.isfinite(predictions).all()


@SETTINGS
@given(spec=models(), data=st.data())
def test_bad_prediction_inputs_fail_clearly(spec, data):
    model, shape = spec[:2]
    bad = data.draw(st.sampled_from([
        np.zeros((2, *shape, 1), np.float32), np.zeros((3, shape[0] + 1), np.float32), np.zeros((0, *shape)),
        np.array([["a"] * shape[0]]), [[1.0] * shape[0], [1.0] * (shape[0] + 1)], np.full((1, *shape), np.nan),
        np.float32(3.0), None]))
    with pytest.raises((ValueError, TypeError)) as info:
        model.predict(bad, verbose=0)
    check_error(info.value)


@settings(max_examples=15, deadline=None, derandomize=True, database=None)
@given(spec=models(), seed=st.integers(0, 1000))
def test_saved_models_reload_to_identical_predictions(tmp_path_factory, spec, seed):
    model, shape = spec[:2]
    x = np.random.default_rng(seed).normal(size=(5, *shape)).astype(np.float32)
    path = tmp_path_factory.mktemp("saved") / "m.keras"
    model.save(path)
    loaded = load_model(path)
    assert loaded.get_config() == model.get_config()
    assert np.array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
