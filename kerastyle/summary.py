"""``model.summary()``: the Keras 2 text table (tf.keras 2.7+ layout), and the
lectures' weights-and-biases breakdown.

Layout: width 65, columns at 29 and 55; each cell but the last is cut to its
width minus a two-space gutter; the first column is indented by one space;
each layer row is followed by a blank line; row counts are plain ints and the
totals are comma-grouped.
"""

from __future__ import annotations

SEQUENTIAL_POSITIONS = (0.45, 0.85, 1.0)


def _row(fields, positions) -> list[str]:
    """One table row, wrapped onto more lines when a cell is too long."""
    remaining = [str(f) for f in fields]
    lines = []
    while any(remaining):
        line = ""
        for col, text in enumerate(remaining):
            start = positions[col - 1] if col else 0
            gutter = 2 if col != len(positions) - 1 else 0
            cutoff = positions[col] - start - gutter
            piece = text[:cutoff]
            breaks = [piece.find(b) + len(b) for b in ("),", "},", "],", "',") if piece.find(b) >= 0]
            if breaks:
                cutoff = min(breaks)
                piece = piece[:cutoff]
            if col == 0:
                line += " "
            line += piece + " " * gutter
            remaining[col] = text[cutoff:]
            line += " " * (positions[col] - len(line))
        lines.append(line)
    return lines


def summary_lines(model, line_length=None, positions=None) -> list[str]:
    line_length = line_length or 65
    positions = positions or SEQUENTIAL_POSITIONS
    if positions[-1] <= 1:
        positions = [int(line_length * p) for p in positions]
    lines = [f'Model: "{model.name}"', "_" * line_length]
    lines += _row(["Layer (type)", "Output Shape", "Param #"], positions)
    lines.append("=" * line_length)
    for layer in model.layers:
        lines += _row([f"{layer.name} ({type(layer).__name__})", str(layer.output_shape),
                       layer.count_params()], positions)
        lines.append(" " * line_length)
    lines.append("=" * line_length)
    trainable = sum(layer.count_params() for layer in model.layers if layer.trainable)
    total = sum(layer.count_params() for layer in model.layers)
    lines += [f"Total params: {total:,}", f"Trainable params: {trainable:,}",
              f"Non-trainable params: {total - trainable:,}", "_" * line_length]
    return lines


def breakdown_lines(model) -> list[str]:
    """The lecture's parameter table: units, weights and biases per layer, with totals.

    Columns are the input and every layer that has parameters (hidden 1..k, output).
    """
    weighted = [layer for layer in model.layers if layer.count_params()]
    names = ["input"] + [f"hidden {i + 1}" for i in range(len(weighted) - 1)] + ["output"]
    input_units = 1
    for d in model.input_shape[1:]:
        input_units *= d
    units, weights, biases = [input_units], [None], [None]
    for layer in weighted:
        params = layer.weights
        units.append(layer.output_shape[-1])
        weights.append(sum(p.numel() for p in params if p.dim() > 1))
        biases.append(sum(p.numel() for p in params if p.dim() == 1))
    totals = [None] + [w + b for w, b in zip(weights[1:], biases[1:])]
    table = [
        ["layers", *names, "TOTAL"],
        ["units", *units, sum(units[1:])],
        ["weights", *weights, sum(weights[1:])],
        ["bias", *biases, sum(biases[1:])],
        ["TOTAL", *totals, sum(totals[1:])],
    ]
    cells = [[("" if v is None else f"{v:,}" if isinstance(v, int) else v) for v in row] for row in table]
    widths = [max(len(row[c]) for row in cells) for c in range(len(cells[0]))]
    return ["  ".join(cell.ljust(widths[0]) if c == 0 else cell.rjust(widths[c])
                      for c, cell in enumerate(row)).rstrip() for row in cells]
