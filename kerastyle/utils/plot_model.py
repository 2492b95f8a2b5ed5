"""``keras.utils.plot_model`` and ``model_to_dot``: the model's layer graph drawn by Graphviz.

The graph (one box per layer, an arrow per connection) is computed here; ``pydot`` builds the DOT
document and Graphviz's ``dot`` program renders it (both optional: ``pip install pydot`` and the
Graphviz package of your system). Without them, a clear ImportError says which one is missing.
"""

from __future__ import annotations

import os

_PYDOT_MISSING = "You must install pydot (`pip install pydot`) for `plot_model` to work."
_GRAPHVIZ_MISSING = ("You must install Graphviz (the `dot` program: e.g. `apt install graphviz`, `brew install "
                     "graphviz`, or graphviz.org/download) for `plot_model` to work.")


def layer_graph(model, show_shapes=False, show_dtype=False, show_layer_names=True, show_trainable=False):
    """``(nodes, edges)``: ``nodes`` a list of ``(id, label)`` in model order, ``edges`` a list of
    ``(from_id, to_id)``. Sequential models are a chain; functional ones follow their graph."""
    if not getattr(model, "built", False):
        raise ValueError(f"plot_model(): model {model.name!r} is not built yet, so its graph is unknown. Give it an "
                         f"input shape (Input, input_shape= or build()) first.")
    functional = hasattr(model, "_nodes") and hasattr(model, "node_index_in_model")
    layers = list(model.layers)
    if not functional:
        layers = [la for la in layers if type(la).__name__ != "InputLayer"]  # utils stays below layers
    nodes = [(str(id(layer)), _label(layer, show_shapes, show_dtype, show_layer_names, show_trainable))
             for layer in layers]
    edges = []
    if functional:
        mine = model._nodes
        for layer in layers:
            for node in layer._inbound_nodes:
                if not any(node is m for m in mine):
                    continue
                for tensor in node.input_tensors:
                    edge = (str(id(tensor.node.layer)), str(id(layer)))
                    if edge not in edges:
                        edges.append(edge)
    else:
        edges = [(str(id(a)), str(id(b))) for a, b in zip(layers, layers[1:])]
    return nodes, edges


def _shape(layer, attr):
    try:
        return str(getattr(layer, attr))
    except (AttributeError, ValueError):
        return "?"


def _label(layer, show_shapes, show_dtype, show_layer_names, show_trainable):
    label = f"{layer.name} ({type(layer).__name__})" if show_layer_names else type(layer).__name__
    if show_shapes:
        label += f"\\ninput: {_shape(layer, 'input_shape')}\\noutput: {_shape(layer, 'output_shape')}"
    if show_dtype:
        label += f"\\ndtype: {getattr(layer, 'dtype', 'float32')}"
    if show_trainable:
        label += f"\\ntrainable: {'Y' if layer.trainable else 'N'}"
    return label


def model_to_dot(model, show_shapes=False, show_dtype=False, show_layer_names=True, rankdir="TB",
                 expand_nested=False, dpi=200, subgraph=False, show_layer_activations=False, show_trainable=False,
                 **kwargs):
    """The layer graph as a ``pydot.Dot``."""
    if kwargs:
        raise TypeError(f"model_to_dot(): unexpected keyword argument(s) {', '.join(map(repr, sorted(kwargs)))}.")
    if rankdir not in ("TB", "LR"):
        raise ValueError(f"plot_model(): argument `rankdir` must be 'TB' or 'LR', got {rankdir!r}.")
    try:
        import pydot
    except ImportError as err:
        raise ImportError(_PYDOT_MISSING) from err
    nodes, edges = layer_graph(model, show_shapes, show_dtype, show_layer_names, show_trainable)
    dot = pydot.Dot(graph_type="digraph", rankdir=rankdir, dpi=dpi)
    dot.set_node_defaults(shape="record")
    for node_id, label in nodes:
        dot.add_node(pydot.Node(node_id, label=label))
    for a, b in edges:
        dot.add_edge(pydot.Edge(a, b))
    return dot


def plot_model(model, to_file="model.png", show_shapes=False, show_dtype=False, show_layer_names=True,
               rankdir="TB", expand_nested=False, dpi=200, show_layer_activations=False, show_trainable=False,
               **kwargs):
    """Draw the model's layers and connections into ``to_file`` (format from the extension: png, svg,
    pdf, dot, ...). Returns an ``IPython.display.Image`` in a notebook for png files, else None."""
    if not isinstance(to_file, (str, os.PathLike)) or not os.fspath(to_file):
        raise ValueError(f"plot_model(): argument `to_file` must be a file path, got {to_file!r}.")
    dot = model_to_dot(model, show_shapes=show_shapes, show_dtype=show_dtype, show_layer_names=show_layer_names,
                       rankdir=rankdir, expand_nested=expand_nested, dpi=dpi,
                       show_layer_activations=show_layer_activations, show_trainable=show_trainable, **kwargs)
    to_file = os.fspath(to_file)
    extension = os.path.splitext(to_file)[1][1:].lower() or "png"
    try:
        dot.write(to_file, format=extension)
    except (FileNotFoundError, OSError) as err:
        raise ImportError(f"{_GRAPHVIZ_MISSING} ({err})") from err
    if extension == "png":
        try:
            from IPython import display
            return display.Image(filename=to_file)
        except ImportError:
            return None
    return None
