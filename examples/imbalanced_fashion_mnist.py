"""Plain, balanced and focal cross-entropy on an imbalanced Fashion-MNIST (lecture 001).

The training set keeps only a fraction (default 5%) of two classes; the lecture's
784-128-10 network is trained with each loss from the same seed (same initial
weights, same batch order), and per-class recall and macro-F1 are measured on the
untouched, balanced test set.

    KERASTYLE_DATA=/work/shared/data python examples/imbalanced_fashion_mnist.py --epochs 10
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import kerastyle as keras
from kerastyle.datasets import fashion_mnist

LOSSES = {  # column title -> loss (all take integer labels)
    "plain CE": "sparse_categorical_crossentropy",
    "balanced CE": "sparse_categorical_balanced_crossentropy",
    "focal g=2": "sparse_categorical_focal_crossentropy",
    "bal. focal g=2": lambda: keras.losses.SparseCategoricalFocalCrossentropy(alpha="balanced", gamma=2.0),
}


def make_imbalanced(x, y, minority, keep, seed):
    """Keep a random ``keep`` fraction of each class in ``minority``, everything else."""
    rng = np.random.default_rng(seed)
    mask = np.ones(len(y), dtype=bool)
    for c in minority:
        idx = np.flatnonzero(y == c)
        mask[idx] = False
        mask[rng.choice(idx, size=max(1, round(keep * len(idx))), replace=False)] = True
    return x[mask], y[mask]


def per_class_scores(y_true, y_pred, k):
    """Recall and F1 per class from the confusion matrix (rows: truth, columns: prediction)."""
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    tp = np.diag(cm).astype(float)
    recall = tp / np.maximum(cm.sum(axis=1), 1)
    precision = tp / np.maximum(cm.sum(axis=0), 1)
    f1 = np.where(tp > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)
    return recall, f1


def build_model():
    """The lecture's network: 784 pixels -> Dense(128, relu) -> Dense(10, softmax)."""
    return keras.Sequential([
        keras.layers.Dense(128, activation="relu", input_shape=(784,)),
        keras.layers.Dense(10, activation="softmax"),
    ])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--keep", type=float, default=0.05, help="fraction kept of each minority class")
    parser.add_argument("--minority", type=int, nargs="+", default=[2, 6], help="minority classes (Pullover, Shirt)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not 0 < args.keep <= 1:
        parser.error(f"--keep must be in (0, 1], got {args.keep}")
    if any(not 0 <= c <= 9 for c in args.minority):
        parser.error(f"--minority classes must be in 0..9, got {args.minority}")

    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    x_train = x_train.reshape(-1, 784).astype(np.float32) / 255.0
    x_test = x_test.reshape(-1, 784).astype(np.float32) / 255.0
    x_train, y_train = make_imbalanced(x_train, y_train, args.minority, args.keep, args.seed)
    counts = np.bincount(y_train, minlength=10)
    weights = keras.utils.compute_class_weight(y_train)
    print(f"training samples: {len(y_train)}; per class: {counts.tolist()}")
    print("balanced alpha_i = n / (k n_i): " + ", ".join(f"{c}: {w:.3f}" for c, w in weights.items()))

    results = {}
    for title, loss in LOSSES.items():
        keras.utils.set_random_seed(args.seed)  # same initial weights and batch order for every loss
        model = build_model()
        model.compile(optimizer="adam", loss=loss() if callable(loss) else loss, metrics=["accuracy"])
        start = time.perf_counter()
        model.fit(x_train, y_train, epochs=args.epochs, batch_size=args.batch_size, verbose=0)
        pred = model.predict(x_test, batch_size=1024, verbose=0).argmax(axis=1)
        recall, f1 = per_class_scores(y_test, pred, 10)
        results[title] = (recall, f1.mean(), float((pred == y_test).mean()))
        print(f"{title:>15}: macro-F1 {f1.mean():.3f}, accuracy {results[title][2]:.3f} "
              f"({time.perf_counter() - start:.0f} s)")

    names = getattr(fashion_mnist, "CLASS_NAMES", [str(c) for c in range(10)])
    titles = list(results)
    print(f"\nTest-set recall per class ({args.epochs} epochs, seed {args.seed}; * = kept {args.keep:.0%} "
          f"in training)\n")
    print("| class | train n | " + " | ".join(titles) + " |")
    print("|---|---:|" + "---:|" * len(titles))
    for c in range(10):
        mark = "*" if c in args.minority else ""
        cells = " | ".join(f"{results[t][0][c]:.3f}" for t in titles)
        print(f"| {c} {names[c]}{mark} | {counts[c]} | {cells} |")
    print("| **macro-F1** | | " + " | ".join(f"**{results[t][1]:.3f}**" for t in titles) + " |")
    print("| accuracy | | " + " | ".join(f"{results[t][2]:.3f}" for t in titles) + " |")


if __name__ == "__main__":
    main()
