"""Iris units and the 12-6-1 network of lecture 001 (artificial neural networks).

* the lecture's unit ``z = 2*x1 - x2 + 1`` through the step, sigmoid and rigid
  sigmoid ``max(0, min(1, (z + 1) / 2))`` activations;
* Setosa vs Versicolor with one unit: the perceptron (step activation, trained
  with Rosenblatt's rule, since the step has derivative 0), logistic regression
  (sigmoid + binary cross-entropy) and the "approximate perceptron" (rigid
  sigmoid + squared error), all with kerastyle ``Dense(1)`` layers;
* the 12-6-1 relu/relu/sigmoid network on Versicolor vs the other two species,
  which no linear unit can separate in these two features;
* decision boundaries in (sepal length, petal length), saved as one PNG.

    python examples/iris_lecture.py [--plot outputs/iris_decision_boundaries.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

import kerastyle as keras
from kerastyle.datasets import iris
from kerastyle.layers import Dense
from kerastyle.optimizers import SGD

OUTPUTS = Path(__file__).resolve().parents[1] / "outputs"
FEATURES = (0, 2)  # sepal length, petal length (cm)


def step(z):
    """The perceptron's step: 1 where z >= 0, else 0."""
    return (z >= 0).to(z.dtype)


def lecture_unit_table():
    """The slides' unit z = 2*x1 - x2 + 1 as a kerastyle Dense(1) with the three activations."""
    points = np.array([[0.0, 0.0], [-1.0, 0.0], [0.0, 2.0], [1.0, 1.0], [-2.0, 1.0]], dtype="float32")
    print("The lecture's unit z = 2*x1 - x2 + 1 (Dense(1) with kernel [[2], [-1]], bias [1]):")
    print(f"{'x1':>5} {'x2':>5} {'z':>5} {'step':>5} {'sigmoid':>8} {'rigid':>6}")
    columns = []
    for activation in (step, "sigmoid", "rigid_sigmoid", None):
        unit = keras.Sequential([Dense(1, activation=activation, input_shape=(2,))])
        unit.set_weights([np.array([[2.0], [-1.0]]), np.array([1.0])])
        columns.append(unit.predict(points, verbose=0)[:, 0])
    h_step, h_sigmoid, h_rigid, z = columns
    for (x1, x2), zi, a, b, c in zip(points, z, h_step, h_sigmoid, h_rigid):
        print(f"{x1:5.1f} {x2:5.1f} {zi:5.1f} {a:5.0f} {b:8.4f} {c:6.2f}")
    return {"z": z, "step": h_step, "sigmoid": h_sigmoid, "rigid": h_rigid}


def perceptron_rule(x, y, epochs=20, eta=0.1):
    """Rosenblatt's rule: w += eta * (y - step(w.x + b)) * x, sample by sample."""
    w, b = np.zeros(x.shape[1]), 0.0
    for _ in range(epochs):
        errors = 0
        for xi, yi in zip(x, y):
            update = eta * (yi - float(w @ xi + b >= 0))
            w, b = w + update * xi, b + update
            errors += update != 0
        if errors == 0:
            break
    return w, b


def train_unit(x, y, activation, loss, lr, epochs, initializer="glorot_uniform"):
    model = keras.Sequential([Dense(1, activation=activation, input_shape=(x.shape[1],),
                                    kernel_initializer=initializer)])
    model.compile(optimizer=SGD(learning_rate=lr), loss=loss, metrics=["binary_accuracy"])
    model.fit(x, y, batch_size=10, epochs=epochs, verbose=0)
    return model


def accuracy(model, x, y) -> float:
    return float(((model.predict(x, verbose=0)[:, 0] >= 0.5) == (y == 1)).mean())


def plot_boundaries(panels, mean, std, path):
    """One panel per (title, model, x_cm, y): predicted class regions and the samples."""
    fig = Figure(figsize=(13.5, 8.4), layout="constrained")
    axes = fig.subplots(2, 3).ravel()
    x_all = np.concatenate([p[2] for p in panels])
    lo, hi = x_all.min(axis=0) - 0.5, x_all.max(axis=0) + 0.5
    g1, g2 = np.meshgrid(np.linspace(lo[0], hi[0], 300), np.linspace(lo[1], hi[1], 300))
    grid = np.column_stack([g1.ravel(), g2.ravel()])
    for ax, (title, model, x_cm, y) in zip(axes, panels):
        p = model.predict(((grid - mean) / std).astype("float32"), verbose=0, batch_size=4096)[:, 0]
        ax.contourf(g1, g2, (p >= 0.5).reshape(g1.shape), levels=[-0.5, 0.5, 1.5],
                    colors=["#c6dbef", "#fdd0a2"])
        ax.contour(g1, g2, p.reshape(g1.shape), levels=[0.5], colors="k", linewidths=1)
        for label, marker, color in ((0, "o", "#3182bd"), (1, "^", "#e6550d")):
            ax.scatter(*x_cm[y == label].T, marker=marker, c=color, edgecolors="k", linewidths=0.4, s=28)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(iris.FEATURE_NAMES[FEATURES[0]])
        ax.set_ylabel(iris.FEATURE_NAMES[FEATURES[1]])
    z = np.linspace(-4, 4, 401)
    ax = axes[-1]
    ax.plot(z, (z >= 0).astype(float), label="step (perceptron)")
    ax.plot(z, 1 / (1 + np.exp(-z)), label="sigmoid")
    ax.plot(z, np.clip((z + 1) / 2, 0, 1), label="rigid sigmoid")
    ax.set_title("activations g(z)", fontsize=10)
    ax.set_xlabel("z")
    ax.legend(frameon=False)
    ax.grid(alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", type=Path, default=OUTPUTS / "iris_decision_boundaries.png")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    keras.utils.set_random_seed(args.seed)

    table = lecture_unit_table()

    x, y = iris.load_data()
    x = x[:, FEATURES]
    mean, std = x.mean(axis=0), x.std(axis=0)
    xs = ((x - mean) / std).astype("float32")
    print(f"\nIris: {len(x)} flowers; features {iris.FEATURE_NAMES[FEATURES[0]]!r}, "
          f"{iris.FEATURE_NAMES[FEATURES[1]]!r} (standardised for training)")

    # Setosa (0) vs Versicolor (1): linearly separable.
    pair = y < 2
    xa, xa_cm, ya = xs[pair], x[pair], y[pair].astype("float32")
    results = {}

    w, b = perceptron_rule(xa, ya)
    perceptron = keras.Sequential([Dense(1, activation=step, input_shape=(2,))])
    perceptron.set_weights([w.reshape(2, 1), np.array([b])])
    logistic = train_unit(xa, ya, "sigmoid", "binary_crossentropy", lr=0.5, epochs=30)
    rigid = train_unit(xa, ya, "rigid_sigmoid", "mse", lr=0.2, epochs=30, initializer="zeros")
    print("\nSetosa vs Versicolor, one unit (training accuracy on 100 flowers):")
    for name, model in (("perceptron (step, Rosenblatt rule)", perceptron),
                        ("logistic regression (sigmoid, binary cross-entropy)", logistic),
                        ("approximate perceptron (rigid sigmoid, MSE)", rigid)):
        results[name] = accuracy(model, xa, ya)
        kernel, bias = model.get_weights()
        print(f"  {name:52s} accuracy {results[name]:.4f}   w = {np.round(kernel[:, 0], 3)}, b = {bias[0]:.3f}")

    # Versicolor (1) vs the rest: a band in petal length, not linearly separable.
    yb = (y == 1).astype("float32")
    linear = train_unit(xs, yb, "sigmoid", "binary_crossentropy", lr=0.5, epochs=60)
    network = keras.Sequential([
        Dense(12, activation="relu", input_shape=(2,)),
        Dense(6, activation="relu"),
        Dense(1, activation="sigmoid"),
    ])
    network.summary()
    network.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = network.fit(xs, yb, batch_size=10, epochs=150, verbose=0)
    results["versicolor vs rest: logistic regression"] = accuracy(linear, xs, yb)
    results["versicolor vs rest: 12-6-1 network"] = accuracy(network, xs, yb)
    print("\nVersicolor vs Setosa + Virginica (training accuracy on 150 flowers; "
          f"always answering 'not Versicolor' scores {1 - yb.mean():.4f}):")
    print(f"  logistic regression (one sigmoid unit)      accuracy "
          f"{results['versicolor vs rest: logistic regression']:.4f}")
    print(f"  12-6-1 relu/relu/sigmoid network            accuracy "
          f"{results['versicolor vs rest: 12-6-1 network']:.4f} "
          f"(final loss {history.history['loss'][-1]:.4f})")

    plot_boundaries([
        ("perceptron: Setosa vs Versicolor", perceptron, xa_cm, ya),
        ("logistic regression: Setosa vs Versicolor", logistic, xa_cm, ya),
        ("rigid sigmoid: Setosa vs Versicolor", rigid, xa_cm, ya),
        ("logistic regression: Versicolor vs rest", linear, x, yb),
        ("12-6-1 network: Versicolor vs rest", network, x, yb),
    ], mean, std, args.plot)
    print(f"\nDecision-boundary plot saved to {args.plot}")
    return {"table": table, "accuracy": results}


if __name__ == "__main__":
    main()
