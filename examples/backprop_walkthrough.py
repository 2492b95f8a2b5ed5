"""Backpropagation by hand vs ``torch.autograd`` (lectures 001, 003 and 004).

1. Lecture 001's case study: a 3-layer fully connected sigmoid network, one
   sample, squared error ``E = (y_bar - y)^2``; gradients from the slide's
   sensitivities ``delta`` (``dE/dw^l_ij = sigma(I^l_i) * delta^{l+1}_j``).
2. Lecture 003's matrix form on a batch: ``Z = A W^T + iota b^T``,
   ``dL/dW = (dL/dZ)^T A``, ``dL/db = (dL/dZ)^T iota``, ``dL/dA = (dL/dZ) W``.
3. Lecture 004's one-hidden-layer network with the log-loss, by the chain rule
   of its computation graph.

Each network is a kerastyle model; the hand formulas use its weights and are
compared with autograd on ``model.to_torch()``, in float64. If
``kerastyle.backprop.check_gradients`` is available, its report follows.

    python examples/backprop_walkthrough.py
"""

from __future__ import annotations

import copy

import numpy as np
import torch

import kerastyle as keras
from kerastyle import losses
from kerastyle.layers import Dense

RNG = np.random.RandomState(0)


def f64(values):
    """A float64 tensor: the comparisons are about formulas, not float32 rounding."""
    return torch.from_numpy(np.array(values, dtype=np.float64))


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def fixed_weights(model):
    """Replace the random initial weights by reproducible ones (Keras layout)."""
    model.set_weights([RNG.uniform(-1.5, 1.5, w.shape) for w in model.get_weights()])
    return model


def autograd_grads(model, loss_fn):
    """Gradients of ``loss_fn(net)`` w.r.t. each parameter, in Keras layout (kernel (in, out))."""
    net = copy.deepcopy(model.to_torch()).to(device="cpu", dtype=torch.float64)
    loss = loss_fn(net)
    loss.backward()
    grads = []
    for p in net.parameters():  # kerastyle keeps weights in Keras layout already
        grads.append(p.grad.detach().cpu().numpy())
    return float(loss.detach()), grads


def side_by_side(name, hand, auto):
    """Print a hand-computed gradient next to autograd's, row by row; return max |difference|."""
    hand, auto = np.atleast_2d(hand), np.atleast_2d(auto)
    diff = float(np.abs(hand - auto).max())
    print(f"  {name} {hand.shape}: by hand | autograd   (max |difference| {diff:.1e})")
    for h, a in zip(hand, auto):
        print("    " + " ".join(f"{v:+.6f}" for v in h) + "  |  " + " ".join(f"{v:+.6f}" for v in a))
    return diff


def case_study_001():
    print("1. Lecture 001 case study: x (2) -> 3 sigmoid -> 2 sigmoid -> 1 linear, E = (y_bar - y)^2")
    print("   w^l_ij joins unit i of layer l to unit j of layer l+1: Keras's kernel[i, j] (no biases)")
    model = fixed_weights(keras.Sequential([
        Dense(3, activation="sigmoid", use_bias=False, input_shape=(2,)),
        Dense(2, activation="sigmoid", use_bias=False),
        Dense(1, use_bias=False),
    ]))
    w1, w2, w3 = model.get_weights()
    x, y = np.array([0.5, -1.0]), 0.8

    # forward: I^l is the input of layer l's units
    i2 = x @ w1
    i3 = sigmoid(i2) @ w2
    y_bar = float(sigmoid(i3) @ w3[:, 0])
    # backward: the sensitivities, from the output down
    d4 = 2 * (y_bar - y)
    d3 = sigmoid(i3) * (1 - sigmoid(i3)) * w3[:, 0] * d4          # sigma'(I^3_j) w^3_j1 delta^4
    d2 = sigmoid(i2) * (1 - sigmoid(i2)) * (w2 @ d3)               # sigma'(I^2_j) sum_k w^2_jk delta^3_k
    hand = [np.outer(x, d2), np.outer(sigmoid(i2), d3), np.outer(sigmoid(i3), [d4])]
    print(f"   y_bar = {y_bar:.6f}, y = {y}, E = {(y_bar - y) ** 2:.6f}, delta^4 = 2(y_bar - y) = {d4:.6f}")

    loss, auto = autograd_grads(model, lambda net: (net(f64([x]))[0, 0] - y) ** 2)
    diffs = [side_by_side(f"dE/dw^{i + 1}", h, a) for i, (h, a) in enumerate(zip(hand, auto))]
    return model, x[None, :], np.array([y]), max(diffs)


def matrix_form_003():
    print("\n2. Lecture 003 matrix form, batch of 4: Z = A W^T + iota b^T, Keras MSE (a mean over the batch)")
    print("   W is torch's nn.Linear weight (out, in); dL/dW is shown in that layout here")
    model = fixed_weights(keras.Sequential([
        Dense(3, activation="sigmoid", input_shape=(2,)),
        Dense(2, activation="sigmoid"),
        Dense(1),
    ]))
    k1, b1, k2, b2, k3, b3 = model.get_weights()
    W1, W2, W3 = k1.T, k2.T, k3.T
    a0 = RNG.uniform(-1, 1, (4, 2))
    y = RNG.uniform(0, 1, (4, 1))
    iota = np.ones(len(a0))

    z1 = a0 @ W1.T + np.outer(iota, b1)
    a1 = sigmoid(z1)
    z2 = a1 @ W2.T + np.outer(iota, b2)
    a2 = sigmoid(z2)
    z3 = a2 @ W3.T + np.outer(iota, b3)
    dz3 = 2 * (z3 - y) / len(a0)                 # dL/dZ of L = mean (z - y)^2
    dW3, db3, da2 = dz3.T @ a2, dz3.T @ iota, dz3 @ W3
    dz2 = da2 * a2 * (1 - a2)
    dW2, db2, da1 = dz2.T @ a1, dz2.T @ iota, dz2 @ W2
    dz1 = da1 * a1 * (1 - a1)
    dW1, db1 = dz1.T @ a0, dz1.T @ iota
    hand = [dW1, db1, dW2, db2, dW3, db3]

    mse = losses.MeanSquaredError()
    loss, auto = autograd_grads(model, lambda net: mse.reduce(mse.per_sample(f64(y), net(f64(a0)))))
    auto = [g.T if g.ndim == 2 else g for g in auto]  # back to torch's (out, in)
    print(f"   L = {float(np.mean((z3 - y) ** 2)):.6f} by hand, {loss:.6f} by kerastyle's MeanSquaredError")
    names = ["dL/dW1", "dL/db1", "dL/dW2", "dL/db2", "dL/dW3", "dL/db3"]
    diffs = [side_by_side(n, h, a) for n, h, a in zip(names, hand, auto)]
    return model, a0, y, max(diffs)


def log_loss_004():
    print("\n3. Lecture 004: x (4) -> z = sigma(W1 x) (5) -> P(y=1|x) = sigma(w_o . z), loss -log p(y|x)")
    model = fixed_weights(keras.Sequential([
        Dense(5, activation="sigmoid", use_bias=False, input_shape=(4,)),
        Dense(1, activation="sigmoid", use_bias=False),
    ]))
    k1, ko = model.get_weights()
    W1, w_o = k1.T, ko[:, 0]
    x, y = RNG.uniform(-1, 1, 4), 1.0

    z = sigmoid(W1 @ x)
    p = sigmoid(w_o @ z)
    # chain rule through the graph: dL/d(w_o . z) = p - y for the log-loss of a sigmoid
    g_out = p - y
    d_wo = g_out * z
    d_W1 = np.outer(g_out * w_o * z * (1 - z), x)   # (dL/dz) * sigma'(W1 x), times x^T
    print(f"   p = {p:.6f}, y = {y:g}, loss = {-np.log(p):.6f}")

    def loss_fn(net):
        return losses.binary_crossentropy(f64([[y]]), net(f64([x])))[0]

    loss, auto = autograd_grads(model, loss_fn)
    d1 = side_by_side("dL/dW1", d_W1, auto[0].T)
    d2 = side_by_side("dL/dw_o", d_wo, auto[1][:, 0])
    return model, x[None, :], np.array([y]), max(d1, d2)


def main() -> dict:
    cases = {"001 case study": case_study_001(), "003 matrix form": matrix_form_003(), "004 log-loss": log_loss_004()}
    print("\nLargest |hand - autograd| per walkthrough:")
    for name, (_, _, _, diff) in cases.items():
        print(f"  {name:16s} {diff:.1e}")

    from kerastyle import backprop
    check = getattr(backprop, "check_gradients", None)
    if check is None:
        print("\n(kerastyle.backprop.check_gradients is not available in this version)")
        return cases
    print("\nkerastyle.backprop.check_gradients (the analytic engine vs autograd):")
    for (name, (model, x, y, _)), loss in zip(cases.items(), ("mse", "mse", "binary_crossentropy")):
        model.compile(optimizer="sgd", loss=loss)
        print(f"\n{name} (loss={loss!r}):")
        print(check(model, x, y))
    return cases


if __name__ == "__main__":
    main()
