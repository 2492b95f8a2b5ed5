"""IMDB sentiment with Embedding + LSTM (the Keras text-classification example).

Reviews as word ids (``imdb.load_data(num_words=...)``, Keras's format), padded to ``maxlen`` with
``pad_sequences`` (zeros in front), ``Embedding(mask_zero=True)`` so the LSTM skips the padding,
then ``Bidirectional(LSTM)`` (or ``LSTM`` with ``--unidirectional``) and a sigmoid output.

Data: the real IMDB set when ``kerastyle.datasets.imdb.load_data`` finds or downloads it; with
``--synthetic`` (or when IMDB is unavailable and ``--synthetic-fallback`` is given) a generated set
shaped like it: word-id lists of varying length whose label depends on which ids occur. The first
output line says which data was used.

    python examples/imdb_lstm.py [--epochs 2] [--num-words 10000] [--maxlen 200] [--synthetic]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import kerastyle as keras
from kerastyle.datasets import imdb
from kerastyle.layers import LSTM, Bidirectional, Dense, Dropout, Embedding
from kerastyle.utils import pad_sequences


def synthetic_imdb(num_words, n_train, n_test, seed=0):
    """Word-id lists shaped like IMDB's (start id 1, ids from 4 up, 30-300 words), label 1 when the
    review holds more "positive" ids (4..53) than "negative" ones (54..103)."""
    rng = np.random.default_rng(seed)

    def make(n):
        reviews, labels = [], []
        for _ in range(n):
            length = int(rng.integers(30, 300))
            words = rng.integers(104, num_words, size=length)
            label = int(rng.integers(0, 2))
            hits = rng.integers(3, 10)
            own = rng.integers(4, 54, size=hits) if label else rng.integers(54, 104, size=hits)
            other = rng.integers(54, 104, size=hits // 3) if label else rng.integers(4, 54, size=hits // 3)
            positions = rng.choice(length, size=len(own) + len(other), replace=False)
            words[positions] = np.concatenate([own, other])
            reviews.append([1, *words.tolist()])
            labels.append(label)
        return np.array(reviews, dtype=object), np.array(labels, dtype=np.int64)
    return make(n_train), make(n_test)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--num-words", type=int, default=10000, help="vocabulary: the most frequent words")
    parser.add_argument("--maxlen", type=int, default=200, help="pad/truncate reviews to this many words")
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument("--train-size", type=int, default=0, help="use only the first N reviews (0: all)")
    parser.add_argument("--synthetic", action="store_true", help="train on generated IMDB-shaped data")
    parser.add_argument("--synthetic-fallback", action="store_true",
                        help="use generated data when IMDB cannot be found or downloaded")
    parser.add_argument("--unidirectional", action="store_true", help="LSTM instead of Bidirectional(LSTM)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    keras.utils.set_random_seed(args.seed)

    if args.synthetic:
        (x_train, y_train), (x_test, y_test) = synthetic_imdb(args.num_words, 2000, 500, args.seed)
        description = "generated IMDB-shaped reviews (--synthetic), 2,000 train / 500 test"
    else:
        try:
            (x_train, y_train), (x_test, y_test) = imdb.load_data(num_words=args.num_words)
            description = f"IMDB movie reviews, {len(x_train):,} train / {len(x_test):,} test"
        except (OSError, ValueError, RuntimeError) as err:
            if not args.synthetic_fallback:
                raise
            (x_train, y_train), (x_test, y_test) = synthetic_imdb(args.num_words, 2000, 500, args.seed)
            description = f"generated IMDB-shaped reviews (IMDB unavailable: {str(err).splitlines()[0]})"
    print(f"Data: {description}")
    if args.train_size:
        x_train, y_train = x_train[:args.train_size], y_train[:args.train_size]
    print(f"{len(x_train)} train reviews, median length {int(np.median([len(r) for r in x_train]))} words")

    x_train = pad_sequences(x_train, maxlen=args.maxlen)  # zeros in front, as Keras pads
    x_test = pad_sequences(x_test, maxlen=args.maxlen)
    print(f"x_train {x_train.shape}, x_test {x_test.shape}")

    recurrent = LSTM(args.units) if args.unidirectional else Bidirectional(LSTM(args.units))
    model = keras.Sequential([
        Embedding(args.num_words, 64, mask_zero=True, input_length=args.maxlen),  # id 0 = padding: masked
        recurrent,
        Dropout(0.3),
        Dense(1, activation="sigmoid"),
    ])
    model.summary()
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=args.batch_size, validation_split=0.2, verbose=2)
    fit_seconds = time.perf_counter() - start
    test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"Trained in {fit_seconds:.1f}s")
    print(f"Test loss: {test_loss:.4f}")
    print(f"Test accuracy: {test_accuracy:.4f}")
    return {"test_accuracy": test_accuracy, "description": description}


if __name__ == "__main__":
    main()
