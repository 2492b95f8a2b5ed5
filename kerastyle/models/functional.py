"""The Functional API: ``Model(inputs, outputs)``, a graph of layers recorded from symbolic calls.

The graph is the nodes (layer calls) between ``inputs`` and ``outputs``, found by walking back
from the outputs; running the model replays them in order with real tensors.
"""

from __future__ import annotations

import torch
from torch import nn

from .. import backend
from ..layers.input_layer import InputLayer
from ..layers.layer import Layer, call_masked, creates_masks
from ..layers.node import KerasTensor, flatten, map_structure
from .model import Model


def _tensors(structure, arg):
    tensors = list(flatten(structure))
    if not tensors:
        raise ValueError(f"Model: argument `{arg}` is empty; pass keras.Input tensors and layer outputs.")
    for t in tensors:
        if not isinstance(t, KerasTensor):
            raise TypeError(f"Model: argument `{arg}` must hold symbolic tensors (from keras.Input and layer calls), "
                            f"got {type(t).__name__}.")
    return tensors


class Functional(Model):
    """A model defined by its input and output tensors."""

    def __init__(self, inputs, outputs, name=None, trainable=True, **kwargs):
        if kwargs:
            from ..layers.layer import check_kwargs
            check_kwargs("Model", kwargs, ("inputs", "outputs", "name", "trainable"))
        Layer.__init__(self, name=name or backend.unique_name("model"), trainable=trainable)
        self._init_training_state()
        self._input_struct = inputs
        self._output_struct = outputs
        self._inputs = _tensors(inputs, "inputs")
        self._outputs = _tensors(outputs, "outputs")
        for t in self._inputs:
            if t.node is None or not isinstance(t.node.layer, InputLayer):
                raise ValueError(f"Model: every input must come straight from keras.Input(), but {t!r} was made by "
                                 f"layer {t.node.layer.name if t.node else '?'!r}.")
        self._nodes = self._graph_nodes()
        layers = []
        for node in self._nodes:
            if not any(node.layer is seen for seen in layers):
                layers.append(node.layer)
        names = [layer.name for layer in layers]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"Model {self.name!r}: several layers are named {repeated[0]!r}; layer names in a model "
                             f"must be unique (pass distinct name= values).")
        self._graph_layers = nn.ModuleList(layers)
        self._run_nodes = [n for n in self._nodes if not isinstance(n.layer, InputLayer)]
        self._build_input_shape = [t.shape for t in self._inputs] if len(self._inputs) > 1 else self._inputs[0].shape
        self._output_shape = [t.shape for t in self._outputs] if len(self._outputs) > 1 else self._outputs[0].shape
        self._batch_input_shape = None
        self.built = True

    def _graph_nodes(self):
        """The nodes from the inputs to the outputs, in an order where each node follows its inputs."""
        known = {id(t) for t in self._inputs}
        order, state = [], {}

        def visit(node, needed_by):
            if state.get(id(node)) == "done":
                return
            if state.get(id(node)) == "active":
                raise ValueError(f"Model {self.name!r}: the layer graph has a cycle at layer {node.layer.name!r}.")
            state[id(node)] = "active"
            if isinstance(node.layer, InputLayer):
                tensor = node.outputs[0]
                if id(tensor) not in known:
                    raise ValueError(
                        f"Model {self.name!r}: graph disconnected. Layer {needed_by!r} needs input "
                        f"{node.layer.name!r}, "
                        f"which is not among the model's inputs ({', '.join(t.node.layer.name for t in self._inputs)}"
                        f"). Pass it in `inputs`.")
            for tensor in node.input_tensors:
                if id(tensor) in known:
                    visit(tensor.node, node.layer.name)
                    continue
                if tensor.node is None:
                    raise ValueError(f"Model {self.name!r}: tensor {tensor!r} used by layer {node.layer.name!r} was "
                                     f"not made by a layer or keras.Input.")
                visit(tensor.node, node.layer.name)
            state[id(node)] = "done"
            order.append(node)

        for tensor in self._outputs:
            if tensor.node is None:
                raise ValueError(f"Model {self.name!r}: output {tensor!r} was not made by a layer.")
            visit(tensor.node, "(model output)")
        for tensor in self._inputs:  # inputs that no output needs are still inputs
            if state.get(id(tensor.node)) != "done":
                state[id(tensor.node)] = "done"
                order.insert(0, tensor.node)
        return order

    # -- structure ---------------------------------------------------------------------------
    @property
    def layers(self) -> list[Layer]:
        return list(self._graph_layers)

    @property
    def inputs(self) -> list[KerasTensor]:
        return list(self._inputs)

    @property
    def outputs(self) -> list[KerasTensor]:
        return list(self._outputs)

    @property
    def input_names(self) -> list[str]:
        return [t.node.layer.name for t in self._inputs]

    @property
    def output_names(self) -> list[str]:
        names = []
        for t in self._outputs:
            name = t.node.layer.name
            names.append(name if name not in names else f"{name}_{len(names)}")
        return names

    @property
    def input_shape(self):
        return self._build_input_shape

    @property
    def output_shape(self):
        return self._output_shape

    def _input_dtypes(self):
        return [t.dtype if not t.dtype.is_floating_point else None for t in self._inputs]

    def node_index_in_model(self, node) -> int:
        """A node's index among its layer's nodes that belong to this model (Keras's ``layer[i][j]``)."""
        mine = [n for n in node.layer._inbound_nodes if any(n is m for m in self._nodes)]
        return next(i for i, n in enumerate(mine) if n is node)

    # -- forward -----------------------------------------------------------------------------
    def _flat_inputs(self, inputs):
        if isinstance(inputs, dict):
            missing = [n for n in self.input_names if n not in inputs]
            if missing:
                raise ValueError(f"Model {self.name!r}: the inputs dict has no entry for input(s) {missing}; it has "
                                 f"{sorted(inputs)}.")
            return [inputs[n] for n in self.input_names]
        flat = [inputs] if torch.is_tensor(inputs) else list(flatten(inputs))
        if len(flat) != len(self._inputs):
            raise ValueError(f"Model {self.name!r} expects {len(self._inputs)} input(s) "
                             f"({', '.join(self.input_names)}), got {len(flat)}.")
        return flat

    def _run(self, inputs, training, fused=()):
        values = {id(t): v for t, v in zip(self._inputs, self._flat_inputs(inputs))}
        if creates_masks(self._graph_layers):
            return self._run_masked(values, training, fused)
        for node in self._run_nodes:
            args = map_structure(lambda t: values[id(t)], node.inputs)
            if node in fused:
                out = node.layer.call_without_activation(args)
            else:
                out = node.layer._call(args, training, **node.call_kwargs)
            for tensor, value in zip(node.outputs, flatten(out)):
                values[id(tensor)] = value
        outs = [values[id(t)] for t in self._outputs]
        return outs[0] if len(outs) == 1 else outs

    def _run_masked(self, values, training, fused):
        """``_run`` carrying Keras masks (models with Embedding(mask_zero=True) or Masking): each node gets
        its inputs' masks and records ``compute_mask``'s result for its outputs."""
        masks = {}
        for node in self._run_nodes:
            args = map_structure(lambda t: values[id(t)], node.inputs)
            in_mask = map_structure(lambda t: masks.get(id(t)), node.inputs)
            if node in fused:
                out, out_mask = node.layer.call_without_activation(args), None
            else:
                out, out_mask = call_masked(node.layer, args, training, in_mask, **node.call_kwargs)
            flat_out = list(flatten(out))
            flat_mask = list(out_mask) if isinstance(out_mask, (list, tuple)) else [out_mask] * len(flat_out)
            for tensor, value, mask in zip(node.outputs, flat_out, flat_mask):
                values[id(tensor)] = value
                masks[id(tensor)] = mask
        outs = [values[id(t)] for t in self._outputs]
        return outs[0] if len(outs) == 1 else outs

    def call(self, inputs, training=None):
        return self._run(inputs, bool(training))

    def _forward_function(self, fused_outputs=frozenset()):
        fused = [t.node for i, t in enumerate(self._outputs) if i in fused_outputs]
        return lambda x, training: self._run(x, training, fused)

    def output_is_private(self, index) -> bool:
        """True if output ``index``'s layer is called once and its output feeds nothing else in the model
        (so the loss may take over its final activation)."""
        tensor = self._outputs[index]
        layer = tensor.node.layer
        if len(layer._inbound_nodes) != 1 or isinstance(layer, InputLayer):
            return False
        return not any(tensor is t for node in self._run_nodes for t in node.input_tensors)

    def _chain(self):
        """The layers in order if the model is one input -> layer -> ... -> one output, else None."""
        if len(self._inputs) != 1 or len(self._outputs) != 1:
            return None
        previous = self._inputs[0]
        chain = []
        for node in self._run_nodes:
            if len(node.input_tensors) != 1 or node.input_tensors[0] is not previous or len(node.outputs) != 1 \
                    or node.call_kwargs:
                return None
            chain.append(node.layer)
            previous = node.outputs[0]
        return chain if previous is self._outputs[0] else None

    def _check_inputs(self, x) -> None:
        flat = self._flat_inputs(x)
        for tensor, value, name in zip(self._inputs, flat, self.input_names):
            expected = tensor.shape[1:]
            got = tuple(value.shape[1:])
            if len(got) != len(expected) or any(e is not None and e != g for e, g in zip(expected, got)):
                raise ValueError(f"Model {self.name!r}: input {name!r} expects shape {(None, *expected)}, got "
                                 f"{tuple(value.shape)}.")

    # -- config ------------------------------------------------------------------------------
    def get_config(self) -> dict:
        """Keras's functional config: layers with their ``inbound_nodes``, ``input_layers``, ``output_layers``."""
        from ..saving import serialization
        node_ids = {id(n) for n in self._nodes}

        def ref(tensor):
            node, index = tensor._keras_history
            return [node.layer.name, self.node_index_in_model(node), index]

        layers = []
        for layer in self._graph_layers:
            entry = serialization.serialize_layer(layer)
            entry["name"] = layer.name
            entry["inbound_nodes"] = [
                {"args": map_structure(lambda t: ref(t), node.inputs), "kwargs": node.call_kwargs}
                for node in layer._inbound_nodes if id(node) in node_ids and not isinstance(layer, InputLayer)]
            layers.append(entry)
        return {"name": self.name, "trainable": self.trainable, "layers": layers,
                "input_layers": [ref(t) for t in self._inputs], "output_layers": [ref(t) for t in self._outputs],
                "input_is_list": not isinstance(self._input_struct, KerasTensor),
                "output_is_list": not isinstance(self._output_struct, KerasTensor)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from ..saving import serialization
        if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
            raise ValueError("Model.from_config expects a dict with a 'layers' list (from get_config()).")
        created, tensors, pending = {}, {}, []
        for entry in config["layers"]:
            if not isinstance(entry, dict):
                raise ValueError(f"Model.from_config: a layer entry must be a dict, got {entry!r}.")
            layer = serialization.deserialize(entry, "layer", custom_objects)
            created[layer.name] = layer
            if isinstance(layer, InputLayer):
                tensors[(layer.name, 0, 0)] = layer._inbound_nodes[0].outputs[0]
            nodes = entry.get("inbound_nodes", [])
            if not isinstance(nodes, list):
                raise ValueError(f"Model.from_config: 'inbound_nodes' of layer {layer.name!r} must be a list.")
            pending.extend((layer, i, node) for i, node in enumerate(nodes))

        def lookup(ref):
            if not (isinstance(ref, list) and len(ref) == 3 and isinstance(ref[0], str)):
                raise ValueError(f"Model.from_config: bad tensor reference {ref!r}.")
            return tensors.get((ref[0], ref[1], ref[2]))

        def is_ref(value):
            return isinstance(value, list) and len(value) == 3 and isinstance(value[0], str) \
                and isinstance(value[1], int) and isinstance(value[2], int)

        def resolve(args):
            if is_ref(args):
                return lookup(args)
            if isinstance(args, list):
                return [resolve(a) for a in args]
            raise ValueError(f"Model.from_config: bad node arguments {args!r}.")

        while pending:
            progress = False
            for item in list(pending):
                layer, index, node = item
                if not isinstance(node, dict) or "args" not in node:
                    raise ValueError(f"Model.from_config: bad inbound node {node!r} of layer {layer.name!r}.")
                args = resolve(node["args"])
                if any(a is None for a in flatten(args)):
                    continue
                kwargs = node.get("kwargs") or {}
                outputs = layer(args, **kwargs)
                for j, tensor in enumerate(flatten(outputs)):
                    tensors[(layer.name, index, j)] = tensor
                pending.remove(item)
                progress = True
            if not progress:
                names = sorted({layer.name for layer, _, _ in pending})
                raise ValueError(f"Model.from_config: the inputs of layer(s) {', '.join(names)} cannot be found in the "
                                 f"config.")
        ins = [lookup(r) for r in config.get("input_layers", [])]
        outs = [lookup(r) for r in config.get("output_layers", [])]
        if not ins or not outs or any(t is None for t in ins + outs):
            raise ValueError("Model.from_config: 'input_layers' / 'output_layers' do not name tensors of the graph.")
        return cls(ins if config.get("input_is_list", len(ins) > 1) else ins[0],
                   outs if config.get("output_is_list", len(outs) > 1) else outs[0], name=config.get("name"))


Model.functional_class = Functional
