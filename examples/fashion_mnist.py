"""Fashion-MNIST with the lecture model (lecture 000, ETC3250/5250 Week 12).

784 pixels -> Dense(128, relu) -> Dense(10, softmax), 101,770 parameters.
Trained with ``validation_split``, evaluated on the 10,000 test images; prints
the ``predict`` probability matrix of the first test images as R prints it and
saves the training history plot.

Data: the full Fashion-MNIST when found (``$KERASTYLE_DATA``, the cache,
``/usr/share/datasets/fashion-mnist`` or a download); otherwise the MNIST digits
kerastyle can find offline. The first output line says which data was used.

    python examples/fashion_mnist.py [--epochs 15] [--plot outputs/fashion_mnist_history.png]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

import kerastyle as keras
from kerastyle.callbacks import EarlyStopping
from kerastyle.datasets import fashion_mnist, load_lecture_fashion_mnist
from kerastyle.layers import Dense

OUTPUTS = Path(__file__).resolve().parents[1] / "outputs"


def r_matrix(values: np.ndarray, width: int = 80) -> str:
    """Format a matrix as R's ``print()`` does: ``[i,]`` rows, ``[,j]`` columns, blocks fitting ``width``."""
    cells = [[f"{v:.6e}" for v in row] for row in values]
    row_names = [f"[{i + 1},]" for i in range(len(values))]
    col_names = [f"[,{j + 1}]" for j in range(values.shape[1])]
    cell_width = max(max(len(c) for row in cells for c in row), max(len(c) for c in col_names))
    label_width = max(len(r) for r in row_names)
    per_block = max(1, (width - label_width) // (cell_width + 1))
    blocks = []
    for start in range(0, values.shape[1], per_block):
        cols = range(start, min(start + per_block, values.shape[1]))
        lines = [" " * label_width + "".join(" " + col_names[j].rjust(cell_width) for j in cols)]
        for i, name in enumerate(row_names):
            lines.append(name.ljust(label_width) + "".join(" " + cells[i][j].rjust(cell_width) for j in cols))
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15, help="at most this many epochs (default 15)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's own choice, one per core)")
    parser.add_argument("--plot", type=Path, default=OUTPUTS / "fashion_mnist_history.png",
                        help="where to save the history plot (PNG)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    keras.utils.set_random_seed(args.seed)

    (x_train, y_train), (x_test, y_test), description = load_lecture_fashion_mnist()
    print(f"Data: {description}")
    is_fashion = description.startswith("Fashion-MNIST:")
    class_names = fashion_mnist.CLASS_NAMES if is_fashion else [str(d) for d in range(10)]
    print(f"x_train {x_train.shape}, x_test {x_test.shape}")

    # 28x28 images -> 784 values in [0, 1]; labels -> one-hot rows of 10.
    x_train = x_train.reshape(len(x_train), 784).astype("float32") / 255
    x_test = x_test.reshape(len(x_test), 784).astype("float32") / 255
    y_train_1hot = keras.utils.to_categorical(y_train, 10)
    y_test_1hot = keras.utils.to_categorical(y_test, 10)

    model = keras.Sequential([
        Dense(128, activation="relu", input_shape=(784,)),  # hidden layer
        Dense(10, activation="softmax"),                   # one unit per class
    ])
    model.summary()
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])

    # The last 20% of the training images are held out for validation (before shuffling, as Keras).
    # Keep the epoch with the lowest validation loss.
    stop = EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
    start = time.perf_counter()
    history = model.fit(x_train, y_train_1hot, epochs=args.epochs, batch_size=args.batch_size,
                        validation_split=0.2, callbacks=[stop], verbose=1)
    fit_seconds = time.perf_counter() - start
    print(f"Trained for {len(history.epoch)} epoch(s) in {fit_seconds:.1f}s; "
          f"best epoch by val_loss: {stop.best_epoch + 1}")

    test_loss, test_accuracy = model.evaluate(x_test, y_test_1hot, verbose=0)
    print(f"Test loss: {test_loss:.4f}")
    print(f"Test accuracy: {test_accuracy:.4f}")

    probs = model.predict(x_test[:3], verbose=0)
    print("\npredict(x_test[1:3, ]): class probabilities, one row per image")
    print(r_matrix(probs))
    for i, row in enumerate(probs):
        print(f"image {i + 1}: predicted {class_names[row.argmax()]!r} (p={row.max():.4f}), "
              f"true {class_names[y_test[i]]!r}")

    history.plot(path=args.plot)
    print(f"\nHistory plot saved to {args.plot}")
    return {"test_accuracy": test_accuracy, "description": description, "fit_seconds": fit_seconds}


if __name__ == "__main__":
    main()
