"""The hand-derived backward pass (kerastyle.backprop) against independent truth: torch.autograd,
the lectures' hand formulas and worked numbers, and finite differences."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

import kerastyle as ks
from kerastyle import activations, backprop, losses
from kerastyle.layers import Activation, Dense, Dropout, Flatten, Input

HIDDEN = activations.names()  # every activation kerastyle knows


def _rng(seed=0):
    return np.random.default_rng(seed)


# -- loss gradients: Loss.gradient vs autograd through Loss.reduce(per_sample) ------------------------
def _loss_cases():
    rng = _rng(1)
    n, k = 7, 4
    z = torch.tensor(rng.normal(size=(n, k)) * 2)
    labels = torch.tensor(rng.integers(0, k, n))
    onehot = nn.functional.one_hot(labels, k).double()
    soft = torch.softmax(torch.tensor(rng.normal(size=(n, k))), -1)
    bits = torch.tensor(rng.integers(0, 2, (n, k))).double()
    probs = torch.softmax(z, -1)
    unnormalised = torch.sigmoid(z)  # rows not summing to 1: the renormalisation path
    return [
        (losses.MeanSquaredError, {}, bits, z, False),
        (losses.MeanAbsoluteError, {}, bits, z, False),
        (losses.BinaryCrossentropy, {}, bits, z, True),
        (losses.BinaryCrossentropy, {"label_smoothing": 0.2}, bits, z, True),
        (losses.BinaryCrossentropy, {}, bits, torch.sigmoid(z), False),
        (losses.BinaryCrossentropy, {"label_smoothing": 0.2}, bits, torch.sigmoid(z), False),
        (losses.BinaryCrossentropy, {"from_logits": True}, bits, z, False),
        (losses.CategoricalCrossentropy, {}, onehot, z, True),
        (losses.CategoricalCrossentropy, {}, soft, z, True),
        (losses.CategoricalCrossentropy, {"label_smoothing": 0.1}, onehot, z, True),
        (losses.CategoricalCrossentropy, {}, onehot, probs, False),
        (losses.CategoricalCrossentropy, {"label_smoothing": 0.1}, soft, unnormalised, False),
        (losses.CategoricalCrossentropy, {"from_logits": True}, onehot, z, False),
        (losses.SparseCategoricalCrossentropy, {}, labels, z, True),
        (losses.SparseCategoricalCrossentropy, {}, labels, unnormalised, False),
        (losses.SparseCategoricalCrossentropy, {"from_logits": True}, labels, z, False),
    ]


REDUCTIONS = ["sum_over_batch_size", "sum", "mean_with_sample_weight", "none"]


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "sample_weight"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", range(len(_loss_cases())))
def test_loss_gradient_matches_autograd(case, reduction, weighted):
    cls, kwargs, y, out, logits = _loss_cases()[case]
    loss = cls(reduction=reduction, **kwargs)
    weights = torch.tensor(_rng(2).uniform(0.1, 2.0, out.shape[0])) if weighted else None
    leaf = out.clone().requires_grad_()
    expected = loss.reduce(loss.per_sample(y, leaf, logits), weights)
    expected.sum().backward()  # 'none': the gradient of the sum of per-sample losses
    value, grad = loss.gradient(y, out.clone(), logits, weights)
    torch.testing.assert_close(value, expected.detach(), rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(grad, leaf.grad, rtol=1e-10, atol=1e-13)


def test_loss_gradient_is_zero_where_the_probability_is_clipped():
    # p = 0 and p = 1 are clipped to [1e-7, 1 - 1e-7]: the clip passes no gradient (as autograd).
    loss = losses.BinaryCrossentropy(reduction="sum")
    _, grad = loss.gradient(torch.tensor([[1.0, 0.0, 1.0]]), torch.tensor([[0.0, 1.0, 0.5]]))
    assert grad[0, 0] == 0 and grad[0, 1] == 0
    assert grad[0, 2] == pytest.approx(-1 / 0.5 / 3)


def test_lecture_cross_entropy_table_gradient_is_p_minus_t():
    # Lecture 003's worked table: logits [3, 15, 7, 3], target class 1. Its log column is base 2
    # (log(6.142e-06) = -17.31), so the natural-log loss is the table's 5.016e-04 times ln 2.
    p_table = [6.14207644e-06, 9.99652370e-01, 3.35346011e-04, 6.14207644e-06]
    loss = losses.CategoricalCrossentropy(reduction="sum")
    value, grad = loss.gradient(torch.tensor([[0.0, 1.0, 0.0, 0.0]], dtype=torch.float64),
                                torch.tensor([[3.0, 15.0, 7.0, 3.0]], dtype=torch.float64), logits=True)
    assert float(value) == pytest.approx(5.01611506e-04 * math.log(2), rel=1e-4)
    expected = [p - t for p, t in zip(p_table, [0, 1, 0, 0])]
    np.testing.assert_allclose(grad[0].numpy(), expected, rtol=1e-4, atol=1e-9)


# -- the lectures' 3-layer case study, by its scalar formulas --------------------------------------------
def _sigmoid(v):
    return 1.0 / (1.0 + math.exp(-v))


def test_three_layer_case_study_matches_the_lecture_formulas():
    """Lecture 001: sigmoid hidden layers, a linear output, E = (y_hat - y)^2; the gradients by
    the slide's sensitivities delta^4 = 2(y_hat - y), delta^3_j = s'(I^3_j) w^3_j delta^4,
    delta^2_i = s'(I^2_i) sum_k w^2_ik delta^3_k, dE/dw^l_ij = (input i of layer l) delta_j."""
    x, target = [0.35, 0.9], 0.5
    w1 = [[0.1, 0.8], [0.4, 0.6]]  # w1[i][j]: input i -> hidden-2 unit j
    b1 = [0.05, -0.1]
    w2 = [[0.3, -0.2], [0.9, 0.25]]  # hidden-2 unit i -> hidden-3 unit k
    b2 = [0.0, 0.1]
    w3 = [0.3, 0.9]  # hidden-3 unit j -> output
    b3 = 0.2

    i2 = [sum(x[i] * w1[i][j] for i in range(2)) + b1[j] for j in range(2)]
    a2 = [_sigmoid(v) for v in i2]
    i3 = [sum(a2[i] * w2[i][k] for i in range(2)) + b2[k] for k in range(2)]
    a3 = [_sigmoid(v) for v in i3]
    y_hat = sum(a3[j] * w3[j] for j in range(2)) + b3
    d4 = 2 * (y_hat - target)
    d3 = [a3[j] * (1 - a3[j]) * w3[j] * d4 for j in range(2)]
    d2 = [a2[i] * (1 - a2[i]) * sum(w2[i][k] * d3[k] for k in range(2)) for i in range(2)]
    expected = {
        "w1": [[x[i] * d2[j] for j in range(2)] for i in range(2)], "b1": d2,
        "w2": [[a2[i] * d3[k] for k in range(2)] for i in range(2)], "b2": d3,
        "w3": [[a3[j] * d4] for j in range(2)], "b3": [d4],
    }

    model = ks.Sequential([Input(shape=(2,)), Dense(2, activation="sigmoid"), Dense(2, activation="sigmoid"),
                           Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.set_weights([np.array(w1), np.array(b1), np.array(w2), np.array(b2), np.array([w3]).T, np.array([b3])])
    engine = backprop.AnalyticEngine(model, model._compile_outputs())
    loss, out = engine.forward_backward(torch.tensor([x]), torch.tensor([[target]]), None)
    assert float(out) == pytest.approx(y_hat, rel=1e-6)
    assert float(loss) == pytest.approx((y_hat - target) ** 2, rel=1e-6)
    dense = model.layers
    got = {"w1": dense[0].kernel.grad, "b1": dense[0].bias.grad,
           "w2": dense[1].kernel.grad, "b2": dense[1].bias.grad,
           "w3": dense[2].kernel.grad, "b3": dense[2].bias.grad}
    for key, value in expected.items():
        np.testing.assert_allclose(got[key].numpy(), np.array(value), rtol=1e-5, atol=1e-7, err_msg=key)
    assert backprop.check_gradients(model, [x], [[target]]).passed


# -- every layer x activation x loss, against autograd ----------------------------------------------------
def _targets(kind, units, n, rng):
    if kind == "sparse":
        return rng.integers(0, units, n)
    if kind == "categorical":
        return np.eye(units)[rng.integers(0, units, n)]
    if kind == "binary":
        return rng.integers(0, 2, (n, units)).astype(float)
    return rng.normal(size=(n, units))


# (loss, output activation, trailing linear Activation to keep the loss off the logits path)
LOSS_SETUPS = {
    "mse-linear": ("mse", "linear", False),
    "mse-softmax": ("mse", "softmax", False),  # softmax backward through its full Jacobian
    "mae-tanh": ("mae", "tanh", False),
    "bce-sigmoid-fused": ("binary_crossentropy", "sigmoid", False),
    "bce-sigmoid-probabilities": ("binary_crossentropy", "sigmoid", True),
    "bce-from-logits": (lambda: losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1), "linear", False),
    "cce-softmax-fused": ("categorical_crossentropy", "softmax", False),
    "cce-softmax-probabilities": (lambda: losses.CategoricalCrossentropy(label_smoothing=0.1), "softmax", True),
    "cce-from-logits": (lambda: losses.CategoricalCrossentropy(from_logits=True), "linear", False),
    "sparse-softmax-fused": ("sparse_categorical_crossentropy", "softmax", False),
    "sparse-sigmoid-probabilities": ("sparse_categorical_crossentropy", "sigmoid", False),
    "categorical-focal": ("categorical_focal_crossentropy", "softmax", False),
    "sparse-focal": ("sparse_categorical_focal_crossentropy", "softmax", False),
    "binary-focal-balanced": (lambda: losses.BinaryFocalCrossentropy(apply_class_balancing=True), "sigmoid", False),
    "categorical-balanced": ("categorical_balanced_crossentropy", "softmax", False),
    "sparse-balanced": ("sparse_categorical_balanced_crossentropy", "softmax", False),
    "binary-balanced": ("binary_balanced_crossentropy", "sigmoid", False),
}


def _combo_model(hidden, loss_id, units=3):
    loss, out_activation, keep_off_logits = LOSS_SETUPS[loss_id]
    layers = [Input(shape=(2, 3)), Flatten(), Dense(6, activation=hidden), Dropout(0.25),
              Dense(5, activation=hidden), Dense(units, activation=out_activation)]
    if keep_off_logits:
        layers.append(Activation("linear"))
    model = ks.Sequential(layers)
    model.compile(optimizer="sgd", loss=loss() if callable(loss) else loss)
    return model


@pytest.mark.parametrize("loss_id", list(LOSS_SETUPS))
@pytest.mark.parametrize("hidden", HIDDEN)
def test_gradients_match_autograd_for_every_activation_and_loss(hidden, loss_id):
    torch.manual_seed(3)
    model = _combo_model(hidden, loss_id)
    rng = _rng(4)
    x = rng.normal(size=(9, 2, 3))
    y = _targets(model.loss.kind, 3, 9, rng)
    model.loss.adapt(model.loss.prepare_targets(torch.tensor(y, dtype=torch.float32), model.output_shape))
    report = backprop.check_gradients(model, x, y)
    assert report.passed, str(report)
    assert len(report.rows) == 6 and report.loss_rel <= 1e-12
    assert all(rel <= 1e-9 for name, _, _, rel in report.rows if hidden != "hard_sigmoid"), str(report)


@pytest.mark.parametrize("reduction", REDUCTIONS[:3])
@pytest.mark.parametrize("loss_id", ["cce-softmax-fused", "sparse-softmax-fused", "bce-sigmoid-fused", "mse-linear"])
def test_gradient_check_with_sample_weights_and_reductions(loss_id, reduction):
    torch.manual_seed(5)
    model = _combo_model("tanh", loss_id)
    model.loss.reduction = reduction
    rng = _rng(6)
    x = rng.normal(size=(8, 2, 3))
    y = _targets(model.loss.kind, 3, 8, rng)
    report = backprop.check_gradients(model, x, y, sample_weight=rng.uniform(0, 2, 8))
    assert report.passed and report.max_rel <= 1e-9, str(report)


def test_fused_plans_are_used_for_softmax_and_sigmoid_outputs():
    assert _combo_model("relu", "cce-softmax-fused")._compile_outputs().fused
    assert _combo_model("relu", "bce-sigmoid-fused")._compile_outputs().fused
    assert not _combo_model("relu", "cce-softmax-probabilities")._compile_outputs().fused


def test_leaky_relu_slope_comes_from_the_module():
    torch.manual_seed(0)
    model = ks.Sequential([Input(shape=(4,)), Dense(8, activation=nn.LeakyReLU(0.05)), Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    rng = _rng(7)
    report = backprop.check_gradients(model, rng.normal(size=(16, 4)), rng.normal(size=(16, 2)))
    assert report.passed and report.max_rel <= 1e-9, str(report)


def test_dense_on_three_dimensional_inputs():
    torch.manual_seed(0)
    model = ks.Sequential([Input(shape=(3, 4)), Dense(5, activation="relu"), Flatten(), Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    rng = _rng(8)
    report = backprop.check_gradients(model, rng.normal(size=(6, 3, 4)), rng.integers(0, 2, 6))
    assert report.passed and report.max_rel <= 1e-9, str(report)


def test_hard_sigmoid_slope_is_exactly_one_sixth_by_finite_differences():
    op = activations._HardSigmoidOp()
    x = torch.tensor([-4.0, -2.9, -1.0, 0.0, 0.7, 2.99, 3.5], dtype=torch.float64)
    op.forward(x)
    grad = op.backward(torch.ones_like(x))
    h = 1e-6
    numeric = (nn.functional.hardsigmoid(x + h) - nn.functional.hardsigmoid(x - h)) / (2 * h)
    torch.testing.assert_close(grad, numeric, rtol=0, atol=1e-9)
    assert grad[3] == 1.0 / 6.0


def test_rigid_sigmoid_slope_is_one_half_inside_by_finite_differences():
    op = activations._RigidSigmoidOp()
    x = torch.tensor([-1.5, -0.9, 0.0, 0.4, 0.99, 1.2], dtype=torch.float64)
    op.forward(x)
    grad = op.backward(torch.ones_like(x))
    h = 1e-6
    numeric = (activations.rigid_sigmoid(x + h) - activations.rigid_sigmoid(x - h)) / (2 * h)
    torch.testing.assert_close(grad, numeric, rtol=0, atol=1e-9)


def test_dropout_backward_uses_the_forward_mask():
    torch.manual_seed(1)
    model = ks.Sequential([Input(shape=(5,)), Dense(64, activation="tanh"), Dropout(0.5), Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    engine = backprop.AnalyticEngine(model, model._compile_outputs())
    model.to_torch().train()
    engine.forward_backward(torch.ones(1, 5), torch.zeros(1, 1), None)
    kept = engine.ops[2].noise[0] != 0
    assert 0 < int(kept.sum()) < 64
    torch.testing.assert_close(engine.ops[2].noise[0][kept], torch.full((int(kept.sum()),), 2.0))
    bias_grad = model.layers[0].bias.grad
    assert torch.all(bias_grad[~kept] == 0) and torch.all(bias_grad[kept] != 0)
    model.to_torch().eval()  # eval mode: dropout is the identity
    engine.forward_backward(torch.ones(1, 5), torch.zeros(1, 1), None)
    assert engine.ops[2].noise is None and torch.all(model.layers[0].bias.grad != 0)


def test_frozen_layers_get_no_gradient():
    torch.manual_seed(0)
    model = ks.Sequential([Input(shape=(4,)), Dense(6, activation="relu", trainable=False),
                           Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    rng = _rng(9)
    report = backprop.check_gradients(model, rng.normal(size=(8, 4)), rng.integers(0, 3, 8))
    trained = model.layers[1].name
    assert report.passed and [r[0] for r in report.rows] == [f"{trained}/kernel", f"{trained}/bias"]
    engine = backprop.AnalyticEngine(model, model._compile_outputs())
    engine.forward_backward(torch.ones(2, 4), torch.tensor([0, 1]), None)
    assert model.layers[0].kernel.grad is None
    assert model.layers[1].kernel.grad is not None


def test_engine_never_modifies_the_input_batch():
    # relu runs in place only on tensors the engine made; here it follows a rate-0 dropout,
    # which hands the caller's batch straight through.
    torch.manual_seed(0)
    model = ks.Sequential([Input(shape=(4,)), Dropout(0.0), Activation("relu"), Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    engine = backprop.AnalyticEngine(model, model._compile_outputs())
    x = torch.tensor([[-1.0, 2.0, -3.0, 4.0]])
    engine.forward_backward(x, torch.zeros(1, 2), None)
    assert x.tolist() == [[-1.0, 2.0, -3.0, 4.0]]


def test_engine_builds_no_graph_and_reuses_gradient_buffers():
    torch.manual_seed(0)
    model = ks.Sequential([Input(shape=(4,)), Dense(6, activation="relu"), Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    engine = backprop.AnalyticEngine(model, model._compile_outputs())
    x, y = torch.randn(5, 4), torch.tensor([0, 1, 2, 1, 0])
    loss, out = engine.forward_backward(x, y, None)
    assert loss.dim() == 0 and not loss.requires_grad and loss.grad_fn is None
    assert not out.requires_grad and out.grad_fn is None and out.shape == (5, 3)
    grads = [p.grad for p in model.to_torch().parameters()]
    engine.forward_backward(x, y, None)
    assert all(p.grad is g for p, g in zip(model.to_torch().parameters(), grads))


# -- the report -----------------------------------------------------------------------------------------
def _small_model():
    torch.manual_seed(0)
    model = ks.Sequential([Input(shape=(4,)), Dense(5, activation="sigmoid"), Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return model


def test_report_prints_a_table_and_does_not_change_the_model():
    model = _small_model()
    before = [w.copy() for w in model.get_weights()]
    rng = _rng(10)
    report = backprop.check_gradients(model, rng.normal(size=(6, 4)), rng.integers(0, 3, 6))
    text = str(report)
    assert "parameter" in text and "max abs err" in text and "max rel err" in text
    first, second = (layer.name for layer in model.layers)
    for name in (f"{first}/kernel", f"{first}/bias", f"{second}/kernel", f"{second}/bias", "overall", "PASS"):
        assert name in text
    assert report and report.passed and report.tolerance == 1e-9
    assert all(p.grad is None for p in model.to_torch().parameters())
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert backprop.check_gradients(model, rng.normal(size=(6, 4)), rng.integers(0, 3, 6),
                                    dtype=torch.float32).tolerance == 1e-4


def test_report_fails_on_a_wrong_derivative(monkeypatch):
    model = _small_model()
    monkeypatch.setattr(activations._SigmoidOp, "backward", lambda self, g: g * self.y)  # drops the (1 - y)
    rng = _rng(11)
    report = backprop.check_gradients(model, rng.normal(size=(6, 4)), rng.integers(0, 3, 6))
    assert not report.passed and report.max_rel > 1e-2
    assert "FAIL" in str(report)


def test_check_gradients_rejects_bad_arguments():
    model = _small_model()
    x, y = np.zeros((2, 4)), np.array([0, 1])
    with pytest.raises(ValueError, match="`dtype`.*torch.int32"):
        backprop.check_gradients(model, x, y, dtype=torch.int32)
    with pytest.raises(ValueError, match="`tolerance`.*-1"):
        backprop.check_gradients(model, x, y, tolerance=-1)
    uncompiled = ks.Sequential([Input(shape=(4,)), Dense(2)])
    with pytest.raises(RuntimeError, match="compiled"):
        backprop.check_gradients(uncompiled, x, y)
    custom = ks.Sequential([Input(shape=(4,)), Dense(3, activation=lambda t: t * 2, name="doubler"), Dense(2)])
    custom.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="'doubler'.*custom activation"):
        backprop.check_gradients(custom, x, np.zeros((2, 2)))


# -- engine selection --------------------------------------------------------------------------------------
def test_unsupported_reason_names_the_layer_or_the_loss():
    def swish(t):
        return t * torch.sigmoid(t)

    model = ks.Sequential([Input(shape=(4,)), Dense(3, activation=swish, name="hidden"), Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    reason = backprop.unsupported_reason(model, model._compile_outputs())
    assert "'hidden'" in reason and "'swish'" in reason
    hardswish = ks.Sequential([Input(shape=(4,)), Dense(3, activation=nn.Hardswish(), name="g"), Dense(2)])
    hardswish.compile(optimizer="sgd", loss="mse")
    assert "Hardswish" in backprop.unsupported_reason(hardswish, hardswish._compile_outputs())
    custom_loss = _small_model()
    custom_loss.compile(optimizer="sgd", loss=lambda yt, yp: (yt - yp).square().mean(-1))
    assert "no analytic gradient" in backprop.unsupported_reason(custom_loss, custom_loss._compile_outputs())
    assert backprop.unsupported_reason(_small_model(), _small_model()._compile_outputs()) is None


def test_fit_engine_choice():
    rng = _rng(12)
    x, y = rng.normal(size=(20, 4)).astype("float32"), rng.integers(0, 3, 20)
    model = _small_model()
    assert model.fit(x, y, epochs=1, verbose=0).params["engine"] == "analytic"
    assert model.fit(x, y, epochs=1, verbose=0, engine="autograd").params["engine"] == "autograd"
    custom = ks.Sequential([Input(shape=(4,)), Dense(3, activation=lambda t: t * 2, name="doubler"),
                            Dense(3, activation="softmax")])
    custom.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    assert custom.fit(x, y, epochs=1, verbose=0).params["engine"] == "autograd"
    with pytest.raises(ValueError, match="engine='analytic'.*'doubler'"):
        custom.fit(x, y, epochs=1, verbose=0, engine="analytic")


# -- the engines agree over whole epochs ------------------------------------------------------------------
def _trained(engine, build, x, y, **fit_kwargs):
    torch.manual_seed(42)
    model = build()
    history = model.fit(x, y, batch_size=32, epochs=2, verbose=0, engine=engine, **fit_kwargs)
    return history.history, model.get_weights()


def _dropout_net():
    model = ks.Sequential([Input(shape=(20,)), Dense(32, activation="relu"), Dropout(0.3),
                           Dense(16, activation="tanh"), Dense(4, activation="softmax")])
    model.compile(optimizer=ks.optimizers.SGD(0.05, momentum=0.9), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def _binary_net():
    model = ks.Sequential([Input(shape=(20,)), Dense(16, activation="leaky_relu"), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


@pytest.mark.parametrize("build,fit_kwargs", [
    (_dropout_net, {}),
    (_dropout_net, {"class_weight": {0: 1.0, 1: 2.0, 2: 0.5, 3: 1.0}}),
    (_binary_net, {"validation_split": 0.2}),
], ids=["dropout", "class_weight", "binary"])
def test_engines_agree_after_training(build, fit_kwargs):
    rng = _rng(13)
    x = rng.normal(size=(250, 20)).astype("float32")  # 250: the last batch is partial
    units = build().output_shape[-1]
    y = rng.integers(0, 4, 250) if units > 1 else rng.integers(0, 2, (250, 1))
    hist_a, weights_a = _trained("analytic", build, x, y, **fit_kwargs)
    hist_b, weights_b = _trained("autograd", build, x, y, **fit_kwargs)
    assert hist_a.keys() == hist_b.keys()
    for key in hist_a:
        np.testing.assert_allclose(hist_a[key], hist_b[key], rtol=1e-5, atol=1e-6, err_msg=key)
    for a, b in zip(weights_a, weights_b):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_epoch_metrics_match_evaluate_when_weights_are_fixed():
    # lr = 0: the epoch's running accuracy (computed in chunks of stored outputs, here several
    # chunks of a 1000-unit output) must equal evaluate() on the same fixed weights.
    torch.manual_seed(0)
    model = ks.Sequential([Input(shape=(8,)), Dense(1000, activation="softmax")])
    model.compile(optimizer=ks.optimizers.SGD(0.0), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = _rng(14)
    x = rng.normal(size=(300, 8)).astype("float32")
    y = np.where(rng.random(300) < 0.5, model.predict(x, verbose=0).argmax(1), rng.integers(0, 1000, 300))
    for engine in ("analytic", "autograd"):
        history = model.fit(x, y, batch_size=32, epochs=1, verbose=0, engine=engine).history
        expected = model.evaluate(x, y, batch_size=7, verbose=0, return_dict=True)
        assert 0.3 < expected["accuracy"] < 0.7
        assert history["accuracy"][0] == pytest.approx(expected["accuracy"], abs=1e-6)
        assert history["loss"][0] == pytest.approx(expected["loss"], rel=1e-5)
