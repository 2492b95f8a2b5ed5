"""The issue-14 examples run as scripts: the IMDB text model on generated IMDB-shaped data (small and fast);
the CNN examples once Conv2D/MaxPooling2D exist (they come from the convolution layers' branch)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import kerastyle

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("KERASTYLE_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
HAVE_CONV = hasattr(kerastyle.layers, "Conv2D") and hasattr(kerastyle.layers, "MaxPooling2D")


def run_example(name, *args, timeout=300):
    env = {**os.environ, "KERASTYLE_DATA": str(DATA), "KERASTYLE_OFFLINE": "1", "MPLBACKEND": "Agg",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / name), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def _value(pattern, text):
    match = re.search(pattern, text, re.MULTILINE)
    assert match, f"{pattern!r} not in output:\n{text[-2000:]}"
    return float(match.group(1).replace(",", ""))


def test_imdb_lstm_on_generated_data():
    out = run_example("imdb_lstm.py", "--synthetic", "--epochs", "1", "--maxlen", "30", "--num-words", "500",
                      "--train-size", "300", "--unidirectional", "--threads", "1")
    assert out.splitlines()[0].startswith("Data: generated IMDB-shaped reviews")
    assert "x_train (300, 30)" in out
    # Embedding(500, 64) + LSTM(32) on 64 features + Dense(1): Keras's counts
    assert _value(r"Total params: ([\d,]+)", out) == 500 * 64 + 4 * (32 * (64 + 32) + 32) + 33
    assert 0.0 <= _value(r"Test accuracy: ([\d.]+)", out) <= 1.0


def test_imdb_lstm_without_data_fails_with_the_loaders_message(tmp_path):
    env_data = tmp_path  # no imdb.npz there, and downloads are off
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "imdb_lstm.py"), "--epochs", "1"], cwd=ROOT,
                          env={**os.environ, "KERASTYLE_DATA": str(env_data), "KERASTYLE_OFFLINE": "1",
                               "KERASTYLE_CACHE": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "imdb" in proc.stderr.lower()


@pytest.mark.skipif(not HAVE_CONV, reason="Conv2D/MaxPooling2D not in this checkout yet (convolution branch)")
def test_mnist_cnn_small():
    out = run_example("mnist_cnn.py", "--epochs", "1", "--train-size", "2000", "--threads", "1")
    assert out.startswith("Data: ")
    errors = _value(r"Test errors: (\d+) of ", out)
    accuracy = _value(r"Test accuracy: ([\d.]+)", out)
    total = _value(r"Test errors: \d+ of ([\d,]+)", out)
    assert errors == round((1 - accuracy) * total)


@pytest.mark.skipif(not HAVE_CONV, reason="Conv2D/MaxPooling2D not in this checkout yet (convolution branch)")
def test_fashion_mnist_cnn_small():
    out = run_example("fashion_mnist_cnn.py", "--epochs", "1", "--train-size", "3000", "--threads", "1")
    assert "Total params: 422,026" in out and "Non-trainable params: 192" in out
    assert 0.5 < _value(r"Test accuracy: ([\d.]+)", out) <= 1.0
