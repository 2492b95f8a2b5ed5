"""Optimizers against real Keras 3 (torch backend) as the oracle, and the optimizer API.

Independent truth: real Keras's optimizers started from the same weights and fed the same
gradients (``opt.apply_gradients(zip(grads, vars))`` on ``keras.Variable``s), step after step;
hand-computed values for the clipping example of the issue; Keras's own configs for defaults.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import json  # noqa: E402
import math  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

keras = pytest.importorskip("keras")

import kerastyle  # noqa: E402
from kerastyle import optimizers, packing  # noqa: E402
from kerastyle.layers import Dense  # noqa: E402
from kerastyle.models import Sequential  # noqa: E402

NAMES = ["SGD", "Adam", "AdamW", "Adamax", "Nadam", "RMSprop", "Adagrad", "Adadelta", "Lion", "Ftrl"]
SHAPES = [(4, 3), (3,), (2, 5)]
STEPS = 6


def _weights_and_grads(seed=0):
    rng = np.random.default_rng(seed)
    weights = [rng.normal(size=s).astype("float32") for s in SHAPES]
    grads = []
    for step in range(STEPS):
        scale = 50.0 if step % 3 == 1 else 1.0  # some steps large enough for every clip to bite
        grads.append([(scale * rng.normal(size=s)).astype("float32") for s in SHAPES])
    return weights, grads


def _schedule(lib, spec):
    name, kwargs = spec
    return getattr(lib.optimizers.schedules, name)(**kwargs)


def _make(lib, name, kwargs):
    kwargs = dict(kwargs)
    if isinstance(kwargs.get("learning_rate"), tuple):
        kwargs["learning_rate"] = _schedule(lib, kwargs["learning_rate"])
    return getattr(lib.optimizers, name)(**kwargs)


def run_keras(name, kwargs, weights, grads, finalize=False):
    variables = [keras.Variable(w.copy()) for w in weights]
    opt = _make(keras, name, kwargs)
    for step in grads:
        opt.apply_gradients(zip([torch.tensor(g) for g in step], variables))
    if finalize:
        opt.finalize_variable_values(variables)
    return [np.asarray(v) for v in variables]


def run_ours(name, kwargs, weights, grads, packed=False, finalize=False, ours_kwargs=None):
    params = [torch.nn.Parameter(torch.tensor(w.copy())) for w in weights]
    opt = _make(kerastyle, name, ours_kwargs or kwargs)
    if packed:
        packing.pack(params)
        _, buffers = packing.zeros_like_packed(params)
        for p, b in zip(params, buffers):
            p.grad = b
        opt.build(params)
        update = opt.update_function(stable_grads=True)
        assert update != opt.apply_gradients  # the packed path was chosen
    else:
        opt.build(params)
        update = opt.step
    for step in grads:
        for p, g in zip(params, step):
            if packed:
                p.grad.copy_(torch.tensor(g))
            else:
                p.grad = torch.tensor(g)
        update()
    if finalize:
        opt.finalize_variable_values()
    assert opt.iterations == len(grads)
    return [p.detach().numpy().copy() for p in params]


def assert_same(name, kwargs, packed=False, finalize=False, ours_kwargs=None):
    weights, grads = _weights_and_grads()
    expected = run_keras(name, kwargs, weights, grads, finalize)
    got = run_ours(name, kwargs, weights, grads, packed, finalize, ours_kwargs)
    moved = max(float(np.abs(e - w).max()) for e, w in zip(expected, weights))
    assert moved > 1e-3, "the oracle's weights barely moved: the comparison would prove nothing"
    for e, g in zip(expected, got):
        # float32 on both sides, with operations grouped differently: rtol 1e-5, and an absolute
        # floor of 1e-5 of the array's scale for entries that pass near zero
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-5 * float(np.abs(e).max()))


LR = {"SGD": 0.1, "Adam": 0.1, "AdamW": 0.1, "Adamax": 0.1, "Nadam": 0.1, "RMSprop": 0.05, "Adagrad": 0.3,
      "Adadelta": 1.0, "Lion": 0.05, "Ftrl": 0.3}

VARIANTS = {
    "SGD": [{}, {"momentum": 0.9}, {"momentum": 0.9, "nesterov": True}],
    "Adam": [{}, {"amsgrad": True}],
    "AdamW": [{}, {"weight_decay": 0.1}],
    "Adamax": [{}],
    "Nadam": [{}],
    "RMSprop": [{}, {"momentum": 0.9, "centered": True}],
    "Adagrad": [{}],
    "Adadelta": [{}],
    "Lion": [{}],
    "Ftrl": [{}, {"l1_regularization_strength": 0.01, "l2_regularization_strength": 0.02,
                  "l2_shrinkage_regularization_strength": 0.01, "beta": 0.1, "learning_rate_power": -0.3}],
}


@pytest.mark.parametrize("name, kwargs", [(n, v) for n in NAMES for v in VARIANTS[n]],
                         ids=lambda x: x if isinstance(x, str) else ",".join(x) or "defaults")
def test_update_rule_matches_keras(name, kwargs):
    assert_same(name, {"learning_rate": LR[name], **kwargs})


OPTIONS = {"clipnorm": {"clipnorm": 1.0}, "clipvalue": {"clipvalue": 0.5}, "global_clipnorm": {"global_clipnorm": 2.0},
           "weight_decay": {"weight_decay": 0.05},
           "exponential": {"learning_rate": ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=2,
                                                                          decay_rate=0.5))},
           "cosine_warmup": {"learning_rate": ("CosineDecay", dict(initial_learning_rate=0.0, decay_steps=4,
                                                                       warmup_target=0.2, warmup_steps=2))},
           "ema": {"use_ema": True, "ema_momentum": 0.8}}


@pytest.mark.parametrize("option", list(OPTIONS))
@pytest.mark.parametrize("name", NAMES)
def test_options_match_keras(name, option):
    kwargs = {"learning_rate": LR[name], **OPTIONS[option]}
    if isinstance(kwargs["learning_rate"], tuple):  # schedules scaled to this optimizer's rate
        schedule, config = kwargs["learning_rate"]
        config = {k: v * LR[name] / 0.1 if k in ("initial_learning_rate", "warmup_target") else v
                  for k, v in config.items()}
        kwargs["learning_rate"] = (schedule, config)
    if name == "Ftrl" and option in ("exponential", "cosine_warmup"):
        kwargs["learning_rate"] = ("ExponentialDecay", dict(initial_learning_rate=LR[name], decay_steps=2,
                                                            decay_rate=0.5))  # Ftrl divides by the rate: no 0
    if name == "Lion" and option in ("clipnorm", "clipvalue", "global_clipnorm"):
        kwargs["weight_decay"] = 0.1  # Lion uses only the gradient's sign: clipping alone changes nothing
    assert_same(name, kwargs)


def test_ema_overwrite_frequency_and_finalize_match_keras():
    assert_same("Adam", {"learning_rate": 0.1, "use_ema": True, "ema_momentum": 0.7, "ema_overwrite_frequency": 4},
                finalize=True)
    assert_same("SGD", {"learning_rate": 0.1, "momentum": 0.5, "use_ema": True}, finalize=True)


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam", "Ftrl"])
def test_keras2_decay_matches_keras_inverse_time_decay(name):
    """Keras 2's ``lr=``/``decay=``: in Keras 3 terms InverseTimeDecay(lr, 1, decay)."""
    lr = LR[name]
    keras_kwargs = {"learning_rate": ("InverseTimeDecay", dict(initial_learning_rate=lr, decay_steps=1,
                                                               decay_rate=0.3))}
    assert_same(name, keras_kwargs, ours_kwargs={"lr": lr, "decay": 0.3})


@pytest.mark.parametrize("name, kwargs", [
    ("SGD", {"momentum": 0.9}),
    ("SGD", {"momentum": 0.9, "clipnorm": 1.0}),
    ("Adam", {}),
    ("AdamW", {}),
    ("AdamW", {"clipnorm": 1.0}),
    ("Adam", {"global_clipnorm": 2.0, "use_ema": True}),
    ("RMSprop", {"clipvalue": 0.5, "weight_decay": 0.05}),
    ("Nadam", {"learning_rate": ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=2,
                                                          decay_rate=0.5))}),
    ("Adadelta", {}), ("Adamax", {}), ("Lion", {}), ("Ftrl", {}), ("Adagrad", {}),
], ids=str)
def test_packed_fast_path_matches_keras(name, kwargs):
    assert_same(name, {"learning_rate": LR[name], **kwargs}, packed=True)


def test_clipnorm_example_from_the_issue():
    """A gradient (-600, -800) has norm 1000: clipnorm=1 scales it to (-0.6, -0.8)."""
    w = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    opt = optimizers.SGD(learning_rate=0.5, clipnorm=1.0).build([w])
    w.grad = torch.tensor([-600.0, -800.0])
    opt.step()
    np.testing.assert_allclose(w.detach().numpy(), [1.0 + 0.5 * 0.6, 2.0 + 0.5 * 0.8], rtol=1e-6)


def test_clipnorm_through_fit_on_the_analytic_engine():
    """fit's packed update clips too: one SGD step of MSE on a single sample, by hand."""
    model = Sequential([Dense(1, input_shape=(2,), use_bias=False, kernel_initializer="zeros")])
    model.compile(optimizer=optimizers.SGD(learning_rate=0.1, clipnorm=1.0), loss="mse")
    x, y = np.array([[3.0, 4.0]], "float32"), np.array([[100.0]], "float32")
    model.fit(x, y, batch_size=1, epochs=1, verbose=0, engine="analytic")
    grad = 2 * (0.0 - 100.0) * x[0]  # dL/dw at w = 0
    expected = -0.1 * grad / np.linalg.norm(grad)
    np.testing.assert_allclose(model.get_weights()[0][:, 0], expected, rtol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_defaults_and_config_keys_match_keras(name):
    ours = getattr(optimizers, name)().get_config()
    theirs = getattr(keras.optimizers, name)().get_config()
    extra = {"decay"} if getattr(optimizers, name).keras2_arguments else set()
    assert set(ours) == set(theirs) | extra
    for key, value in theirs.items():
        if key != "name":
            assert ours[key] == pytest.approx(value) if isinstance(value, float) else ours[key] == value, key


def test_get_config_with_a_schedule_round_trips_through_json():
    schedule = optimizers.schedules.CosineDecay(0.0, 100, alpha=0.1, warmup_target=0.5, warmup_steps=10)
    opt = optimizers.Adam(learning_rate=schedule, clipnorm=2.0)
    config = json.loads(json.dumps(opt.get_config()))
    assert config["learning_rate"] == {"class_name": "CosineDecay", "config": schedule.get_config()}
    rebuilt = optimizers.Adam.from_config(config)
    assert isinstance(rebuilt.schedule, optimizers.schedules.CosineDecay)
    assert rebuilt.get_config() == opt.get_config()
    assert rebuilt.clipnorm == 2.0
    # the same entry rebuilt by Keras gives the same schedule values
    theirs = keras.optimizers.schedules.deserialize(
        {"module": "keras.optimizers.schedules", "class_name": "CosineDecay",
         "config": config["learning_rate"]["config"], "registered_name": None})
    for step in (0, 5, 10, 60, 200):
        assert rebuilt.schedule(step) == pytest.approx(float(theirs(step)), rel=1e-5)


def test_custom_schedule_is_used_but_not_rebuilt_from_a_config():
    class Halving(optimizers.schedules.LearningRateSchedule):
        def __call__(self, step):
            return 0.4 / 2 ** step

        def get_config(self):
            return {}

    w = torch.nn.Parameter(torch.tensor([0.0]))
    opt = optimizers.SGD(learning_rate=Halving()).build([w])
    for _ in range(3):
        w.grad = torch.tensor([1.0])
        opt.step()
    assert w.item() == pytest.approx(-(0.4 + 0.2 + 0.1))
    assert opt.current_learning_rate() == pytest.approx(0.05)
    with pytest.raises(ValueError, match=r"Unknown learning rate schedule class 'Halving'.*custom_objects"):
        optimizers.SGD.from_config(opt.get_config())


def test_learning_rate_with_a_schedule_is_read_only_like_keras():
    opt = optimizers.SGD(learning_rate=optimizers.schedules.ExponentialDecay(0.1, 10, 0.5))
    assert opt.learning_rate == pytest.approx(0.1)
    with pytest.raises(TypeError, match="not settable"):
        opt.learning_rate = 0.01
    theirs = keras.optimizers.SGD(learning_rate=keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5))
    with pytest.raises(TypeError):
        theirs.learning_rate = 0.01


@pytest.mark.parametrize("make, pattern", [
    (lambda: optimizers.SGD(learnig_rate=0.5), r"SGD: Argument\(s\) not recognized: \{'learnig_rate': 0\.5\}\. "
                                               r"Valid arguments: .*learning_rate.*momentum"),
    (lambda: optimizers.Adam(beta1=0.5), r"not recognized: \{'beta1': 0\.5\}.*beta_1"),
    (lambda: optimizers.RMSprop(foo=1), r"not recognized: \{'foo': 1\}.*rho"),
    (lambda: optimizers.Lion(lr=0.1), r"Lion: Argument\(s\) not recognized: \{'lr': 0\.1\}"),
    (lambda: optimizers.AdamW(decay=0.1), r"not recognized: \{'decay': 0\.1\}"),
    (lambda: optimizers.schedules.ExponentialDecay(0.1, 10, 0.5, stair=True), r"not recognized.*staircase"),
])
def test_unknown_arguments_are_refused(make, pattern):
    with pytest.raises(TypeError, match=pattern):
        make()


@pytest.mark.parametrize("name", NAMES)
def test_keras2_spellings_where_keras2_had_them(name):
    cls = getattr(optimizers, name)
    if cls.keras2_arguments:
        opt = cls(lr=0.05, decay=0.1)
        assert opt.learning_rate == 0.05 and opt.get_config()["decay"] == 0.1
    else:
        with pytest.raises(TypeError, match="not recognized"):
            cls(lr=0.05)


@pytest.mark.parametrize("name", NAMES)
def test_numpy_scalars_are_numbers(name):
    cls = getattr(optimizers, name)
    numeric = {k: v for k, v in cls().get_config().items()
               if isinstance(v, float) and k not in ("decay",)}
    numpy_kwargs = {k: np.float32(v) for k, v in numeric.items()}
    opt = cls(**numpy_kwargs, clipnorm=np.float64(1.5))
    config = opt.get_config()
    json.dumps(config)  # plain Python numbers only
    for key, value in numeric.items():
        assert type(config[key]) is float and config[key] == pytest.approx(value)
    assert cls(use_ema=True, ema_overwrite_frequency=np.int64(3)).ema_overwrite_frequency == 3


@pytest.mark.parametrize("config, key", [
    ({"learning_rate": "0.1"}, "learning_rate"),
    ({"learning_rate": float("nan")}, "learning_rate"),
    ({"learning_rate": -0.1}, "learning_rate"),
    ({"momentum": 2.0}, "momentum"),
    ({"nesterov": "yes"}, "nesterov"),
    ({"iterations": -1}, "iterations"),
    ({"iterations": 1.5}, "iterations"),
    ({"clipnorm": -1.0}, "clipnorm"),
    ({"learning_rate": {"class_name": "ExponentialDecay", "config": {"initial_learning_rate": 0.1,
                                                                     "decay_steps": 0, "decay_rate": 0.5}}},
     "decay_steps"),
])
def test_from_config_checks_every_value(config, key):
    with pytest.raises(ValueError, match=f"`{key}`"):
        optimizers.SGD.from_config(config)


def test_from_config_iterations_sets_the_starting_step():
    opt = optimizers.SGD.from_config({"learning_rate": 0.1, "decay": 1.0, "iterations": 4})
    assert opt.iterations == 4
    w = torch.nn.Parameter(torch.tensor([0.0]))
    opt.build([w])
    assert opt.current_learning_rate() == pytest.approx(0.1 / 5)


def test_check_param_group_for_saved_state():
    opt = optimizers.Adam()
    assert opt.check_param_group({"lr": np.float32(0.5), "iterations": 3}) == {"lr": 0.5, "iterations": 3}
    for hyper, key in (({"lr": "0.1"}, "lr"), ({"lr": float("nan")}, "lr"), ({"iterations": -1}, "iterations"),
                       ({"beta_1": 3.0}, "beta_1"), ({"amsgrad": 1}, "amsgrad"), ({"bogus": 1}, "bogus")):
        with pytest.raises(ValueError, match=f"`{key}`"):
            opt.check_param_group(hyper)


def test_only_one_clipping_argument():
    with pytest.raises(ValueError, match="only one of `clipnorm`, `clipvalue` and `global_clipnorm`"):
        optimizers.SGD(clipnorm=1.0, clipvalue=0.5)


@pytest.mark.parametrize("name", ["sgd", "adam", "rmsprop", "adagrad", "adadelta", "adamax", "nadam"])
def test_keras2_lowercase_aliases(name):
    cls = getattr(optimizers, name)
    assert cls is optimizers.ALIASES[name]
    assert type(optimizers.get(name)) is cls
    model = Sequential([Dense(2, input_shape=(3,))])
    model.compile(optimizer=name, loss="mse")
    assert type(model.optimizer) is cls


def test_get_from_a_config_dict_and_keras_style_apply_gradients():
    opt = optimizers.get({"class_name": "Adamax", "config": {"learning_rate": 0.2}})
    assert type(opt) is optimizers.Adamax and opt.learning_rate == 0.2
    w = torch.nn.Parameter(torch.tensor([1.0, -1.0]))
    opt.apply_gradients([(torch.tensor([1.0, -2.0]), w)])  # builds on first use, as Keras does
    assert opt.built and opt.iterations == 1
    # Adamax's first step moves every element by lr * g / ((|g| + eps) * (1 - b1)) * (1 - b1)
    np.testing.assert_allclose(w.detach().numpy(), [1.0 - 0.2, -1.0 + 0.2], rtol=1e-5)


def test_finalize_is_a_no_op_without_ema():
    w = torch.nn.Parameter(torch.tensor([1.0]))
    opt = optimizers.SGD(0.1).build([w])
    w.grad = torch.tensor([1.0])
    opt.step()
    opt.finalize_variable_values()
    assert w.item() == pytest.approx(0.9)
    assert math.isclose(opt.current_learning_rate(), 0.1)
