"""Layers and activations: Keras weight layout, initializers, shapes, formulas, to_torch().

Independent truth: Keras's documented layouts and formulas (keras-behaviour.md §6),
hand-written activation formulas, and plain PyTorch code.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from kerastyle import activations
from kerastyle.layers import Activation, Dense, Dropout, Flatten, Input
from kerastyle.models import Sequential


def test_dense_kernel_layout_and_round_trip():
    model = Sequential([Dense(3, input_shape=(5,)), Dense(2)])
    kernel, bias, kernel2, bias2 = model.get_weights()
    assert kernel.shape == (5, 3) and bias.shape == (3,)
    assert kernel2.shape == (3, 2) and bias2.shape == (2,)
    assert all(w.dtype == np.float32 for w in model.get_weights())

    rng = np.random.default_rng(1)
    new = [rng.normal(size=w.shape).astype(np.float32) for w in model.get_weights()]
    model.set_weights(new)
    for got, want in zip(model.get_weights(), new):
        np.testing.assert_array_equal(got, want)

    dense = model.to_torch()[0]  # the Dense layer itself: an nn.Module holding Keras's (in, out) kernel
    assert isinstance(dense, nn.Module)
    np.testing.assert_array_equal(dense.kernel.detach().cpu().numpy(), new[0])
    np.testing.assert_array_equal(dense.bias.detach().cpu().numpy(), new[1])
    probe = torch.ones(2, 5)
    torch_linear = nn.functional.linear(probe, dense.kernel.T, dense.bias)  # torch's (out, in) weight is kernel.T
    np.testing.assert_allclose(dense(probe).detach().numpy(), torch_linear.detach().numpy(), rtol=1e-6)

    # y = x @ kernel + bias, layer by layer (no activations here).
    x = rng.normal(size=(4, 5)).astype(np.float32)
    expected = (x @ new[0] + new[1]) @ new[2] + new[3]
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-5)


def test_set_weights_rejects_wrong_shapes_and_counts():
    model = Sequential([Dense(3, input_shape=(5,))])
    with pytest.raises(ValueError, match=r"\(5, 3\)"):
        model.set_weights([np.zeros((3, 5)), np.zeros(3)])
    with pytest.raises(ValueError, match="2 weight arrays, got 1"):
        model.set_weights([np.zeros((5, 3))])


def test_glorot_uniform_kernel_and_zero_bias():
    model = Sequential([Dense(128, input_shape=(784,))])
    kernel, bias = model.get_weights()
    limit = math.sqrt(6.0 / (784 + 128))  # 0.08111
    assert np.abs(kernel).max() <= limit
    assert np.abs(kernel).max() > 0.99 * limit  # 100,352 uniform draws reach the edge
    assert kernel.std() == pytest.approx(limit / math.sqrt(3), rel=0.02)
    assert abs(kernel.mean()) < 0.002
    np.testing.assert_array_equal(bias, np.zeros(128, dtype=np.float32))
    # torch's default Linear init would give max |w| = 1/sqrt(784) = 0.0357; Keras's is ~2.3x larger.
    assert np.abs(kernel).max() > 2 / math.sqrt(784)


def test_initializer_names():
    model = Sequential([Dense(4, input_shape=(3,), kernel_initializer="zeros", bias_initializer="ones")])
    kernel, bias = model.get_weights()
    np.testing.assert_array_equal(kernel, 0)
    np.testing.assert_array_equal(bias, 1)
    with pytest.raises(ValueError, match=r"'glorot_unifrom'.*glorot_uniform"):
        Dense(4, kernel_initializer="glorot_unifrom")


def test_use_bias_false():
    model = Sequential([Dense(4, input_shape=(3,), use_bias=False)])
    assert [w.shape for w in model.get_weights()] == [(3, 4)]
    assert model.count_params() == 12


@pytest.mark.parametrize("first", [
    lambda: [Dense(8, input_shape=784)],
    lambda: [Dense(8, input_shape=(784,))],
    lambda: [Dense(8, input_shape=[784])],
    lambda: [Dense(8, input_dim=784)],
    lambda: [Input(shape=(784,)), Dense(8)],
    lambda: [Input((784,)), Dense(8)],
    lambda: [Input(784), Dense(8)],
], ids=["int", "tuple", "list", "input_dim", "Input(shape=)", "Input(tuple)", "Input(int)"])
def test_input_shape_spellings_build_at_once(first):
    model = Sequential(first())
    assert model.built
    assert model.input_shape == (None, 784)
    assert model.output_shape == (None, 8)
    assert model.layers[0].get_weights()[0].shape == (784, 8)
    assert len(model.layers) == 1  # Input is not listed as a layer, as in Keras


def test_model_without_input_shape_builds_on_first_fit():
    model = Sequential([Dense(3, activation="relu"), Dense(1)])
    assert not model.built
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((4, 6)), np.ones((4, 1)), verbose=0)
    assert model.built and model.input_shape == (None, 6)
    assert model.get_weights()[0].shape == (6, 3)


def test_flatten_dropout_activation_shapes():
    model = Sequential([Input((28, 28)), Flatten(), Dense(16), Dropout(0.25), Activation("relu"), Dense(10)])
    assert [layer.output_shape for layer in model.layers] == [
        (None, 784), (None, 16), (None, 16), (None, 16), (None, 10)]
    out = model.predict(np.random.default_rng(0).random((3, 28, 28)), verbose=0)
    assert out.shape == (3, 10)
    assert [layer.name for layer in model.layers] == ["flatten", "dense", "dropout", "activation", "dense_1"]


def test_dropout_is_inverted_and_only_active_in_training():
    model = Sequential([Input((10_000,)), Dropout(0.4)])
    x = torch.ones(1, 10_000)
    # predict runs in inference mode: identity.
    np.testing.assert_array_equal(model.predict(x, verbose=0), np.ones((1, 10_000), dtype=np.float32))
    net = model.to_torch()
    net.train()
    out = net(x)
    kept = out[out != 0]
    torch.testing.assert_close(kept, torch.full_like(kept, 1 / 0.6))
    assert abs((out == 0).float().mean().item() - 0.4) < 0.03
    with pytest.raises(ValueError, match=r"`rate`.*\[0, 1\).*1\.5"):
        Dropout(1.5)


X = torch.linspace(-5, 5, 41)


@pytest.mark.parametrize("name, formula", [
    ("linear", lambda x: x),
    ("relu", lambda x: torch.where(x > 0, x, torch.zeros_like(x))),
    ("leaky_relu", lambda x: torch.where(x >= 0, x, 0.2 * x)),
    ("sigmoid", lambda x: 1 / (1 + torch.exp(-x))),
    ("tanh", lambda x: (torch.exp(x) - torch.exp(-x)) / (torch.exp(x) + torch.exp(-x))),
    ("hard_sigmoid", lambda x: torch.clamp(x + 3, 0, 6) / 6),  # Keras 3: relu6(x + 3) / 6
    ("rigid_sigmoid", lambda x: torch.maximum(torch.zeros_like(x),
                                              torch.minimum(torch.ones_like(x), (x + 1) / 2))),
])
def test_activation_formulas(name, formula):
    expected = formula(X)
    # as a function, as a module from the registry, and as an Activation layer in a model
    torch.testing.assert_close(getattr(activations, name)(X), expected)
    torch.testing.assert_close(activations.get(name)(X), expected)
    model = Sequential([Input((41,)), Activation(name)])
    np.testing.assert_allclose(model.predict(X[None, :], verbose=0)[0], expected.numpy(), rtol=1e-6, atol=1e-7)
    # and as the activation of a Dense layer with identity weights
    dense = Sequential([Dense(41, activation=name, input_shape=(41,), kernel_initializer="zeros")])
    dense.set_weights([np.eye(41, dtype=np.float32), np.zeros(41, dtype=np.float32)])
    np.testing.assert_allclose(dense.predict(X[None, :], verbose=0)[0], expected.numpy(), rtol=1e-6, atol=1e-7)


def test_rigid_sigmoid_lecture_points():
    # max(0, min(1, (x + 1) / 2)): 0 at x <= -1, 1/2 at 0, 1 at x >= 1.
    x = torch.tensor([-3.0, -1.0, 0.0, 0.5, 1.0, 4.0])
    torch.testing.assert_close(activations.rigid_sigmoid(x), torch.tensor([0.0, 0.0, 0.5, 0.75, 1.0, 1.0]))


def test_softmax_formula():
    x = torch.tensor([[0.13, 0.33, 0.89], [3.0, 15.0, 7.0]])
    expected = torch.exp(x) / torch.exp(x).sum(dim=1, keepdim=True)
    torch.testing.assert_close(activations.softmax(x), expected)
    model = Sequential([Input((3,)), Activation("softmax")])
    out = model.predict(x, verbose=0)
    np.testing.assert_allclose(out, expected.numpy(), rtol=1e-6)
    # lecture 002: softmax [0.13, 0.33, 0.89] -> [0.23, 0.28, 0.49]
    np.testing.assert_allclose(out[0], [0.23, 0.28, 0.49], atol=0.005)


def test_callable_activation():
    model = Sequential([Input((4,)), Activation(lambda t: t * 3)])
    np.testing.assert_allclose(model.predict(np.ones((2, 4)), verbose=0), 3 * np.ones((2, 4)))
    model = Sequential([Input((4,)), Dense(4, activation=torch.tanh)])
    assert isinstance(model.layers[0].activation, nn.Tanh)


def test_to_torch_is_a_plain_module_sharing_parameters():
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.normal(size=(64, 3)), dtype=torch.float32)
    y = (x @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.3)

    model = Sequential([Dense(8, activation="tanh", input_shape=(3,)), Dense(1)])
    net = model.to_torch()
    assert isinstance(net, nn.Module)
    assert {id(p) for p in net.parameters()} == {id(w) for w in model.weights}
    assert sum(p.numel() for p in net.parameters()) == model.count_params()

    before = model.get_weights()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    first = last = None
    for _ in range(200):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(net(x), y)
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
        last = loss.item()
    assert last < 0.1 * first
    after = model.get_weights()
    assert not np.allclose(before[0], after[0])
    np.testing.assert_array_equal(after[0], net[0].kernel.detach().numpy())
    # the kerastyle model sees the trained parameters
    np.testing.assert_allclose(model.predict(x, verbose=0), net(x).detach().numpy(), rtol=1e-6)
    model.compile(optimizer="sgd", loss="mse")
    assert model.evaluate(x, y, verbose=0) == pytest.approx(last, rel=0.2)


def test_bad_layer_arguments():
    with pytest.raises(ValueError, match=r"`units`.*positive integer.*0"):
        Dense(0)
    with pytest.raises(ValueError, match=r"`input_shape`.*-3"):
        Dense(4, input_shape=(-3,))
    with pytest.raises(ValueError, match=r"Unknown activation 'relux'.*relu.*softmax"):
        Dense(4, activation="relux")
    with pytest.raises(ValueError, match=r"Unknown activation 'swishy'"):
        Activation("swishy")
