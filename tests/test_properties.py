"""Property-based checks (hypothesis) over the whole public API, for the classes of mistakes of
issue 13: unknown keyword arguments for every public constructor, numpy scalar types for every
numeric argument, input dtypes and scalars for ``__call__``/fit/evaluate/predict, and for finite
inputs ``fit`` never leaving non-finite weights without raising."""

from __future__ import annotations

import inspect
import re
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kerastyle as keras
from kerastyle import callbacks, layers, losses, metrics, optimizers
from kerastyle.models import Sequential
from kerastyle.trainers.trainer import NonFiniteLossError

FAST = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Values for the required arguments of the public constructors (anything else required gets 1).
REQUIRED = {"units": 3, "rate": 0.5, "filepath": "model.keras", "filename": "log.csv", "backup_dir": "backup",
            "schedule": lambda epoch: 0.1, "fn": lambda y, p: (y - p).abs().mean(-1), "function": lambda x: x,
            "shape": (3,), "num_classes": 2, "stddev": 0.1, "target_shape": (3,), "activation": "relu",
            "input_dim": 5, "output_dim": 3, "initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.9}
# Internal or abstract classes that the public modules re-export: not user constructors.
SKIP = {"KerasTensor", "CallbackList", "Node", "InputSpec"}


def public_classes():
    found = []
    for module in (layers, optimizers, losses, metrics, callbacks):
        for name in sorted(dir(module)):
            obj = getattr(module, name)
            if inspect.isclass(obj) and not name.startswith("_") and name not in SKIP \
                    and obj.__module__.startswith("kerastyle"):
                found.append((f"{module.__name__.rsplit('.', 1)[-1]}.{name}", obj))
    return found


CLASSES = public_classes()


def required_kwargs(cls) -> dict:
    try:
        parameters = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return {}
    return {p.name: REQUIRED.get(p.name, 1) for p in parameters
            if p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def constructible():
    out = []
    for label, cls in CLASSES:
        kwargs = required_kwargs(cls)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cls(**kwargs)
        except Exception:  # noqa: BLE001 - needs arguments this table does not know (checked below)
            continue
        out.append((label, cls, kwargs))
    return out


CONSTRUCTIBLE = constructible()


def test_the_enumeration_covers_the_public_api():
    labels = {label for label, _, _ in CONSTRUCTIBLE}
    for expected in ("layers.Dense", "layers.Dropout", "optimizers.SGD", "optimizers.Adam", "losses.MeanSquaredError",
                     "metrics.Accuracy", "callbacks.EarlyStopping", "callbacks.ModelCheckpoint",
                     "callbacks.LambdaCallback", "callbacks.TerminateOnNaN"):
        assert expected in labels
    assert len(CONSTRUCTIBLE) >= 0.9 * len(CLASSES), sorted(set(label for label, _ in CLASSES) - labels)


def _valid_names(cls, message) -> set:
    """Every name the class accepts: its signature, plus the names its own error message lists."""
    try:
        names = set(inspect.signature(cls).parameters)
    except (TypeError, ValueError):
        names = set()
    return names | set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", message.split("alid", 1)[-1]))


def _typo(draw, word):
    """A misspelling of ``word``: a dropped, doubled, swapped or replaced letter."""
    i = draw(st.integers(0, max(len(word) - 1, 0)))
    kind = draw(st.sampled_from(["drop", "double", "swap", "replace"]))
    if kind == "drop" and len(word) > 1:
        return word[:i] + word[i + 1:]
    if kind == "swap" and i + 1 < len(word):
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == "replace":
        return word[:i] + draw(st.sampled_from("abcdefghijklmnopqrstuvwxyz_")) + word[i + 1:]
    return word[:i] + word[i] + word[i:]


@FAST
@given(data=st.data())
def test_every_public_constructor_refuses_unknown_keywords(data):
    """Every class is checked each example (a sentinel name), and a drawn misspelling of one of its
    own argument names."""
    for label, cls, kwargs in CONSTRUCTIBLE:
        with pytest.raises(TypeError) as info:
            cls(**kwargs, zz_not_an_argument=1)
        message = str(info.value)
        assert "zz_not_an_argument" in message, (label, message)
        assert re.search(r"valid|takes no arguments|has the signature", message, re.I), (label, message)
        valid = _valid_names(cls, message)
        own = sorted(set(inspect.signature(cls).parameters) - {"self", "kwargs", "args"}) or ["name"]
        typo = _typo(data.draw, data.draw(st.sampled_from(own), label=f"{label} argument"))
        if typo in valid or not typo.isidentifier():
            continue
        with pytest.raises(TypeError, match=re.escape(typo)):
            cls(**kwargs, **{typo: 1})


def numeric_arguments():
    """``(label, cls, kwargs, argument, python value)`` for every numeric argument with a numeric default
    or a numeric required value."""
    out = []
    for label, cls, kwargs in CONSTRUCTIBLE:
        for p in inspect.signature(cls).parameters.values():
            value = kwargs.get(p.name, p.default)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value):
                out.append((label, cls, kwargs, p.name, value))
    return out


NUMERIC = numeric_arguments()
INT_TYPES = (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64)
FLOAT_TYPES = (np.float16, np.float32, np.float64)


def test_numeric_arguments_are_enumerated():
    names = {(label, arg) for label, _, _, arg, _ in NUMERIC}
    for expected in (("layers.Dense", "units"), ("layers.Dropout", "rate"), ("optimizers.SGD", "learning_rate"),
                     ("optimizers.Adam", "beta_1"), ("callbacks.EarlyStopping", "patience"),
                     ("callbacks.ReduceLROnPlateau", "factor")):
        assert expected in names
    assert len(NUMERIC) > 50


@FAST
@given(data=st.data())
def test_numpy_scalars_are_accepted_wherever_python_numbers_are(data):
    """For every numeric argument: if the Python number is accepted, so is the same value as a drawn
    numpy scalar type, and the object ends up configured alike."""
    for label, cls, kwargs, arg, value in NUMERIC:
        types = INT_TYPES if isinstance(value, int) else FLOAT_TYPES
        if isinstance(value, int) and value < 0:
            types = tuple(t for t in types if np.issubdtype(t, np.signedinteger))
        if isinstance(value, int) and value > 127:
            types = tuple(t for t in types if np.iinfo(t).max >= value)
        np_type = data.draw(st.sampled_from(types), label=f"{label}.{arg}")
        np_value = np_type(value)
        if float(np_value) != float(value):  # float16 cannot hold it exactly: use float32
            np_value = np.float32(value)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reference = cls(**{**kwargs, arg: value})
            try:
                obj = cls(**{**kwargs, arg: np_value})
            except Exception as err:  # noqa: BLE001
                pytest.fail(f"{label}({arg}={np_value!r}) raised {type(err).__name__}: {err}")
        if hasattr(reference, "get_config") and not isinstance(reference, callbacks.Callback):
            try:
                expected, got = reference.get_config(), obj.get_config()
            except Exception:  # noqa: BLE001 - configs of lambda-holding objects
                continue
            expected.pop("name", None), got.pop("name", None)
            assert _alike(got, expected), label


def _alike(a, b) -> bool:
    """Equal configs, numbers compared to float32 precision (a numpy float32 of 0.99 is not 0.99)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_alike(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_alike(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float, np.number)) and isinstance(b, (int, float, np.number)) \
            and not isinstance(a, bool) and not isinstance(b, bool):
        return float(a) == pytest.approx(float(b), rel=1e-6)
    return a == b


# -- inputs: dtypes and scalars ---------------------------------------------------------------------
DTYPES = [np.float16, np.float32, np.float64, np.int8, np.int32, np.int64, np.uint8, np.bool_]


def small_model():
    model = Sequential([layers.Dense(5, activation="tanh", input_shape=(3,)), layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    return model


@FAST
@given(dtype=st.sampled_from(DTYPES), as_tensor=st.booleans(), n=st.integers(1, 9), seed=st.integers(0, 2**16))
def test_any_numeric_dtype_is_taken_as_its_float32_value(dtype, as_tensor, n, seed):
    rng = np.random.default_rng(seed)
    x = (rng.random((n, 3)) * 4).astype(dtype)
    y = rng.random((n, 2)).astype(dtype)
    model = small_model()
    reference = model(torch.from_numpy(x.astype(np.float32))).detach().numpy()
    given_x = torch.from_numpy(x) if as_tensor and dtype is not np.uint16 else x
    np.testing.assert_allclose(model(given_x).detach().numpy(), reference, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(model.predict(given_x, verbose=0), reference, rtol=1e-6, atol=1e-6)
    assert np.isfinite(model.evaluate(given_x, y, verbose=0))
    model.fit(given_x, y, verbose=0)
    assert all(np.isfinite(w).all() for w in model.get_weights())


@FAST
@given(value=st.one_of(st.integers(-5, 5), st.floats(-5, 5), st.sampled_from([np.float32(1.5), np.int64(2),
                                                                              np.float64(-1.0)])),
       wrap=st.sampled_from(["python", "numpy", "torch"]), where=st.sampled_from(["x", "y", "predict"]))
def test_scalars_are_called_scalars_everywhere(value, wrap, where):
    scalar = {"python": value, "numpy": np.asarray(value)[()], "torch": torch.tensor(value)}[wrap]
    model = small_model()
    x, y = np.ones((4, 3), np.float32), np.ones((4, 2), np.float32)
    with pytest.raises(ValueError, match=rf"`{'y' if where == 'y' else 'x'}` is a scalar .*expected an array"):
        if where == "x":
            model.fit(scalar, y, verbose=0)
        elif where == "y":
            model.fit(x, scalar, verbose=0)
        else:
            model.predict(scalar, verbose=0)


# -- randomized robustness: finite inputs never leave non-finite weights silently ----------------------
@settings(max_examples=25, deadline=None)
@given(scale_exp=st.integers(-3, 30), lr_exp=st.integers(-4, 38), activation=st.sampled_from(["tanh", "relu",
                                                                                              "linear", "sigmoid"]),
       optimizer=st.sampled_from(["sgd", "adam", "rmsprop"]), batch_size=st.sampled_from([1, 4, 16]),
       seed=st.integers(0, 2**16))
def test_fit_never_leaves_non_finite_weights_without_raising(scale_exp, lr_exp, activation, optimizer, batch_size,
                                                             seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((16, 3)) * 10.0 ** scale_exp  # finite float64 (may overflow float32: refused)
    y = rng.standard_normal((16, 1)) * 10.0 ** min(scale_exp, 18)
    keras.utils.set_random_seed(seed)
    model = Sequential([layers.Dense(4, activation=activation, input_shape=(3,)), layers.Dense(1)])
    model.compile(optimizer=optimizers.get({"class_name": optimizer, "config": {"learning_rate": 10.0 ** lr_exp}})
                  if hasattr(optimizers, "get") else optimizer, loss="mse")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model.fit(x, y, epochs=2, batch_size=batch_size, verbose=0)
        except NonFiniteLossError:
            pass  # raised: allowed; the weights must still be finite
        except ValueError as err:  # only the float32 conversion may refuse finite data
            assert "overflowed" in str(err), err
    assert all(np.isfinite(w).all() for w in model.get_weights())
