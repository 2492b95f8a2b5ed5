"""How a model's outputs meet their losses and metrics, decided once per ``compile``.

One ``OutputSpec`` per output: its loss, loss weight and metrics, and whether the loss absorbs the
output layer's final activation (softmax for categorical losses, sigmoid for binary ones): then the
model runs that layer without its activation (``fused``) and the loss works on logits, which is
faster and more accurate. The total training loss is Keras's: ``sum_i weight_i * loss_i`` plus the
weight-regularization penalties and ``add_loss`` terms.
"""

from __future__ import annotations

from torch import nn

from .. import losses as losses_module
from .. import metrics as metrics_module


class OutputSpec:
    """One model output: ``name``, ``loss``, loss ``weight``, ``metrics``, ``fused`` activation."""

    def __init__(self, name, loss, weight, metrics, shape):
        self.name, self.loss, self.weight, self.metrics, self.shape = name, loss, weight, metrics, shape
        self.fused = False
        self.activation = None  # the absorbed activation module (to turn logits into probabilities)

    def __repr__(self):
        return f"<OutputSpec {self.name!r} loss={self.loss.name!r} weight={self.weight} fused={self.fused}>"


def _per_output(value, names, arg, default):
    """One entry per output from a single value (shared), a list (output order) or a dict (output names)."""
    n = len(names)
    if value is None:
        return [default] * n
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise ValueError(f"compile(): argument `{arg}` has key(s) {unknown} that are not output names; the "
                             f"outputs are {names}.")
        return [value.get(name, default) for name in names]
    if isinstance(value, (list, tuple)) and (arg != "metrics" or n > 1 and value
                                             and all(isinstance(v, (list, tuple, type(None))) for v in value)):
        if len(value) != n:
            raise ValueError(f"compile(): argument `{arg}` has {len(value)} entries, but the model has {n} output(s) "
                             f"({', '.join(names)}).")
        return list(value)
    return [value] * n


class OutputPlan:
    """Losses, weights, metrics and fusing for each output of a built, compiled model."""

    def __init__(self, model, loss, loss_weights, metrics):
        names = model.output_names
        shapes = model._output_tensors_shapes()
        losses = _per_output(loss, names, "loss", None)
        weights = _per_output(loss_weights, names, "loss_weights", 1.0)
        metric_lists = _per_output(metrics, names, "metrics", None)
        self.outputs = []
        for name, shape, loss_id, weight, metric_ids in zip(names, shapes, losses, weights, metric_lists):
            if loss_id is None:
                raise ValueError(f"compile(): output {name!r} has no loss; give one for every output.")
            loss_obj = losses_module.get(loss_id)
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) and not hasattr(weight, "__float__"):
                raise ValueError(f"compile(): loss weight for output {name!r} must be a number, got {weight!r}.")
            if metric_ids is not None and not isinstance(metric_ids, (list, tuple)):
                metric_ids = [metric_ids]
            metric_objs = [metrics_module.get(m, loss_obj, shape[-1] if shape else None) for m in metric_ids or []]
            found = [m.name for m in metric_objs]
            if len(set(found)) != len(found) or "loss" in found:
                raise ValueError(f"Argument `metrics` has repeated names or 'loss': {found}.")
            self.outputs.append(OutputSpec(name, loss_obj, float(weight), metric_objs, shape))
        self.single = len(self.outputs) == 1
        self._fuse(model)
        self.forward = model._forward_function(frozenset(i for i, o in enumerate(self.outputs) if o.fused))

    def _fuse(self, model):
        for index, spec in enumerate(self.outputs):
            layer = _output_layer(model, index)
            loss = spec.loss
            wanted = {"softmax": nn.Softmax, "sigmoid": nn.Sigmoid}.get(getattr(loss, "logits_activation", None))
            if layer is None or wanted is None or loss.from_logits or not hasattr(layer, "call_without_activation"):
                continue
            activation = getattr(layer, "activation", None)
            if not isinstance(activation, wanted):
                continue
            if wanted is nn.Softmax and activation.dim not in (-1, len(spec.shape) - 1):
                continue
            spec.fused, spec.activation = True, activation

    @property
    def fused(self) -> bool:
        """For single-output models: whether the loss works on logits."""
        return self.outputs[0].fused

    @property
    def loss(self):
        return self.outputs[0].loss

    def total_loss(self, y, out, sample_weight):
        """Keras's weighted sum of the output losses; ``(total, [loss_i])``."""
        if self.single:
            spec = self.outputs[0]
            value = spec.loss.reduce(spec.loss.per_sample(y, out, spec.fused), sample_weight)
            return (value if spec.weight == 1.0 else value * spec.weight), None
        parts = []
        total = 0.0
        for i, spec in enumerate(self.outputs):
            weights = None if sample_weight is None else sample_weight[i]
            value = spec.loss.reduce(spec.loss.per_sample(y[i], out[i], spec.fused), weights)
            parts.append(value)
            total = total + spec.weight * value
        return total, parts

    def probabilities(self, index, out):
        """The output as the model returns it (the activation applied again where the loss absorbed it)."""
        spec = self.outputs[index]
        return spec.activation(out) if spec.fused else out

    def metric_log_names(self) -> list[str]:
        """Log keys: ``<metric>`` for one output; ``<output>_loss`` then ``<output>_<metric>`` for several."""
        if self.single:
            return [m.name for m in self.outputs[0].metrics]
        return [f"{o.name}_loss" for o in self.outputs] + [f"{o.name}_{m.name}" for o in self.outputs
                                                          for m in o.metrics]


def _output_layer(model, index):
    """The layer whose activation the loss may absorb, or None when that is not safe."""
    layers = getattr(model, "_stack", None)
    if layers is not None:
        return layers[-1] if len(layers) else None
    if hasattr(model, "output_is_private") and model.output_is_private(index):
        return model._outputs[index].node.layer
    return None
