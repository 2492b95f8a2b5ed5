"""``model.summary()``: the Keras 2 text table (tf.keras 2.7+ layout), and the
lectures' weights-and-biases breakdown.

Layout: width 65, columns at 29 and 55 for Sequential models; width 98, columns at
32, 53 and 65 with a "Connected to" column for other models. Each cell but the last
is cut to its width minus a two-space gutter; the first column is indented by one
space; each layer row is followed by a blank line; row counts are plain ints and the
totals are comma-grouped.
"""

from __future__ import annotations

SEQUENTIAL_POSITIONS = (0.45, 0.85, 1.0)
FUNCTIONAL_POSITIONS = (0.33, 0.55, 0.67, 1.0)


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


def _is_sequential_like(model) -> bool:
    """Keras 2's rule: the short layout for Sequential models and functional chains."""
    chain = getattr(model, "_chain", None)
    return type(model).__name__ == "Sequential" or (chain is not None and chain() is not None)


def _shape_text(layer, model) -> str:
    from ..layers.input_layer import InputLayer
    if isinstance(layer, InputLayer):
        return f"[{layer.output_shape}]"
    try:
        return str(layer.output_shape)
    except (AttributeError, ValueError):
        return "multiple"


def _connections(layer, model) -> str:
    nodes = [n for n in layer._inbound_nodes if any(n is m for m in getattr(model, "_nodes", []))]
    refs = [f"{t.node.layer.name}[{model.node_index_in_model(t.node)}][{t._keras_history[1]}]"
            for node in nodes for t in node.input_tensors]
    return str(refs)


def summary_lines(model, line_length=None, positions=None, show_trainable=False) -> list[str]:
    sequential = _is_sequential_like(model)
    functional = hasattr(model, "_nodes") and not sequential
    line_length = line_length or (65 if not functional else 98)
    positions = positions or (SEQUENTIAL_POSITIONS if not functional else FUNCTIONAL_POSITIONS)
    if positions[-1] <= 1:
        positions = [int(line_length * p) for p in positions]
    header = ["Layer (type)", "Output Shape", "Param #"] + (["Connected to"] if functional else [])
    if show_trainable:
        line_length += 11
        positions = [*positions, line_length]
        header.append("Trainable")
    lines = [f'Model: "{model.name}"', "_" * line_length]
    lines += _row(header, positions)
    lines.append("=" * line_length)
    layers = model.layers
    if functional or not sequential:
        from ..layers.input_layer import InputLayer
        layers = layers if functional else [la for la in layers if not isinstance(la, InputLayer)]
    for layer in layers:
        fields = [f"{layer.name} ({type(layer).__name__})", _shape_text(layer, model),
                  layer.count_params() if layer.built else "0 (unused)"]
        if functional:
            fields.append(_connections(layer, model))
        if show_trainable:
            fields.append("Y" if layer.trainable else "N")
        lines += _row(fields, positions)
        lines.append(" " * line_length)
    lines.append("=" * line_length)
    weights = model.weights
    total = sum(p.numel() for p in weights)
    trainable = sum(p.numel() for p in weights if p.requires_grad)
    lines += [f"Total params: {total:,}", f"Trainable params: {trainable:,}",
              f"Non-trainable params: {total - trainable:,}", "_" * line_length]
    return lines


def breakdown_lines(model) -> list[str]:
    """The lecture's parameter table: units, weights and biases per layer, with totals.

    Columns are the input and every layer that has parameters (hidden 1..k, output).
    """
    weighted = [layer for layer in model.layers if layer.built and layer.count_params()]
    names = ["input"] + [f"hidden {i + 1}" for i in range(len(weighted) - 1)] + ["output"]
    input_units = 1
    shape = model.input_shape[0] if isinstance(model.input_shape, list) else model.input_shape
    for d in shape[1:]:
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
