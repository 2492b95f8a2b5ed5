"""``keras.preprocessing.text`` of Keras 2: ``Tokenizer``, ``text_to_word_sequence``, ``one_hot``.

Keras 3 dropped these; lecture-era scripts still call them. The behaviour follows Keras 2's
documentation: words are ranked by count over the texts seen by ``fit_on_texts`` (ties keep
first-seen order), index 0 is reserved (padding), the ``oov_token`` (if any) takes index 1,
and ``num_words`` keeps only indices below it when converting (the index is not truncated).
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
from collections import OrderedDict, defaultdict

import numpy as np

DEFAULT_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
_MODES = ("binary", "count", "tfidf", "freq")


def text_to_word_sequence(input_text, filters=DEFAULT_FILTERS, lower=True, split=" "):
    """Split a text into words: lower-case it, turn every ``filters`` character into ``split``."""
    if not isinstance(input_text, str):
        raise TypeError(f"text_to_word_sequence: argument `input_text` must be a string, "
                        f"got {type(input_text).__name__}.")
    if lower:
        input_text = input_text.lower()
    input_text = input_text.translate(str.maketrans({c: split for c in filters}))
    return [word for word in input_text.split(split) if word]


def hashing_trick(text, n, hash_function=None, filters=DEFAULT_FILTERS, lower=True, split=" "):
    """Words to indices in ``[1, n - 1]`` by hashing (collisions possible; 0 stays free).

    ``hash_function=None`` uses Python's ``hash`` (varies between runs unless PYTHONHASHSEED is
    set, as in Keras); ``'md5'`` is stable across runs.
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 2:
        raise ValueError(f"hashing_trick: argument `n` must be an integer >= 2, got {n!r}.")
    if hash_function is None:
        hash_function = hash
    elif hash_function == "md5":
        def hash_function(word):
            return int(hashlib.md5(word.encode()).hexdigest(), 16)
    elif not callable(hash_function):
        raise ValueError(f"hashing_trick: argument `hash_function` must be None, 'md5' or a function, "
                         f"got {hash_function!r}.")
    words = text_to_word_sequence(text, filters=filters, lower=lower, split=split)
    return [hash_function(w) % (n - 1) + 1 for w in words]


def one_hot(input_text, n, filters=DEFAULT_FILTERS, lower=True, split=" ", analyzer=None):
    """Keras 2's ``one_hot``: word indices by hashing (``hashing_trick`` with Python's ``hash``)."""
    if analyzer is not None:
        return [hash(w) % (n - 1) + 1 for w in analyzer(input_text)]
    return hashing_trick(input_text, n, hash_function=hash, filters=filters, lower=lower, split=split)


class Tokenizer:
    """Turns texts into sequences of word indices or into ``(n_texts, num_words)`` matrices.

    Args:
        num_words: keep only the ``num_words - 1`` most frequent words when converting
            (``None``: all).
        filters: characters removed from the texts (replaced by ``split``).
        lower: lower-case the texts first.
        split: the word separator.
        char_level: treat every character as a token.
        oov_token: if given, it gets index 1 and stands for unknown (or cut-off) words in
            ``texts_to_sequences``; otherwise those words are dropped.
        analyzer: optional function text -> list of tokens, used instead of the splitting.
        document_count: initial count of documents (as Keras 2's config carries it).
    """

    def __init__(self, num_words=None, filters=DEFAULT_FILTERS, lower=True, split=" ", char_level=False,
                 oov_token=None, analyzer=None, document_count=0, **kwargs):
        if "nb_words" in kwargs:  # Keras 1 spelling, still accepted by Keras 2
            num_words = kwargs.pop("nb_words")
        if kwargs:
            raise TypeError(f"Tokenizer: unexpected keyword argument(s) {', '.join(map(repr, sorted(kwargs)))}; "
                            "valid ones are num_words, filters, lower, split, char_level, oov_token, analyzer, "
                            "document_count.")
        if num_words is not None and (isinstance(num_words, bool) or not isinstance(num_words, numbers.Integral)
                                      or num_words < 1):
            raise ValueError(f"Tokenizer: argument `num_words` must be None or an integer >= 1, got {num_words!r}.")
        if not isinstance(split, str) or not split:
            raise ValueError(f"Tokenizer: argument `split` must be a non-empty string, got {split!r}.")
        if analyzer is not None and not callable(analyzer):
            raise ValueError(f"Tokenizer: argument `analyzer` must be None or a function, got {analyzer!r}.")
        self.num_words = None if num_words is None else int(num_words)
        self.filters = filters
        self.lower = bool(lower)
        self.split = split
        self.char_level = bool(char_level)
        self.oov_token = oov_token
        self.analyzer = analyzer
        self.document_count = int(document_count)
        self.word_counts = OrderedDict()
        self.word_docs = defaultdict(int)
        self.index_docs = defaultdict(int)
        self.word_index = {}
        self.index_word = {}

    # -- fitting --------------------------------------------------------------

    def _tokens(self, text):
        if self.char_level or isinstance(text, list):
            if self.lower:
                text = [t.lower() for t in text] if isinstance(text, list) else text.lower()
            return list(text)
        if not isinstance(text, str):
            raise TypeError(f"Tokenizer: each text must be a string (or a list of tokens), "
                            f"got {type(text).__name__}: {text!r}.")
        if self.analyzer is not None:
            return list(self.analyzer(text))
        return text_to_word_sequence(text, filters=self.filters, lower=self.lower, split=self.split)

    def fit_on_texts(self, texts):
        """Count words over ``texts`` (strings or lists of tokens) and rebuild ``word_index``."""
        if isinstance(texts, str):
            raise TypeError("Tokenizer.fit_on_texts: argument `texts` must be a list of texts, got one string "
                            "(wrap it in a list).")
        for text in texts:
            self.document_count += 1
            tokens = self._tokens(text)
            for token in tokens:
                self.word_counts[token] = self.word_counts.get(token, 0) + 1
            for token in set(tokens):
                self.word_docs[token] += 1
        # Most frequent first; equal counts keep first-seen order (the sort is stable).
        ranked = sorted(self.word_counts.items(), key=lambda item: item[1], reverse=True)
        vocabulary = ([self.oov_token] if self.oov_token is not None else []) + [w for w, _ in ranked]
        self.word_index = {word: i for i, word in enumerate(vocabulary, start=1)}
        self.index_word = {i: word for word, i in self.word_index.items()}
        self.index_docs = defaultdict(int)
        for word, count in self.word_docs.items():
            self.index_docs[self.word_index[word]] = count

    def fit_on_sequences(self, sequences):
        """Count documents per index from integer sequences (needed for ``tfidf`` matrices)."""
        self.document_count += len(sequences)
        for seq in sequences:
            for index in set(seq):
                self.index_docs[index] += 1

    # -- converting -----------------------------------------------------------

    def _keep(self, index):
        return self.num_words is None or index < self.num_words

    def texts_to_sequences(self, texts):
        """Each text as a list of word indices (unknown words: the OOV index, or dropped)."""
        return list(self.texts_to_sequences_generator(texts))

    def texts_to_sequences_generator(self, texts):
        """Generator form of :meth:`texts_to_sequences`."""
        if isinstance(texts, str):
            raise TypeError("Tokenizer.texts_to_sequences: argument `texts` must be a list of texts, got one "
                            "string (wrap it in a list).")
        oov_index = self.word_index.get(self.oov_token) if self.oov_token is not None else None
        for text in texts:
            seq = []
            for token in self._tokens(text):
                index = self.word_index.get(token)
                if index is not None and self._keep(index):
                    seq.append(index)
                elif oov_index is not None:
                    seq.append(oov_index)
            yield seq

    def sequences_to_texts(self, sequences):
        """Index sequences back to space-joined texts (the inverse of ``texts_to_sequences``)."""
        return list(self.sequences_to_texts_generator(sequences))

    def sequences_to_texts_generator(self, sequences):
        """Generator form of :meth:`sequences_to_texts`."""
        oov_index = self.word_index.get(self.oov_token) if self.oov_token is not None else None
        for seq in sequences:
            words = []
            for index in seq:
                word = self.index_word.get(index)
                if word is not None and self._keep(index):
                    words.append(word)
                elif oov_index is not None:
                    words.append(self.index_word[oov_index])
            yield " ".join(words)

    def texts_to_matrix(self, texts, mode="binary"):
        """``(len(texts), num_words)`` matrix; ``mode`` is binary, count, tfidf or freq."""
        return self.sequences_to_matrix(self.texts_to_sequences(texts), mode=mode)

    def sequences_to_matrix(self, sequences, mode="binary"):
        """Matrix of index sequences: column ``j`` describes word index ``j`` (column 0 unused).

        binary: 1 if present; count: occurrences; freq: occurrences / sequence length;
        tfidf: ``(1 + ln count) * ln(1 + documents / (1 + documents containing the word))``.
        """
        if mode not in _MODES:
            raise ValueError(f"Tokenizer: argument `mode` must be one of {', '.join(_MODES)}, got {mode!r}.")
        width = self.num_words or (len(self.word_index) + 1 if self.word_index else 0)
        if not width:
            raise ValueError("Tokenizer: the matrix width is unknown; call fit_on_texts first or pass num_words.")
        if mode == "tfidf" and not self.document_count:
            raise ValueError("Tokenizer: mode='tfidf' needs document counts; call fit_on_texts or "
                             "fit_on_sequences first.")
        out = np.zeros((len(sequences), width))
        for row, seq in enumerate(sequences):
            if not seq:
                continue
            counts = defaultdict(int)
            for index in seq:
                if index < width:
                    counts[index] += 1
            for index, count in counts.items():
                if mode == "count":
                    out[row, index] = count
                elif mode == "freq":
                    out[row, index] = count / len(seq)
                elif mode == "binary":
                    out[row, index] = 1
                else:
                    tf = 1 + math.log(count)
                    idf = math.log(1 + self.document_count / (1 + self.index_docs.get(index, 0)))
                    out[row, index] = tf * idf
        return out

    # -- saving ---------------------------------------------------------------

    def get_config(self):
        """Plain JSON-ready configuration and vocabulary (as Keras 2's ``get_config``)."""
        return {
            "num_words": self.num_words,
            "filters": self.filters,
            "lower": self.lower,
            "split": self.split,
            "char_level": self.char_level,
            "oov_token": self.oov_token,
            "document_count": self.document_count,
            "word_counts": json.dumps(self.word_counts),
            "word_docs": json.dumps(self.word_docs),
            "index_docs": json.dumps(self.index_docs),
            "index_word": json.dumps(self.index_word),
            "word_index": json.dumps(self.word_index),
        }

    def to_json(self, **kwargs):
        """The tokenizer as a JSON string; :func:`tokenizer_from_json` reads it back."""
        return json.dumps({"class_name": "Tokenizer", "config": self.get_config()}, **kwargs)


def tokenizer_from_json(json_string):
    """Rebuild a :class:`Tokenizer` from :meth:`Tokenizer.to_json` (plain JSON, nothing executed)."""
    data = json.loads(json_string)
    if not isinstance(data, dict) or data.get("class_name") != "Tokenizer" or not isinstance(data.get("config"), dict):
        raise ValueError("tokenizer_from_json: the JSON is not a saved Tokenizer "
                         "(expected {'class_name': 'Tokenizer', 'config': {...}}).")
    config = dict(data["config"])
    tables = {key: json.loads(config.pop(key, "{}")) for key in
              ("word_counts", "word_docs", "index_docs", "index_word", "word_index")}
    tokenizer = Tokenizer(**config)
    tokenizer.word_counts = OrderedDict(tables["word_counts"])
    tokenizer.word_docs = defaultdict(int, tables["word_docs"])
    tokenizer.index_docs = defaultdict(int, {int(k): v for k, v in tables["index_docs"].items()})
    tokenizer.index_word = {int(k): v for k, v in tables["index_word"].items()}
    tokenizer.word_index = dict(tables["word_index"])
    return tokenizer


__all__ = ["Tokenizer", "hashing_trick", "one_hot", "text_to_word_sequence", "tokenizer_from_json"]
