"""MNIST with a small convnet: the lectures' "33 test errors with CNN" remark, as a Keras script.

Conv2D(32, 3) -> Conv2D(64, 3) -> MaxPooling2D -> Dropout -> Flatten -> Dense(128) -> Dropout ->
Dense(10, softmax), the classic Keras ``mnist_cnn.py``; prints the number of test errors out of
10,000 as the slide counts them.

Data: the full MNIST when found (``$KERASTYLE_DATA``, the cache, a download); otherwise the
real digits kerastyle can find offline. The first output line says which data was used.

    python examples/mnist_cnn.py [--epochs 12] [--train-size N]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import kerastyle as keras
from kerastyle.datasets import load_lecture_mnist
from kerastyle.layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--train-size", type=int, default=0, help="use only the first N training images (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    keras.utils.set_random_seed(args.seed)

    (x_train, y_train), (x_test, y_test), description = load_lecture_mnist()
    print(f"Data: {description}")
    if args.train_size:
        x_train, y_train = x_train[:args.train_size], y_train[:args.train_size]
    # (n, 28, 28) uint8 -> (n, 28, 28, 1) floats in [0, 1]: channels last, as Keras.
    x_train = x_train.reshape(-1, 28, 28, 1).astype("float32") / 255
    x_test = x_test.reshape(-1, 28, 28, 1).astype("float32") / 255
    print(f"x_train {x_train.shape}, x_test {x_test.shape}")

    model = keras.Sequential([
        Conv2D(32, kernel_size=(3, 3), activation="relu", input_shape=(28, 28, 1)),
        Conv2D(64, (3, 3), activation="relu"),
        MaxPooling2D(pool_size=(2, 2)),
        Dropout(0.25),
        Flatten(),
        Dense(128, activation="relu"),
        Dropout(0.5),
        Dense(10, activation="softmax"),
    ])
    model.summary()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs, validation_split=0.1, verbose=2)
    fit_seconds = time.perf_counter() - start
    test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
    predicted = model.predict(x_test, verbose=0).argmax(axis=1)
    errors = int(np.sum(predicted != np.asarray(y_test)))
    print(f"Trained in {fit_seconds:.1f}s")
    print(f"Test loss: {test_loss:.4f}")
    print(f"Test accuracy: {test_accuracy:.4f}")
    print(f"Test errors: {errors} of {len(x_test):,}")
    return {"test_accuracy": test_accuracy, "errors": errors, "description": description}


if __name__ == "__main__":
    main()
