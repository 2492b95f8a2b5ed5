"""Regression, binary classification and one sigmoid neuron (lecture 002, One Fourth Labs).

1. Boston Housing: a linear output unit trained with mean squared error.
2. A sigmoid output unit trained with binary cross-entropy, on a real binary
   task from data kerastyle has offline: MNIST digit 3 vs digit 5 (the
   lecture's Indian Liver Patient records are not available).
3. The lecture's single sigmoid neuron ``f(x) = 1 / (1 + exp(-(w*x + b)))`` on
   X = [0.5, 2.5], Y = [0.2, 0.9], from w = b = -2 with eta = 1, by full-batch
   gradient descent on ``L = sum 0.5 * (f(x) - y)^2``: once by hand (the
   lecture's ``grad_w``/``grad_b``) and once with kerastyle, and compared.

    python examples/regression_and_binary.py [--outdir outputs]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

import kerastyle as keras
from kerastyle.datasets import boston_housing, load_lecture_mnist
from kerastyle.layers import Dense
from kerastyle.optimizers import SGD

OUTPUTS = Path(__file__).resolve().parents[1] / "outputs"
X = [0.5, 2.5]
Y = [0.2, 0.9]
REPORT_EPOCHS = (0, 1, 2, 10, 100, 300, 1000)


def boston(outdir: Path) -> dict:
    (x_train, y_train), (x_test, y_test) = boston_housing.load_data()
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std  # statistics of the training set only
    print(f"Boston Housing: {len(x_train)} training / {len(x_test)} test suburbs, 13 features; "
          f"target: median value in $1000s")
    model = keras.Sequential([
        Dense(64, activation="relu", input_shape=(13,)),
        Dense(64, activation="relu"),
        Dense(1),  # linear output: any real number
    ])
    model.summary()
    model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
    history = model.fit(x_train, y_train, epochs=80, batch_size=16, validation_split=0.2, verbose=0)
    mse, mae = model.evaluate(x_test, y_test, verbose=0)
    baseline = float(np.abs(y_test - y_train.mean()).mean())
    print(f"Boston test MSE: {mse:.2f}")
    print(f"Boston test MAE: {mae:.2f} (predicting the training mean: {baseline:.2f})")
    history.plot(path=outdir / "boston_history.png")
    return {"mse": mse, "mae": mae, "baseline_mae": baseline}


def digits_3_vs_5() -> dict:
    (x_train, y_train), (x_test, y_test), description = load_lecture_mnist()
    print(f"\nBinary classification, digit 5 (1) vs digit 3 (0). Data: {description}")

    def subset(x, y):
        keep = (y == 3) | (y == 5)
        return x[keep].reshape(-1, 784).astype("float32") / 255, (y[keep] == 5).astype("float32")

    x_train, y_train = subset(x_train, y_train)
    x_test, y_test = subset(x_test, y_test)
    print(f"{len(x_train)} training and {len(x_test)} test images")
    model = keras.Sequential([
        Dense(16, activation="sigmoid", input_shape=(784,)),
        Dense(1, activation="sigmoid"),  # P(digit is a 5)
    ])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=10, batch_size=32, verbose=0)
    loss, acc = model.evaluate(x_test, y_test, verbose=0)
    print(f"Binary test loss (cross-entropy): {loss:.4f}")
    print(f"Binary test accuracy: {acc:.4f}")
    p = model.predict(x_test[:4], verbose=0)[:, 0]
    for pi, yi in zip(p, y_test[:4]):
        term = -math.log(pi) if yi == 1 else -math.log(1 - pi)
        print(f"  y = {int(yi)}  y_hat = {pi:.4f}  loss = -log({'y_hat' if yi == 1 else '1 - y_hat'}) = {term:.4f}")
    return {"loss": loss, "accuracy": acc}


# -- the single sigmoid neuron, exactly as the lecture codes it ---------------------
def f(x, w, b):
    return 1.0 / (1.0 + math.exp(-(w * x + b)))


def error(w, b):
    return sum(0.5 * (f(x, w, b) - y) ** 2 for x, y in zip(X, Y))


def grad_w(x, y, w, b):
    fx = f(x, w, b)
    return (fx - y) * fx * (1 - fx) * x


def grad_b(x, y, w, b):
    fx = f(x, w, b)
    return (fx - y) * fx * (1 - fx)


def gradient_descent_by_hand(epochs, w=-2.0, b=-2.0, eta=1.0):
    """Losses before each update (and after the last), and the final (w, b)."""
    losses = []
    for _ in range(epochs):
        losses.append(error(w, b))
        dw = sum(grad_w(x, y, w, b) for x, y in zip(X, Y))
        db = sum(grad_b(x, y, w, b) for x, y in zip(X, Y))
        w, b = w - eta * dw, b - eta * db
    losses.append(error(w, b))
    return losses, w, b


def gradient_descent_kerastyle(epochs, eta=1.0):
    """The same neuron as Dense(1, sigmoid). Keras's MSE is a mean, (1/N) sum (f - y)^2, while the
    lecture's loss is sum 0.5 (f - y)^2 = (N/2) MSE; so SGD(eta * N/2) on MSE takes the same steps
    (N = 2 here: the factor is exactly 1). One batch of both points = full-batch descent."""
    n = len(X)
    neuron = keras.Sequential([Dense(1, activation="sigmoid", input_shape=(1,))])
    neuron.set_weights([np.array([[-2.0]]), np.array([-2.0])])
    neuron.compile(optimizer=SGD(learning_rate=eta * n / 2), loss="mse")
    x, y = np.array(X).reshape(-1, 1), np.array(Y)
    history = neuron.fit(x, y, batch_size=n, epochs=epochs, shuffle=False, verbose=0)
    # History holds each epoch's loss before its update (in the lecture's scaling, since N/2 = 1 here);
    # add the loss after the last update.
    final = neuron.evaluate(x, y, verbose=0) * n / 2
    losses = [v * n / 2 for v in history.history["loss"]] + [final]
    kernel, bias = neuron.get_weights()
    return losses, float(kernel[0, 0]), float(bias[0])


def single_neuron(outdir: Path, epochs: int) -> dict:
    print(f"\nSingle sigmoid neuron: X = {X}, Y = {Y}, w = b = -2, eta = 1, {epochs} epochs of full-batch "
          f"gradient descent on L(w, b) = sum 0.5 * (f(x) - y)^2")
    hand, w_hand, b_hand = gradient_descent_by_hand(epochs)
    ks, w_ks, b_ks = gradient_descent_kerastyle(epochs)
    print(f"{'epoch':>6} {'loss (by hand)':>16} {'loss (kerastyle)':>17}")
    for e in REPORT_EPOCHS:
        if e <= epochs:
            print(f"{e:>6} {hand[e]:16.8e} {ks[e]:17.8e}")
    diff = max(abs(a - b) for a, b in zip(hand, ks))
    print(f"final by hand:   w = {w_hand:.6f}, b = {b_hand:.6f}")
    print(f"final kerastyle: w = {w_ks:.6f}, b = {b_ks:.6f}")
    print(f"largest loss difference over {epochs + 1} values: {diff:.2e} (float64 by hand, float32 in torch)")

    fig = Figure(figsize=(6.4, 4.0), layout="constrained")
    ax = fig.subplots()
    ax.plot(range(len(hand)), hand, lw=3, color="#F8766D", label="by hand (lecture code)")
    ax.plot(range(len(ks)), ks, lw=1.2, ls="--", color="#00BFC4", label="kerastyle Dense(1, sigmoid) + SGD(1.0)")
    ax.set_xscale("symlog", linthresh=10)
    ax.set_xlabel("epoch")
    ax.set_ylabel("L(w, b) = sum 0.5 (f(x) - y)^2")
    ax.set_title("one sigmoid neuron, X = [0.5, 2.5], Y = [0.2, 0.9], w = b = -2, eta = 1", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    path = outdir / "sigmoid_neuron_loss.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    print(f"Loss curve saved to {path}")
    return {"hand": hand, "kerastyle": ks, "w": (w_hand, w_ks), "b": (b_hand, b_ks)}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outdir", type=Path, default=OUTPUTS, help="folder for the PNG plots")
    parser.add_argument("--epochs", type=int, default=1000, help="single-neuron epochs (lecture: 1000)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    keras.utils.set_random_seed(args.seed)
    results = {"boston": boston(args.outdir), "binary": digits_3_vs_5()}
    results["neuron"] = single_neuron(args.outdir, args.epochs)
    return results


if __name__ == "__main__":
    main()
