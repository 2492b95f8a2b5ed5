"""The GradScaler of mixed_float16 training belongs to the optimizer: saved with its state by
``model.save`` and in backups, restored on load, kept from one fit to the next.

``mixed_float16`` needs CUDA, so on CPU these tests check the plumbing with a stand-in: a real
``torch.amp.GradScaler('cpu')`` attached to the optimizer the way ``fit`` attaches its CUDA one
(``mixed_precision.grad_scaler``), driven into a known state by real scaled steps (an inf step halves
the scale; each finite step counts towards growth: GradScaler's documented rules). The CUDA path
itself is checked by ``benchmarks/gpu_check.py`` (``check_scaler_state_saved``) and the CUDA test below.
"""

from __future__ import annotations

import json
import math
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

import kerastyle as keras
from kerastyle import mixed_precision, saving
from kerastyle.saving.file_format import SavedFileError, pack

ROOT = Path(__file__).resolve().parents[1]


def _model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.layers.Input((4,)), keras.layers.Dense(3, activation="relu"),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    return model


def _drive(model, steps, inf_at):
    """Real scaled training steps through the optimizer's (stand-in CPU) scaler; step ``inf_at``'s
    gradients are poisoned with inf."""
    scaler = mixed_precision.grad_scaler(model.optimizer, "cpu")
    x = torch.randn(8, 4)
    y = torch.zeros(8, dtype=torch.long)
    for step in range(steps):
        model.optimizer.zero_grad()
        loss = torch.nn.functional.nll_loss(torch.log(model(x) + 1e-7), y)
        scaler.scale(loss).backward()
        if step == inf_at:
            next(iter(model.parameters())).grad.view(-1)[0] = math.inf
        scaler.step(model.optimizer)
        scaler.update()
    return scaler


EXPECTED = {"scale": 65536.0 / 2, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 2000,
            "_growth_tracker": 3}  # torch's defaults; one inf step (halves), then 3 finite steps counted


def test_model_save_keeps_the_scaler_state_and_load_restores_it(tmp_path):
    model = _model()
    scaler = _drive(model, 5, inf_at=1)
    assert mixed_precision.scaler_state(model.optimizer) == EXPECTED == scaler.state_dict()
    path = tmp_path / "m.kerastyle"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        assert json.loads(archive.read("optimizer.json"))["grad_scaler"] == EXPECTED

    loaded = saving.load_model(path)
    assert mixed_precision.scaler_state(loaded.optimizer) == EXPECTED  # waiting for the scaler to be made
    made = mixed_precision.grad_scaler(loaded.optimizer, "cpu")  # what fit does on its first float16 step
    assert made is not scaler and made.state_dict() == EXPECTED
    assert mixed_precision.grad_scaler(loaded.optimizer, "cpu") is made  # kept: the next fit goes on from it
    # the restored scaler behaves like the saved one: the same next steps give the same state
    _drive(model, 2, inf_at=0)
    _drive(loaded, 2, inf_at=0)
    assert made.state_dict() == scaler.state_dict() == {**EXPECTED, "scale": EXPECTED["scale"] / 2,
                                                        "_growth_tracker": 1}


def test_a_new_optimizer_starts_a_new_scaler_and_float32_files_hold_none(tmp_path):
    model = _model()
    assert mixed_precision.scaler_state(model.optimizer) is None
    model.save(tmp_path / "plain.kerastyle")
    with zipfile.ZipFile(tmp_path / "plain.kerastyle") as archive:
        assert "grad_scaler" not in json.loads(archive.read("optimizer.json"))
    first = mixed_precision.grad_scaler(model.optimizer, "cpu")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")  # as Keras: a new LossScaleOptimizer
    assert mixed_precision.grad_scaler(model.optimizer, "cpu") is not first


def test_backups_restore_the_scaler_into_the_live_one(tmp_path):
    """BackupAndRestore installs the backup after fit made its scaler: the live scaler takes the state."""
    model = _model()
    _drive(model, 5, inf_at=1)
    history = keras.callbacks.History()
    history.epoch, history.history = [0], {"loss": [1.0]}
    saving.write_backup(model, tmp_path / "backup.kerastyle", 1, history)

    other = _model()
    live = _drive(other, 1, inf_at=None)  # a fit in progress, its scaler in another state
    assert live.state_dict() != EXPECTED
    target = keras.callbacks.History()
    assert saving.restore_backup(other, tmp_path / "backup.kerastyle", target) == 1
    assert live.state_dict() == EXPECTED and mixed_precision.grad_scaler(other.optimizer, "cpu") is live


def _with_scaler_state(path, state):
    """Rewrite the file at ``path`` with ``state`` as its GradScaler state (a well-formed container with
    a valid checksum: only the entry is bad)."""
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    doc = json.loads(entries["optimizer.json"])
    doc["grad_scaler"] = state
    entries["optimizer.json"] = json.dumps(doc).encode()
    path.write_bytes(pack(entries))


@pytest.mark.parametrize("bad,message", [
    ({**EXPECTED, "scale": -1.0}, "GradScaler state out of range"),
    ({**EXPECTED, "scale": "big"}, "GradScaler `scale` must be a number, got 'big'"),
    ({**EXPECTED, "_growth_tracker": 1.5}, "GradScaler `_growth_tracker` must be an integer, got 1.5"),
    ({"scale": 2.0}, "the GradScaler state must have the keys"),
])
def test_a_malformed_scaler_state_is_refused_and_nothing_is_loaded(tmp_path, bad, message):
    model = _model()
    _drive(model, 5, inf_at=1)
    model.save(tmp_path / "m.kerastyle")
    _with_scaler_state(tmp_path / "m.kerastyle", bad)
    with pytest.raises(SavedFileError, match=rf"optimizer.json: {message}.*Nothing was loaded"):
        saving.load_model(tmp_path / "m.kerastyle")

    history = keras.callbacks.History()
    history.epoch, history.history = [0], {"loss": [1.0]}
    saving.write_backup(model, tmp_path / "backup.kerastyle", 1, history)
    _with_scaler_state(tmp_path / "backup.kerastyle", bad)
    other = _model()
    live = _drive(other, 1, inf_at=None)
    before, state = [w.copy() for w in other.get_weights()], live.state_dict()
    with pytest.raises(SavedFileError, match=rf"optimizer.json: {message}.*Nothing was loaded"):
        saving.restore_backup(other, tmp_path / "backup.kerastyle", keras.callbacks.History())
    for a, b in zip(before, other.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert live.state_dict() == state


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (mixed_float16)")
def test_cuda_scaler_state_survives_save_load_and_goes_on_across_fits():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import gpu_check
    gpu_check.check_scaler_state_saved()
