"""Packed parameters, gradients and optimizer slots (kerastyle/packing.py) and the whole-buffer
optimizer update they allow.

Independent truth: the unpacked per-tensor update (``apply_gradients``, checked against Keras's
formulas in test_optimizers.py) on a copy of the same tensors: the packed update must give the same
bits, step after step, for every optimizer and option.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from kerastyle import backprop, packing
from kerastyle.layers import Dense, Input
from kerastyle.models import Sequential
from kerastyle.optimizers import SGD, Adagrad, Adam, RMSprop


def _kernel_like(rows, cols):
    """A (rows, cols) tensor stored transposed, as a Dense weight is."""
    return torch.randn(cols, rows).t()


def test_is_dense():
    assert packing.is_dense(torch.zeros(3, 4))
    assert packing.is_dense(torch.zeros(3, 4).t())
    assert packing.is_dense(torch.zeros(1, 5)[:, ::1])
    assert not packing.is_dense(torch.zeros(3, 4)[:, :2])
    assert not packing.is_dense(torch.zeros(6)[::2])
    assert not packing.is_dense(torch.zeros(3).expand(2, 3))


def test_pack_moves_tensors_end_to_end_keeping_values_shapes_and_strides():
    params = [torch.nn.Parameter(_kernel_like(4, 3)), torch.nn.Parameter(torch.randn(4)),
              torch.nn.Parameter(torch.randn(2, 4))]
    before = [p.detach().clone() for p in params]
    strides = [p.stride() for p in params]
    assert packing.flat_view(params) is None  # separate allocations
    flat = packing.pack(params)
    assert flat.shape == (12 + 4 + 8,)
    for p, b, s in zip(params, before, strides):
        assert torch.equal(p.detach(), b) and p.stride() == s and isinstance(p, torch.nn.Parameter)
    assert packing.flat_view(params) is not None
    # the flat view and the tensors are the same memory
    with torch.no_grad():
        flat.detach().add_(1.0)
    assert torch.equal(params[1].detach(), before[1] + 1.0)
    # packing again is a no-op on the same memory
    assert packing.pack(params).data_ptr() == flat.data_ptr()


def test_pack_like_gives_the_layout_of_another_list():
    params = [_kernel_like(4, 3), torch.randn(4)]
    slots = [torch.randn(4, 3), torch.randn(4)]  # contiguous, as loaded from a file
    values = [s.clone() for s in slots]
    packing.pack(slots, like=params)
    assert packing.same_layout(slots, params) and packing.flat_view(slots) is not None
    assert all(torch.equal(s, v) for s, v in zip(slots, values))
    with pytest.raises(ValueError, match="equal shapes"):
        packing.pack([torch.zeros(2)], like=[torch.zeros(3)])


def test_zeros_like_packed_lines_up_with_the_tensors():
    params = [_kernel_like(5, 2), torch.randn(5)]
    flat, views = packing.zeros_like_packed(params)
    assert packing.same_layout(params, views) and flat.abs().sum() == 0
    assert packing.flat_view(views).data_ptr() == flat.data_ptr()


def test_packable_refuses_mixed_dtypes_and_gaps():
    assert packing.packable([torch.zeros(2), torch.zeros(3, 2).t()])
    assert not packing.packable([torch.zeros(2), torch.zeros(2, dtype=torch.float64)])
    assert not packing.packable([torch.zeros(4, 4)[:, :2]])
    assert not packing.packable([])


OPTIMIZERS = [
    lambda: SGD(0.05),
    lambda: SGD(0.05, momentum=0.9),
    lambda: SGD(0.05, momentum=0.9, nesterov=True, decay=0.01),
    lambda: SGD(0.05, momentum=0.5, weight_decay=0.1),
    lambda: Adam(0.01),
    lambda: Adam(0.01, amsgrad=True, weight_decay=0.01),
    lambda: RMSprop(0.01),
    lambda: RMSprop(0.01, momentum=0.9, centered=True),
    lambda: Adagrad(0.1),
]


def _twin_params(packed):
    torch.manual_seed(1)
    params = [torch.nn.Parameter(_kernel_like(6, 5)), torch.nn.Parameter(torch.randn(6)),
              torch.nn.Parameter(_kernel_like(3, 6)), torch.nn.Parameter(torch.randn(3))]
    if packed:
        packing.pack(params)
        _, grads = packing.zeros_like_packed(params)
    else:
        grads = [torch.zeros_like(p) for p in params]
    for p, g in zip(params, grads):
        p.grad = g
    return params


@pytest.mark.parametrize("make", OPTIMIZERS)
def test_packed_update_gives_the_same_bits_as_the_per_tensor_update(make):
    packed, plain = _twin_params(True), _twin_params(False)
    opt_packed, opt_plain = make().build(packed), make().build(plain)
    update = opt_packed.update_function(stable_grads=True)
    assert update != opt_packed.apply_gradients  # the packed path was chosen
    assert opt_plain.update_function(stable_grads=True) == opt_plain.apply_gradients  # nothing to pack
    gen = torch.Generator().manual_seed(2)
    for _ in range(6):
        for a, b in zip(packed, plain):
            g = torch.randn(a.shape, generator=gen)
            a.grad.copy_(g)
            b.grad.copy_(g)
        update()
        opt_plain.apply_gradients()
    for a, b in zip(packed, plain):
        assert torch.equal(a.detach(), b.detach())
        for name, value in opt_plain.state[b].items():
            assert torch.equal(opt_packed.state[a][name], value), name
    # the per-parameter slots are views of one packed buffer laid out as the parameters
    for name in opt_plain.state[plain[0]]:
        slots = [opt_packed.state[p][name] for p in packed]
        assert packing.flat_view(slots) is not None and packing.same_layout(slots, packed)
    assert opt_packed.iterations == opt_plain.iterations == 6


def test_packed_update_follows_optimizer_state_loaded_mid_run():
    packed, plain = _twin_params(True), _twin_params(False)
    opt_packed = SGD(0.1, momentum=0.9).build(packed)
    opt_plain = SGD(0.1, momentum=0.9).build(plain)
    update = opt_packed.update_function(stable_grads=True)
    for p in packed + plain:
        p.grad.fill_(1.0)
    update()
    opt_plain.apply_gradients()
    # replace the state from outside (as load_state_dict does): new, unpacked slot tensors
    state = copy.deepcopy(opt_plain.state_dict())
    for entry in state["state"].values():
        entry["momentum"] = entry["momentum"] * 3.0
    opt_packed.load_state_dict(copy.deepcopy(state))
    opt_plain.load_state_dict(state)
    update()
    opt_plain.apply_gradients()
    for a, b in zip(packed, plain):
        assert torch.equal(a.detach(), b.detach())
        assert torch.equal(opt_packed.state[a]["momentum"], opt_plain.state[b]["momentum"])


def test_unpacked_gradients_fall_back_to_the_per_tensor_update():
    params = _twin_params(True)
    params[1].grad = torch.zeros_like(params[1])  # a gradient outside the packed buffer
    opt = SGD(0.1, momentum=0.9).build(params)
    assert opt.update_function(stable_grads=True) == opt.apply_gradients
    params[1].grad = None
    assert opt.update_function(stable_grads=True) == opt.apply_gradients


def _model():
    model = Sequential([Input(shape=(8,)), Dense(6, activation="relu"), Dense(3, activation="softmax")])
    model.compile(optimizer=SGD(0.1, momentum=0.9), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_dense_keeps_its_kernel_in_keras_layout():
    model = _model()
    dense = model.to_torch()[0]
    assert dense.kernel.shape == (8, 6) and dense.kernel.is_contiguous()  # Keras's (in, out), row-major
    np.testing.assert_array_equal(model.get_weights()[0], dense.kernel.detach().numpy())
    x = torch.randn(5, 8)
    expected = np.maximum(x.numpy() @ model.get_weights()[0] + model.get_weights()[1], 0)  # the layer's relu
    np.testing.assert_allclose(model.to_torch()[0](x).detach().numpy(), expected, rtol=1e-6, atol=1e-6)


def test_analytic_fit_packs_weights_gradients_and_slots_and_stays_correct():
    x, y = torch.randn(64, 8), torch.randint(0, 3, (64,))
    model = _model()
    twin = _model()
    twin.set_weights(model.get_weights())
    # the twin trains unpacked: same engine arithmetic, per-tensor optimizer update
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False, engine="analytic")
    params = list(model.to_torch().parameters())
    assert packing.flat_view(params) is not None
    assert packing.flat_view([p.grad for p in params]) is not None
    assert packing.flat_view([model.optimizer.state[p]["momentum"] for p in params]) is not None

    plan = twin._compile_outputs()
    engine = backprop.AnalyticEngine(twin, plan)
    for _epoch in range(2):
        for start in range(0, 64, 16):
            engine.forward_backward(x[start:start + 16], y[start:start + 16], None)
            twin.optimizer.apply_gradients()
    for a, b in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_fit_repacks_weights_that_were_moved():
    x, y = torch.randn(32, 8), torch.randint(0, 3, (32,))
    model = _model()
    model.fit(x, y, verbose=0, engine="analytic")
    dense = model.to_torch()[0]
    dense.kernel.data = dense.kernel.data.clone()  # unpacked, as .to(...) or user code may do
    assert packing.flat_view(list(model.to_torch().parameters())) is None
    history = model.fit(x, y, epochs=2, verbose=0, engine="analytic")
    assert packing.flat_view(list(model.to_torch().parameters())) is not None
    assert np.isfinite(history.history["loss"]).all()
