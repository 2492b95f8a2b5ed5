"""The autograd engine: gradients by ``torch.autograd``. The reference engine; trains any model."""

from __future__ import annotations

from ..layers.layer import collect_losses


class AutogradEngine:
    """One training step's forward pass, loss and backward pass, with gradients left in ``.grad``."""

    name = "autograd"
    stable_grads = False  # autograd makes new .grad tensors every step

    def __init__(self, model, plan):
        self.forward = plan.forward
        self.total_loss = plan.total_loss
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.penalties = model._all_regularizers()
        self.parts = None

    def forward_backward(self, x, y, sample_weight):
        """``(loss, outputs)`` for one batch, detached; with several outputs their losses are in ``self.parts``."""
        for p in self.params:
            p.grad = None
        with collect_losses() as extra:
            out = self.forward(x, True)
        loss, parts = self.total_loss(y, out, sample_weight)
        for param, regularizer in self.penalties:
            loss = loss + regularizer(param)
        for term in extra:
            loss = loss + term
        if self.params:  # a fully frozen model has nothing to differentiate
            loss.backward()
        if parts is not None:
            self.parts = [p.detach() for p in parts]
        return loss.detach(), out.detach() if not isinstance(out, list) else [o.detach() for o in out]
