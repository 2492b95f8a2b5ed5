"""The lectures' worked numbers, recomputed with kerastyle's own functions.

Softmax, sigmoid and loss values printed on the slides of lectures 001
(softmax and cross-entropy tables), 002 (regression, binary and multi-class
outputs and losses) and 003 (the cross-entropy table for logits [3, 15, 7, 3]),
computed with ``kerastyle.activations`` and ``kerastyle.losses``. Each line
shows kerastyle's value, the slide's value and whether they agree at the
slide's precision.

Some slides use other logarithms than Keras's natural one: base 10 in 001's
0.10 / 0.70 table and 002's 0.1135, base 2 in 003's table. Those lines show the
natural-log value and its conversion.

    python examples/worked_numbers.py
"""

from __future__ import annotations

import math

import numpy as np
import torch

from kerastyle import activations, losses

LN10 = math.log(10.0)
results: dict[str, list[float]] = {}


def _fmt(values, decimals):
    values = np.atleast_1d(np.asarray(values, dtype=np.float64))
    text = ", ".join(f"{v:.{decimals}f}" for v in values)
    return f"[{text}]" if values.size > 1 else text


def _sci(values):
    text = ", ".join(f"{v:.8e}" for v in values)
    return f"[{text}]" if values.size > 1 else text


def row(label, ours, slide, places, rtol=0.0, decimals=4):
    """Print kerastyle's value next to the slide's. They agree when they differ by at most one unit in
    the slide's last decimal place (slides round or truncate), or by ``rtol`` relatively."""
    ours = np.atleast_1d(np.asarray(ours, dtype=np.float64))
    slide = np.atleast_1d(np.asarray(slide, dtype=np.float64))
    agree = bool(np.allclose(ours, slide, rtol=rtol, atol=0.0 if rtol else 1.0001 * 10.0 ** -places))
    results[label] = ours.tolist()
    if rtol:  # compare significant digits
        mine, shown = _sci(ours), _sci(slide)
    else:
        mine, shown = _fmt(ours, decimals), _fmt(slide, places)
    print(f"  {label:46s} = {mine:34s} slide {shown:26s} {'agree' if agree else 'DIFFER'}")
    return agree


def note(label, value, decimals=4):
    """A value the slides do not print (shown for comparison)."""
    results[label] = np.atleast_1d(np.asarray(value, dtype=np.float64)).tolist()
    print(f"  {label:46s} = {_fmt(value, decimals)}")


def t(values):
    return torch.tensor(values, dtype=torch.float64)


def one_hot(index, n):
    y = torch.zeros(1, n, dtype=torch.float64)
    y[0, index] = 1.0
    return y


def cce(y, p):
    """Keras categorical cross-entropy of one sample (probabilities in)."""
    return float(losses.categorical_crossentropy(y, p.reshape(1, -1))[0])


def lecture_001():
    print("Lecture 001: softmax tables")
    z = t([-1.0, 0.0, 1.0, 2.0, 4.0])
    row("exp(z), z = [-1, 0, 1, 2, 4]", torch.exp(z), [0.37, 1.00, 2.72, 7.39, 54.60], 2, decimals=2)
    row("sum exp(z)", torch.exp(z).sum(), 66.07, 2, decimals=2)
    row("softmax(z)", activations.softmax(z), [0.01, 0.02, 0.04, 0.11, 0.83], 2)
    z = t([-1.0, 0.0, 1.0, 2.0, 8.0])
    row("softmax(z), z = [-1, 0, 1, 2, 8] (saturates)", activations.softmax(z), [0.00, 0.00, 0.00, 0.00, 1.00], 2)
    row("sum exp(z)", torch.exp(z).sum(), 2992.43, 2, decimals=2)

    print("Lecture 001: categorical cross-entropy, true class 3 of 5 (the slide uses log10)")
    y = one_hot(2, 5)
    for name, p, slide in (("favorable", [0.05, 0.05, 0.80, 0.05, 0.05], 0.10),
                           ("unfavorable", [0.20, 0.20, 0.20, 0.20, 0.20], 0.70)):
        loss = cce(y, t(p))
        note(f"{name}: CE, natural log (Keras)", loss)
        row(f"{name}: CE / ln(10)", loss / LN10, slide, 2)


def lecture_002():
    print("Lecture 002: regression, squared error of one output")
    for a1, h1, y_hat, y, slide in (([0.67, -0.415], [0.66, 0.40], 11.5, 12.0, 0.25),
                                    ([0.72, -0.39], [0.67, 0.40], 11.6, 14.0, 5.76),
                                    ([0.95, -0.65], [0.72, 0.34], 11.5, 15.0, 12.25)):
        row(f"sigmoid({a1})", activations.sigmoid(t(a1)), h1, 2)
        row(f"mean_squared_error({y:g}, {y_hat:g})", losses.mean_squared_error(t([[y]]), t([[y_hat]])), slide, 2)

    print("Lecture 002: binary classification, sigmoid output + binary cross-entropy")
    row("sigmoid([0.8, 0.52, 0.68, 0.7])", activations.sigmoid(t([0.8, 0.52, 0.68, 0.7])), [0.69, 0.63, 0.66, 0.67], 2)
    bce = losses.BinaryCrossentropy()
    for a2, p_slide, y, slide, places in ((0.948, 0.7207, 1.0, 0.327, 3), (0.921, 0.7152, 0.0, 1.2560, 4)):
        row(f"sigmoid({a2})", activations.sigmoid(t([a2])), p_slide, 4)
        row(f"binary_crossentropy(y={y:g}, {p_slide})", bce([[y]], [[p_slide]]), slide, places)

    print("Lecture 002: multi-class, softmax output + categorical cross-entropy")
    cases = (([0.13, 0.33, 0.89], 1, [0.23, 0.28, 0.49], 1.2729),
             ([0.32, 0.29, 0.85], 2, [0.2718, 0.2634, 0.4648], 0.7661),
             ([0.39, 0.18, 0.79], 2, [0.3024, 0.2462, 0.4514], 0.7954))
    for a2, c, p_slide, slide in cases:
        p = activations.softmax(t(a2))
        # The slides' logits are rounded to 2 decimals, so their 4-decimal softmax values agree to 2.
        row(f"softmax({a2})", p, np.round(p_slide, 2), 2)
        row(f"  CE of the slide's y_hat, class {c + 1}", cce(one_hot(c, 3), t(p_slide)), slide, 4)
        exact = float(losses.categorical_crossentropy(one_hot(c, 3), t([a2]), from_logits=True)[0])
        note("  CE from the logits (from_logits=True)", exact)

    print("Lecture 002: two outputs, squared error vs cross-entropy (the slide's CE uses log10)")
    row("softmax([1.66, 0.45])", activations.softmax(t([1.66, 0.45])), [0.77, 0.23], 2)
    y = t([[1.0, 0.0]])
    mse = float(losses.mean_squared_error(y, t([[0.77, 0.23]]))[0])
    row("(1 - 0.77)^2 + 0.23^2 = 2 * mean_squared_error", 2 * mse, 0.1058, 4)
    loss = cce(y, t([0.77, 0.23]))
    note("-log(0.77), natural log (Keras)", loss)
    row("-log(0.77) / ln(10)", loss / LN10, 0.1135, 4)


def lecture_003():
    print("Lecture 003: cross-entropy table, logits x = [3, 15, 7, 3], truth t = [0, 1, 0, 0]")
    print("(the slide's log is log2: its log(p_i) column equals ln(p_i) / ln(2))")
    x = t([3.0, 15.0, 7.0, 3.0])
    p = activations.softmax(x)
    log2p = torch.log(p) / math.log(2.0)
    print(f"  {'x_i':>4} {'t_i':>4} {'p_i':>16} {'ln(p_i)':>16} {'log2(p_i)':>16} {'t_i * log2(p_i)':>16}")
    for xi, ti, pi, li in zip([3, 15, 7, 3], [0, 1, 0, 0], p.tolist(), log2p.tolist()):
        print(f"  {xi:>4} {ti:>4} {pi:16.8e} {math.log(pi):16.8e} {li:16.8e} {ti * li + 0.0:16.8e}")
    row("p = softmax(x)", p, [6.14207644e-06, 9.99652370e-01, 3.35346011e-04, 6.14207644e-06], 0, rtol=1e-8)
    row("log2(p)", log2p, [-1.73128421e+01, -5.01611506e-04, -1.15420619e+01, -1.73128421e+01], 0, rtol=1e-8)
    loss = float(losses.categorical_crossentropy(one_hot(1, 4), x.reshape(1, -1), from_logits=True)[0])
    note("L_CE, natural log (Keras, from_logits=True)", loss, 9)
    row("L_CE / ln(2) = -sum t_i log2(p_i)", loss / math.log(2.0), 5.01611506e-04, 0, rtol=1e-8)


def main() -> dict:
    lecture_001()
    lecture_002()
    lecture_003()
    return results


if __name__ == "__main__":
    main()
