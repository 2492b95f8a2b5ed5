"""Tests for kerastyle.plotting.plot_history (headless, no pyplot)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest
from matplotlib.figure import Figure

# Make the in-tree package importable without installing it.
_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
plot_history = importlib.import_module("kerastyle.plotting").plot_history

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def make_history() -> dict[str, list[float]]:
    # accuracy listed before loss on purpose: loss must still come first.
    return {
        "accuracy": [0.50, 0.62, 0.71, 0.78, 0.83],
        "loss": [1.20, 0.90, 0.70, 0.55, 0.45],
        "val_loss": [1.25, 1.00, 0.85, 0.80, 0.82],
        "val_accuracy": [0.48, 0.58, 0.66, 0.70, 0.71],
        "mae": [0.40, 0.33, 0.28, 0.25, 0.22],
    }


class FakeHistory:
    """Minimal stand-in for a Keras-style History object."""

    def __init__(self, history, epoch=None):
        self.history = history
        if epoch is not None:
            self.epoch = epoch


def legend_labels(ax) -> list[str]:
    legend = ax.get_legend()
    assert legend is not None
    return [t.get_text() for t in legend.get_texts()]


def test_panels_series_and_data():
    hist = make_history()
    fig = plot_history(hist)
    assert isinstance(fig, Figure)
    axes = fig.get_axes()
    assert [ax.get_ylabel() for ax in axes] == ["loss", "accuracy", "mae"]
    assert legend_labels(axes[0]) == ["training", "validation"]
    assert legend_labels(axes[1]) == ["training", "validation"]
    assert legend_labels(axes[2]) == ["training"]
    assert axes[-1].get_xlabel() == "epoch"

    for ax, name in zip(axes, ["loss", "accuracy", "mae"], strict=True):
        lines = ax.get_lines()
        keys = [name] + ([f"val_{name}"] if f"val_{name}" in hist else [])
        assert len(lines) == len(keys)
        for line, key in zip(lines, keys, strict=True):
            np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3, 4, 5])
            np.testing.assert_allclose(line.get_ydata(), hist[key])
            assert line.get_marker() == "o" and line.get_linestyle() == "-"
        # training and validation are distinguishable by colour
        assert len({line.get_color() for line in lines}) == len(lines)


def test_history_object_and_initial_epoch_offset():
    hist = {"loss": [0.5, 0.4], "val_loss": [0.6, 0.5]}
    fig = plot_history(FakeHistory(hist, epoch=[3, 4]))
    (ax,) = fig.get_axes()
    for line in ax.get_lines():
        np.testing.assert_array_equal(line.get_xdata(), [4, 5])
    ticks = [t for t in ax.get_xticks() if 4 <= t <= 5]
    assert ticks and all(float(t).is_integer() for t in ticks)

    # Object without .epoch: epochs are 1..n.
    (ax,) = plot_history(FakeHistory(hist)).get_axes()
    np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), [1, 2])


def test_save_png_is_valid_and_not_blank(tmp_path):
    out = tmp_path / "nested" / "dir" / "history.png"
    fig = plot_history(make_history(), path=out)
    assert isinstance(fig, Figure)
    assert out.read_bytes()[:8] == PNG_MAGIC
    img = mpimg.imread(out)
    assert img.ndim == 3 and img.shape[0] > img.shape[1]  # panels stacked
    rgb = img[..., :3]
    assert rgb.var() > 0
    assert (rgb < 0.95).any(axis=-1).sum() > 100  # plenty of non-white pixels


def test_metrics_filter():
    hist = make_history()
    (ax,) = plot_history(hist, metrics=["loss"]).get_axes()
    assert ax.get_ylabel() == "loss"
    assert legend_labels(ax) == ["training", "validation"]

    (ax,) = plot_history(hist, metrics="accuracy").get_axes()
    assert ax.get_ylabel() == "accuracy"

    axes = plot_history(hist, metrics=["mae", "val_loss"]).get_axes()
    assert [a.get_ylabel() for a in axes] == ["mae", "loss"]


def test_unknown_metric_lists_available():
    with pytest.raises(ValueError, match="nope") as excinfo:
        plot_history(make_history(), metrics=["loss", "nope"])
    msg = str(excinfo.value)
    for name in ("loss", "accuracy", "mae"):
        assert name in msg


def test_val_only_key_gets_own_panel():
    hist = {"loss": [1.0, 0.8], "val_auc": [0.6, 0.7]}
    axes = plot_history(hist).get_axes()
    assert [a.get_ylabel() for a in axes] == ["loss", "auc"]
    assert legend_labels(axes[0]) == ["training"]
    assert legend_labels(axes[1]) == ["validation"]
    np.testing.assert_allclose(axes[1].get_lines()[0].get_ydata(), [0.6, 0.7])


@pytest.mark.parametrize(
    "empty", [{}, {"loss": [], "val_loss": []}, FakeHistory({}, epoch=[])]
)
def test_empty_history_raises(empty):
    with pytest.raises(ValueError, match="empty history"):
        plot_history(empty)


def test_rejects_non_history():
    with pytest.raises(TypeError):
        plot_history([0.1, 0.2])
