"""The autograd engine: gradients by ``torch.autograd``. The reference engine; trains any model."""

from __future__ import annotations

from ..layers.layer import collect_losses


class AutogradEngine:
    """One training step's forward pass, loss and backward pass, with gradients left in ``.grad``.

    Hooks set once per fit by other modules (None in a plain float32, single-process fit):
    ``loss_scale`` (kerastyle.trainers.distributed: this process's share of the global batch; the
    data loss is multiplied by it before ``backward``, weight penalties are not), ``autocast`` and
    ``grad_scaler`` (kerastyle.mixed_precision). ``forward`` may be replaced by a DDP-wrapped one."""

    name = "autograd"
    stable_grads = False  # autograd makes new .grad tensors every step

    def __init__(self, model, plan):
        self.forward = plan.forward
        self.total_loss = plan.total_loss
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.penalties = model._all_regularizers()
        self.parts = None
        self.loss_scale = None
        self.autocast = None
        self.grad_scaler = None
        self.nonfinite_marker = None

    def _losses(self, x, y, sample_weight):
        with collect_losses() as extra:
            out = self.forward(x, True)
        data, parts = self.total_loss(y, out, sample_weight)
        terms = [regularizer(param) for param, regularizer in self.penalties]
        terms.extend(extra)
        return data, terms, out, parts

    def forward_backward(self, x, y, sample_weight):
        """``(loss, outputs)`` for one batch, detached; with several outputs their losses are in ``self.parts``."""
        for p in self.params:
            p.grad = None
        if self.autocast is None:
            data, terms, out, parts = self._losses(x, y, sample_weight)
        else:
            with self.autocast():
                data, terms, out, parts = self._losses(x, y, sample_weight)
        loss = data
        for term in terms:
            loss = loss + term
        if self.params:  # a fully frozen model has nothing to differentiate
            target = loss
            if self.loss_scale is not None:
                target = data * self.loss_scale
                for term in terms:
                    target = target + term
            if self.nonfinite_marker is not None:
                target = target + self.nonfinite_marker(loss)
            if self.grad_scaler is not None:
                target = self.grad_scaler.scale(target)
            target.backward()
        if parts is not None:
            self.parts = [p.detach() for p in parts]
        return loss.detach(), out.detach() if not isinstance(out, list) else [o.detach() for o in out]
