"""Optimizers: Keras update rules, defaults and the Keras 2 ``lr=``/``decay=`` spellings.

Independent truth: the trajectory table of keras-behaviour.md §4 (Keras 3.15.1
and torch runs on one scalar weight w0 = 1 with gradients [1, 0.5, -0.25, 2, 1]),
the Keras formulas evaluated by hand in plain Python, and torch.optim itself.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import kerastyle as keras
from kerastyle import optimizers
from kerastyle.layers import Dense
from kerastyle.models import Sequential
from kerastyle.optimizers import SGD, Adagrad, Adam, RMSprop

GRADS = [1.0, 0.5, -0.25, 2.0, 1.0]


def trajectory(opt, grads=GRADS, set_lr=None):
    """w after each step for one scalar weight starting at 1.0; ``set_lr=(step, lr)`` changes the rate
    before that (0-based) step."""
    w = torch.nn.Parameter(torch.tensor([1.0]))
    if isinstance(opt, optimizers.Optimizer):
        opt.build([w])
    else:
        opt = opt([w])
    out = []
    for i, g in enumerate(grads):
        if set_lr and i == set_lr[0]:
            if isinstance(opt, optimizers.Optimizer):
                opt.learning_rate = set_lr[1]
            else:
                for group in opt.param_groups:
                    group["lr"] = set_lr[1]
        w.grad = torch.tensor([g])
        opt.step()
        out.append(w.item())
    return out


def close(got, expected, tol=2e-7):
    np.testing.assert_allclose(got, expected, rtol=0, atol=tol)


def test_sgd_momentum():
    expected = [0.9000000, 0.7600000, 0.6590000, 0.3681000, 0.0062900]
    close(trajectory(SGD(0.1, momentum=0.9)), expected)
    close(trajectory(lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)), expected)  # identical at constant lr


def test_sgd_nesterov():
    close(trajectory(SGD(0.1, momentum=0.9, nesterov=True)), [0.81, 0.634, 0.5681, 0.10629, -0.3193389], 5e-7)


def test_sgd_lr_change_keeps_keras_velocity():
    keras_form = [0.9, 0.76, 0.6365000, 0.5053500, 0.3773150]
    torch_form = [0.9, 0.76, 0.7499000, 0.7208100, 0.6846290]
    close(trajectory(SGD(0.1, momentum=0.9), set_lr=(2, 0.01)), keras_form)
    # the torch buffer form really is different (so the test above can tell them apart)
    close(trajectory(lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), set_lr=(2, 0.01)), torch_form)


def test_sgd_plain():
    w, expected = 1.0, []
    for g in GRADS:
        w -= 0.1 * g
        expected.append(w)
    close(trajectory(SGD(0.1)), expected)


def test_adam():
    close(trajectory(Adam()), [0.9990000, 0.9980679, 0.9975042, 0.9967705, 0.9959844])


def test_rmsprop():
    close(trajectory(RMSprop()), [0.9968377, 0.9953633, 0.9961179, 0.9932861, 0.9919363])


def test_epsilon_placement_with_tiny_gradients():
    tiny = [g * 1e-6 for g in GRADS]
    assert trajectory(Adam(), tiny)[0] == pytest.approx(0.9997597, abs=2e-7)
    assert trajectory(RMSprop(), tiny)[0] == pytest.approx(0.9999968, abs=2e-7)
    # torch's placement gives visibly different numbers
    assert trajectory(lambda p: torch.optim.Adam(p, lr=1e-3, eps=1e-7), tiny)[0] == pytest.approx(0.9990909, abs=2e-7)


def test_adagrad_keras_formula():
    lr, eps = 0.001, 1e-7
    w, acc, expected = 1.0, 0.1, []
    for g in GRADS:
        acc += g * g
        w -= lr * g / math.sqrt(acc + eps)
        expected.append(w)
    close(trajectory(Adagrad()), expected)


def test_lr_alias_and_decay_formula_on_scalar_steps():
    lr, decay, m = 0.1, 0.5, 0.9
    w, expected = 1.0, []
    for k, g in enumerate(GRADS):
        w -= lr / (1 + decay * k) * g  # iterations = steps already applied, so the first uses lr
        expected.append(w)
    close(trajectory(SGD(lr=lr, decay=decay)), expected)

    w, v, expected = 1.0, 0.0, []
    for k, g in enumerate(GRADS):
        v = m * v - lr / (1 + decay * k) * g
        w += v
        expected.append(w)
    close(trajectory(SGD(lr=lr, decay=decay, momentum=m)), expected)


def test_decay_through_fit_step_sequence():
    """fit with batch_size=1 on 6 identical samples: w_{k+1} = w_k - lr/(1+decay*k) * d(w_k - 1)^2/dw."""
    lr, decay = 0.05, 0.3
    model = Sequential([Dense(1, input_shape=(1,), use_bias=False, kernel_initializer="zeros")])
    opt = SGD(lr=lr, decay=decay)
    model.compile(optimizer=opt, loss="mse")
    model.fit(np.ones((6, 1)), np.ones((6, 1)), batch_size=1, epochs=2, verbose=0)
    w = 0.0
    for k in range(12):
        w -= lr / (1 + decay * k) * 2 * (w - 1)
    assert model.get_weights()[0][0, 0] == pytest.approx(w, rel=1e-6)
    assert opt.iterations == 12
    assert opt.current_learning_rate() == pytest.approx(lr / (1 + decay * 12))
    assert opt.learning_rate == pytest.approx(lr)  # the base rate is unchanged, as in Keras 2


def test_lecture_optimizer_spelling():
    opt = SGD(lr=0.01, decay=1e-6, momentum=0.9)
    config = opt.get_config()
    assert config["learning_rate"] == 0.01 and config["decay"] == 1e-6 and config["momentum"] == 0.9
    assert opt.lr == 0.01
    opt.lr = 0.02
    assert opt.learning_rate == 0.02


@pytest.mark.parametrize("opt, expected", [
    (SGD(), {"learning_rate": 0.01, "momentum": 0.0, "nesterov": False}),
    (Adam(), {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "amsgrad": False}),
    (RMSprop(), {"learning_rate": 0.001, "rho": 0.9, "momentum": 0.0, "epsilon": 1e-7, "centered": False}),
    (Adagrad(), {"learning_rate": 0.001, "initial_accumulator_value": 0.1, "epsilon": 1e-7}),
], ids=["SGD", "Adam", "RMSprop", "Adagrad"])
def test_keras3_defaults(opt, expected):
    config = opt.get_config()
    assert {k: config[k] for k in expected} == expected
    assert config["decay"] == 0.0


@pytest.mark.parametrize("name, cls", [("sgd", SGD), ("SGD", SGD), ("adam", Adam), ("Adam", Adam),
                                       ("rmsprop", RMSprop), ("RMSprop", RMSprop), ("adagrad", Adagrad)])
def test_string_names(name, cls):
    model = Sequential([Dense(2, input_shape=(3,))])
    model.compile(optimizer=name, loss="mse")
    assert type(model.optimizer) is cls
    assert model.optimizer.get_config()["learning_rate"] == cls().get_config()["learning_rate"]


def test_compile_default_is_rmsprop():
    model = Sequential([Dense(2, input_shape=(3,))])
    model.compile(loss="mse")
    assert type(model.optimizer) is RMSprop


def test_unknown_optimizer_lists_valid_names():
    model = Sequential([Dense(2, input_shape=(3,))])
    with pytest.raises(ValueError, match=r"Unknown optimizer 'adamx'.*adagrad.*adam.*rmsprop.*sgd"):
        model.compile(optimizer="adamx", loss="mse")


@pytest.mark.parametrize("make, pattern", [
    (lambda: SGD(learning_rate=-0.1), r"`learning_rate`.*-0\.1"),
    (lambda: SGD(lr=float("nan")), r"`learning_rate`.*nan"),
    (lambda: SGD(learning_rate="fast"), r"`learning_rate`.*'fast'"),
    (lambda: SGD(momentum=1.5), r"`momentum`.*\[0\.0, 1\.0\].*1\.5"),
    (lambda: SGD(decay=-1e-6), r"`decay`.*-1e-06"),
    (lambda: Adam(beta_1=1.2), r"`beta_1`.*1\.2"),
    (lambda: Adam(epsilon=-1), r"`epsilon`.*-1"),
    (lambda: RMSprop(rho=-0.5), r"`rho`.*-0\.5"),
    (lambda: Adagrad(initial_accumulator_value=-0.1), r"`initial_accumulator_value`.*-0\.1"),
])
def test_bad_hyper_parameters(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make()


def test_plain_torch_optimizer_is_accepted():
    """A torch optimizer built on to_torch().parameters() can drive fit."""
    keras.utils.set_random_seed(0)
    model = Sequential([Dense(1, input_shape=(1,), use_bias=False, kernel_initializer="zeros")])
    opt = torch.optim.SGD(model.to_torch().parameters(), lr=0.1)
    model.compile(optimizer=opt, loss="mse")
    model.fit(np.ones((2, 1)), np.ones((2, 1)), batch_size=2, epochs=1, verbose=0)
    assert model.get_weights()[0][0, 0] == pytest.approx(0.2)  # 0 - 0.1 * 2 * (0 - 1)


@pytest.mark.parametrize("cls", [SGD, Adam, RMSprop, Adagrad])
def test_keras2_lr_and_decay_accepted_by_every_optimizer(cls):
    opt = cls(lr=0.05, decay=0.1)
    assert opt.learning_rate == 0.05 and opt.lr == 0.05
    w = torch.nn.Parameter(torch.tensor([1.0]))
    opt.build([w])
    for _ in range(3):
        w.grad = torch.tensor([1.0])
        opt.step()
    assert opt.iterations == 3
    assert opt.current_learning_rate() == pytest.approx(0.05 / (1 + 0.1 * 3))


def test_fit_runs_registered_step_hooks_and_matches_plain_steps():
    """fit skips torch's step wrapper only when no hooks exist; with a hook it must call step()."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(10, 3)).astype("float32")
    y = rng.normal(size=(10, 1)).astype("float32")

    def trained(with_hook):
        keras.utils.set_random_seed(0)
        model = Sequential([Dense(1, input_shape=(3,))])
        model.compile(optimizer=SGD(0.1, momentum=0.9), loss="mse")
        calls = []
        if with_hook:
            model.optimizer.register_step_post_hook(lambda opt, args, kwargs: calls.append(1))
        model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
        return model.get_weights(), len(calls)

    (hooked_weights, n_calls), (plain_weights, n_plain) = trained(True), trained(False)
    assert n_calls == 6 and n_plain == 0  # 3 batches x 2 epochs
    for a, b in zip(hooked_weights, plain_weights):
        np.testing.assert_array_equal(a, b)
