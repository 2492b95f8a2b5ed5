"""``TensorBoard``: event files TensorBoard reads, written with ``torch.utils.tensorboard``.

Layout and tags as Keras 3: ``log_dir/train`` and ``log_dir/validation``; ``epoch_<name>`` per epoch
(step = epoch index), with ``epoch_learning_rate`` in the train run; ``batch_<name>`` every
``update_freq`` training batches (step = batches since training began, counting from 1);
``evaluation_<name>_vs_iterations`` after each validation (step = optimizer iterations); weight
histograms ``<model>/<layer>/<weight>/histogram`` every ``histogram_freq`` epochs. ``write_graph``
writes the model's graph once (traced on the first training batch). Needs the ``tensorboard``
package (``pip install tensorboard``).
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import torch

from .callback import Callback
from .utils import learning_rate

_MISSING = ("TensorBoard callback needs the `tensorboard` package (torch.utils.tensorboard writes its event files "
            "with it). Install it with `pip install tensorboard`.")


def _summary_writer_class():
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as err:
        raise ImportError(_MISSING) from err
    return SummaryWriter


def _freq(value, arg, allow_epoch=False):
    if allow_epoch and value in ("epoch", "batch"):
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 0 \
            or (allow_epoch and value == 0):
        expected = "'epoch', 'batch' or a positive integer" if allow_epoch else "an integer >= 0"
        raise ValueError(f"TensorBoard: argument `{arg}` must be {expected}, got {value!r}.")
    return int(value)


class TensorBoard(Callback):
    """Log losses, metrics, the learning rate, weight histograms and the graph for TensorBoard."""

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0, embeddings_freq=0,
                 embeddings_metadata=None):
        super().__init__()
        self._writer_class = _summary_writer_class()  # fail at construction, as Keras does without TF
        if not isinstance(log_dir, (str, os.PathLike)) or not os.fspath(log_dir):
            raise ValueError(f"TensorBoard: argument `log_dir` must be a non-empty path, got {log_dir!r}.")
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = _freq(histogram_freq, "histogram_freq")
        for arg, value in (("write_graph", write_graph), ("write_images", write_images),
                           ("write_steps_per_second", write_steps_per_second)):
            if not isinstance(value, (bool, np.bool_)):
                raise ValueError(f"TensorBoard: argument `{arg}` must be True or False, got {value!r}.")
        if write_images or write_steps_per_second:
            raise ValueError("TensorBoard: `write_images` and `write_steps_per_second` are not supported by "
                             "kerastyle; leave them False.")
        if profile_batch not in (0, None) or embeddings_freq or embeddings_metadata is not None:
            raise ValueError("TensorBoard: profiling (`profile_batch`) and embeddings (`embeddings_freq`, "
                             "`embeddings_metadata`) are not supported by kerastyle; use torch.profiler.")
        self.write_graph = bool(write_graph)
        update_freq = _freq(update_freq, "update_freq", allow_epoch=True)
        self.update_freq = 1 if update_freq == "batch" else update_freq
        self._writers = {}
        self._global_train_batch = 0
        self._graph_pending = False

    # -- writers ----------------------------------------------------------------------------
    def _writer(self, run):
        if run not in self._writers:
            self._writers[run] = self._writer_class(os.path.join(self.log_dir, run))
        return self._writers[run]

    def _close(self):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    # -- hooks ------------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._global_train_batch = 0
        self._graph_pending = self.write_graph

    def on_train_end(self, logs=None):
        self._close()

    def on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch += 1

    def on_train_batch_end(self, batch, logs=None):
        if self._graph_pending:
            self._graph_pending = False
            self._write_graph()
        if self.update_freq == "epoch" or self._global_train_batch % self.update_freq:
            return
        writer = self._writer("train")
        for name, value in (logs or {}).items():
            writer.add_scalar(f"batch_{name}", float(value), self._global_train_batch)

    def on_test_end(self, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        step = getattr(optimizer, "iterations", None)
        if step is None or not logs:
            return
        writer = self._writer("validation")
        for name, value in logs.items():
            writer.add_scalar(f"evaluation_{name}_vs_iterations", float(value), int(step))
        writer.flush()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        if getattr(self.model, "optimizer", None) is not None and "learning_rate" not in train:
            train["learning_rate"] = learning_rate(self.model, "TensorBoard")
        for run, values in (("train", train), ("validation", val)):
            if values:
                writer = self._writer(run)
                for name, value in values.items():
                    writer.add_scalar(f"epoch_{name}", float(value), epoch)
                writer.flush()
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._write_histograms(epoch)

    def _write_histograms(self, epoch):
        writer = self._writer("train")
        for layer in self.model.layers:
            for name, weight in layer._weights_with_names():
                tag = f"{self.model.name}/{layer.name}/{name}/histogram".replace(":", "_")
                writer.add_histogram(tag, weight.detach().float().cpu(), epoch)
        writer.flush()

    def _write_graph(self):
        """The graph of the model's forward pass, traced on one sample shape (best effort: a model that
        cannot be traced gets no graph, and training goes on)."""
        model = self.model
        try:
            shape = model.input_shape
            shapes = shape if isinstance(shape, list) else [shape]
            if any(d is None for s in shapes for d in s[1:]):
                return
            device = next(model.parameters()).device
            dtypes = model._input_dtypes()
            sample = [torch.zeros((1, *s[1:]), dtype=dt or torch.float32, device=device)
                      for s, dt in zip(shapes, dtypes)]
            was_training = model.training
            model.eval()
            try:
                with warnings.catch_warnings():  # torch.jit.trace's deprecation notice, not the user's concern
                    warnings.simplefilter("ignore", FutureWarning)
                    self._writer("train").add_graph(_Traceable(model), sample[0] if len(sample) == 1 else sample)
            finally:
                model.train(was_training)
        except (RuntimeError, TypeError, ValueError, StopIteration, AttributeError):
            return


class _Traceable(torch.nn.Module):
    """The model's inference forward as a plain module, for ``add_graph``'s tracer."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.forward_fn = model._forward_function()

    def forward(self, *x):
        return self.forward_fn(x[0] if len(x) == 1 else list(x), False)
