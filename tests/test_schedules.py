"""Learning-rate schedules: equal to Keras's schedules at chosen steps, to the formulas written out
here in numpy, and used by the optimizers step by step.

Independent truth: real Keras 3's ``keras.optimizers.schedules`` (torch backend) and the formulas of
its documentation evaluated in float64 numpy below.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import json  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

keras = pytest.importorskip("keras")

from kerastyle import optimizers  # noqa: E402
from kerastyle.layers import Dense  # noqa: E402
from kerastyle.models import Sequential  # noqa: E402
from kerastyle.optimizers import schedules  # noqa: E402

STEPS = [0, 1, 2, 3, 7, 10, 15, 31, 99, 100, 101, 250, 1000]


def exponential(step, lr, n, rate, staircase=False):
    p = np.floor(step / n) if staircase else step / n
    return lr * rate ** p


def inverse_time(step, lr, n, rate, staircase=False):
    p = np.floor(step / n) if staircase else step / n
    return lr / (1 + rate * p)


def piecewise(step, boundaries, values):
    for b, v in zip(boundaries, values):
        if step <= b:
            return v
    return values[-1]


def polynomial(step, lr, n, end=1e-4, power=1.0, cycle=False):
    if cycle:
        n = n * (1 if step == 0 else np.ceil(step / n))
    else:
        step = min(step, n)
    return (lr - end) * (1 - step / n) ** power + end


def cosine(step, lr, n, alpha=0.0, warmup_target=None, warmup_steps=0):
    if warmup_target is not None:
        step = min(step, n + warmup_steps)
        if step < warmup_steps:
            return lr + (warmup_target - lr) * step / warmup_steps
        step, lr = step - warmup_steps, warmup_target
    step = min(step, n)
    return lr * ((1 - alpha) * 0.5 * (1 + np.cos(np.pi * step / n)) + alpha)


def cosine_restarts(step, lr, first, t_mul=2.0, m_mul=1.0, alpha=0.0):
    """Walk the periods one by one (a different route from the closed form Keras uses)."""
    start, length, i = 0.0, float(first), 0
    while step >= start + length:
        start += length
        length *= t_mul
        i += 1
    fraction = (step - start) / length
    return lr * ((1 - alpha) * 0.5 * m_mul ** i * (1 + np.cos(np.pi * fraction)) + alpha)


CASES = [
    ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=10, decay_rate=0.5),
     lambda s: exponential(s, 0.1, 10, 0.5)),
    ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=10, decay_rate=0.5, staircase=True),
     lambda s: exponential(s, 0.1, 10, 0.5, True)),
    ("InverseTimeDecay", dict(initial_learning_rate=0.2, decay_steps=5, decay_rate=0.3),
     lambda s: inverse_time(s, 0.2, 5, 0.3)),
    ("InverseTimeDecay", dict(initial_learning_rate=0.2, decay_steps=5, decay_rate=0.3, staircase=True),
     lambda s: inverse_time(s, 0.2, 5, 0.3, True)),
    ("PiecewiseConstantDecay", dict(boundaries=[10, 100], values=[1.0, 0.5, 0.1]),
     lambda s: piecewise(s, [10, 100], [1.0, 0.5, 0.1])),
    ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=100),
     lambda s: polynomial(s, 0.1, 100)),
    ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=30, end_learning_rate=0.01, power=0.5,
                             cycle=True),
     lambda s: polynomial(s, 0.1, 30, 0.01, 0.5, True)),
    ("CosineDecay", dict(initial_learning_rate=0.1, decay_steps=100), lambda s: cosine(s, 0.1, 100)),
    ("CosineDecay", dict(initial_learning_rate=0.1, decay_steps=100, alpha=0.2), lambda s: cosine(s, 0.1, 100, 0.2)),
    ("CosineDecay", dict(initial_learning_rate=0.0, decay_steps=200, alpha=0.1, warmup_target=0.5, warmup_steps=10),
     lambda s: cosine(s, 0.0, 200, 0.1, 0.5, 10)),
    ("CosineDecayRestarts", dict(initial_learning_rate=0.1, first_decay_steps=10),
     lambda s: cosine_restarts(s, 0.1, 10)),
    ("CosineDecayRestarts", dict(initial_learning_rate=0.1, first_decay_steps=10, t_mul=1.0, m_mul=0.5, alpha=0.1),
     lambda s: cosine_restarts(s, 0.1, 10, 1.0, 0.5, 0.1)),
    ("CosineDecayRestarts", dict(initial_learning_rate=0.1, first_decay_steps=7, t_mul=3.0, m_mul=0.8),
     lambda s: cosine_restarts(s, 0.1, 7, 3.0, 0.8)),
]
IDS = [f"{name}-{i}" for i, (name, _, _) in enumerate(CASES)]


@pytest.mark.parametrize("name, kwargs, formula", CASES, ids=IDS)
def test_values_equal_keras_and_the_formula(name, kwargs, formula):
    ours = getattr(schedules, name)(**kwargs)
    theirs = getattr(keras.optimizers.schedules, name)(**kwargs)
    for step in STEPS:
        value = ours(step)
        assert isinstance(value, float)
        assert value == pytest.approx(float(theirs(step)), rel=1e-5, abs=1e-8), step  # Keras: float32
        assert value == pytest.approx(formula(step), rel=1e-9, abs=1e-12), step


@pytest.mark.parametrize("name, kwargs, formula", CASES, ids=IDS)
def test_config_equals_keras_and_round_trips(name, kwargs, formula):
    ours = getattr(schedules, name)(**kwargs)
    theirs = getattr(keras.optimizers.schedules, name)(**kwargs)
    assert ours.get_config() == theirs.get_config()
    entry = json.loads(json.dumps(schedules.serialize(ours)))
    assert entry == {"class_name": name, "config": ours.get_config()}
    rebuilt = schedules.deserialize(entry)
    assert type(rebuilt) is type(ours) and rebuilt.get_config() == ours.get_config()
    # Keras's own serialized form (with module and registered_name) is read too
    assert schedules.deserialize(keras.optimizers.schedules.serialize(theirs)).get_config() == ours.get_config()


@pytest.mark.parametrize("make, error, pattern", [
    (lambda: schedules.ExponentialDecay(0.1, 0, 0.5), ValueError, r"`decay_steps` must be .*> 0.*got 0"),
    (lambda: schedules.CosineDecay(0.1, -5), ValueError, r"`decay_steps`"),
    (lambda: schedules.CosineDecayRestarts(0.1, 0), ValueError, r"`first_decay_steps`"),
    (lambda: schedules.PiecewiseConstantDecay([10, 20], [1.0, 0.5]), ValueError, r"1 less than"),
    (lambda: schedules.PiecewiseConstantDecay([20, 10], [1.0, 0.5, 0.1]), ValueError, r"strictly increasing"),
    (lambda: schedules.InverseTimeDecay("0.1", 1, 0.5), ValueError, r"`initial_learning_rate`.*'0.1'"),
    (lambda: schedules.PolynomialDecay(0.1, 10, cycle="yes"), ValueError, r"`cycle` must be True or False"),
    (lambda: schedules.PolynomialDecay(0.1, 10, end_lr=0.0), TypeError, r"not recognized.*end_learning_rate"),
    (lambda: schedules.deserialize({"class_name": "Mine", "config": {}}), ValueError,
     r"Unknown learning rate schedule class 'Mine'.*custom_objects"),
])
def test_bad_arguments(make, error, pattern):
    with pytest.raises(error, match=pattern):
        make()


def test_numpy_scalars_accepted():
    s = schedules.ExponentialDecay(np.float32(0.5), np.int64(10), np.float64(0.5))
    assert s(10) == pytest.approx(0.25)
    assert json.dumps(s.get_config())  # plain Python numbers
    assert type(s.get_config()["decay_steps"]) is int


def test_base_class_must_be_overridden():
    class Empty(schedules.LearningRateSchedule):
        pass

    with pytest.raises(NotImplementedError, match="__call__"):
        Empty()(0)
    with pytest.raises(ValueError, match="get_config"):
        schedules.serialize(Empty())


def test_optimizer_uses_the_schedule_at_each_step():
    """SGD without momentum: each step moves w by -schedule(iterations) * g."""
    schedule = schedules.PiecewiseConstantDecay([1, 3], [0.5, 0.1, 0.01])
    w = torch.nn.Parameter(torch.tensor([0.0]))
    opt = optimizers.SGD(learning_rate=schedule).build([w])
    expected, rates = 0.0, []
    for step in range(5):
        rates.append(opt.current_learning_rate())
        w.grad = torch.tensor([1.0])
        opt.step()
        expected -= piecewise(step, [1, 3], [0.5, 0.1, 0.01])
        assert w.item() == pytest.approx(expected)
    assert rates == [0.5, 0.5, 0.1, 0.1, 0.01]
    assert opt.learning_rate == pytest.approx(0.01)  # Keras: the schedule's value at the current step


def test_schedule_through_fit_on_both_engines():
    """fit with batch_size=1 on identical samples: w_{k+1} = w_k - lr_k * d(w_k - 1)^2/dw."""
    for engine in ("analytic", "autograd"):
        model = Sequential([Dense(1, input_shape=(1,), use_bias=False, kernel_initializer="zeros")])
        schedule = schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)
        model.compile(optimizer=optimizers.SGD(learning_rate=schedule), loss="mse")
        model.fit(np.ones((4, 1)), np.ones((4, 1)), batch_size=1, epochs=2, verbose=0, engine=engine)
        w = 0.0
        for k in range(8):
            w -= exponential(k, 0.1, 2, 0.5) * 2 * (w - 1)
        assert model.get_weights()[0][0, 0] == pytest.approx(w, rel=1e-6), engine
        assert model.optimizer.iterations == 8
        assert model.optimizer.current_learning_rate() == pytest.approx(exponential(8, 0.1, 2, 0.5))
