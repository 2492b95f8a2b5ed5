"""Checks of the CUDA path and mixed precision, for a machine with a GPU (well under five minutes).

    python benchmarks/gpu_check.py

Prints the device, then each check and PASS/FAIL; exits non-zero if any fails. The CUDA tests in
tests/test_distributed.py call the same functions.

* ``cuda equals cpu``: the same model from the same weights, trained by ``fit`` on CPU and on CUDA
  (both engines, same data order), ends with the same weights and history within float32 tolerance.
* ``mixed_float16`` / ``mixed_bfloat16``: ``fit`` trains under the policy (autocast forward and loss,
  float32 weights, the autograd engine), the loss falls and the accuracy rises.
* ``grad scaler skips an inf step``: under ``mixed_float16`` a gradient made infinite at one step
  leaves the weights unchanged at that step and halves the GradScaler's scale; training goes on.
* ``grad scaler state saved``: the loss scale carries over from one fit to the next, ``model.save``
  keeps it and a fit of the loaded model starts from it.
"""

from __future__ import annotations

import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's kerastyle

import kerastyle as keras  # noqa: E402
from kerastyle import backend, mixed_precision  # noqa: E402
from kerastyle.callbacks import Callback  # noqa: E402
from kerastyle.layers import Dense, Input  # noqa: E402


def _data(n=2000, features=20, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    w = rng.normal(size=(features, classes)).astype(np.float32)
    y = (x @ w + 0.3 * rng.normal(size=(n, classes))).argmax(axis=1).astype(np.int64)
    return x, y


def _model(device, weights=None, optimizer="adam"):
    backend.set_device(device)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([Input((20,)), Dense(64, activation="relu"), Dense(64, activation="relu"),
                              Dense(4, activation="softmax")])
    opt = keras.optimizers.Adam(1e-3) if optimizer == "adam" else keras.optimizers.SGD(0.05, momentum=0.9)
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    if weights is not None:
        model.set_weights(weights)
    return model


def check_cuda_equals_cpu():
    x, y = _data()
    for engine in ("analytic", "autograd"):
        cpu = _model("cpu")
        initial = cpu.get_weights()
        keras.utils.set_random_seed(1)
        h_cpu = cpu.fit(x, y, batch_size=64, epochs=3, verbose=0, engine=engine).history
        gpu = _model("cuda", initial)
        keras.utils.set_random_seed(1)
        h_gpu = gpu.fit(x, y, batch_size=64, epochs=3, verbose=0, engine=engine).history
        assert next(gpu.parameters()).device.type == "cuda"
        for name in h_cpu:
            np.testing.assert_allclose(h_gpu[name], h_cpu[name], rtol=1e-4, atol=1e-5, err_msg=f"{engine} {name}")
        for a, b in zip(cpu.get_weights(), gpu.get_weights()):
            np.testing.assert_allclose(b, a, rtol=1e-3, atol=1e-5, err_msg=engine)
    backend.set_device("cuda")


def check_policy_trains(name):
    x, y = _data()
    mixed_precision.set_global_policy(name)
    try:
        model = _model("cuda")
        history = model.fit(x, y, batch_size=64, epochs=5, verbose=0)
        assert history.params["engine"] == "autograd", history.params
        assert all(w.dtype == np.float32 for w in model.get_weights())
        losses, accuracy = history.history["loss"], history.history["accuracy"]
        assert all(math.isfinite(v) for v in losses), losses
        assert losses[-1] < 0.8 * losses[0] and accuracy[-1] > accuracy[0] + 0.1, history.history
    finally:
        mixed_precision.set_global_policy("float32")
        backend.set_device("cuda")


def check_scaler_skips_inf():
    x, y = _data()
    mixed_precision.set_global_policy("mixed_float16")
    try:
        model = _model("cuda", optimizer="sgd")
        kernel = model.layers[0].kernel
        poison = {"on": False}
        kernel.register_hook(lambda g: g * math.inf if poison["on"] else g)
        seen = {}

        class InjectAtStep(Callback):
            def on_train_batch_begin(self, batch, logs=None):
                if batch == 5:
                    poison["on"] = True
                    seen["scale"] = self.model._fit_run.autocast.scaler.get_scale()
                    seen["weights"] = [w.copy() for w in self.model.get_weights()]

            def on_train_batch_end(self, batch, logs=None):
                if batch == 5:
                    poison["on"] = False
                    seen["scale_after"] = self.model._fit_run.autocast.scaler.get_scale()
                    seen["weights_after"] = self.model.get_weights()

        history = model.fit(x, y, batch_size=64, epochs=2, verbose=0, callbacks=[InjectAtStep()])
        for a, b in zip(seen["weights"], seen["weights_after"]):
            np.testing.assert_array_equal(a, b)  # the inf step was skipped
        assert seen["scale_after"] == seen["scale"] / 2, seen
        assert all(math.isfinite(v) for v in history.history["loss"]) and len(history.epoch) == 2
        assert all(np.isfinite(w).all() for w in model.get_weights())
    finally:
        mixed_precision.set_global_policy("float32")


def check_scaler_state_saved():
    """The float16 loss scale goes on from one fit to the next, is saved by ``model.save`` and is
    where a fit of the loaded model starts."""
    x, y = _data()
    mixed_precision.set_global_policy("mixed_float16")
    try:
        model = _model("cuda", optimizer="sgd")
        poison = {"on": False}
        model.layers[0].kernel.register_hook(lambda g: g * math.inf if poison["on"] else g)
        starts = []

        class Probe(Callback):
            def on_train_batch_begin(self, batch, logs=None):
                poison["on"] = batch == 3 and len(starts) == 1  # in the first fit only
                if batch == 0:
                    starts.append(self.model._fit_run.autocast.scaler.get_scale())

        model.fit(x, y, batch_size=64, epochs=1, verbose=0, callbacks=[Probe()])  # 32 steps, step 3 inf
        poison["on"] = False
        first = mixed_precision.scaler_state(model.optimizer)
        assert first["scale"] <= 65536.0 / 2 and 0 < first["_growth_tracker"] <= 28, first
        model.fit(x, y, batch_size=64, epochs=1, verbose=0, callbacks=[Probe()])
        assert starts == [65536.0, first["scale"]], (starts, first)  # the second fit goes on from the first
        second = mixed_precision.scaler_state(model.optimizer)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "m.kerastyle"
            model.save(path)
            loaded = keras.saving.load_model(path)
        assert mixed_precision.scaler_state(loaded.optimizer) == second
        starts.clear()
        starts.append(None)  # no poison in this fit
        loaded.fit(x, y, batch_size=64, epochs=1, verbose=0, callbacks=[Probe()])
        assert starts[1] == second["scale"], (starts, second)
    finally:
        mixed_precision.set_global_policy("float32")


CHECKS = [("cuda equals cpu (analytic and autograd, 3 epochs)", check_cuda_equals_cpu),
          ("mixed_float16 trains", lambda: check_policy_trains("mixed_float16")),
          ("mixed_bfloat16 trains", lambda: check_policy_trains("mixed_bfloat16")),
          ("grad scaler skips an inf step", check_scaler_skips_inf),
          ("grad scaler state saved, restored, kept across fits", check_scaler_state_saved)]


def main() -> int:
    if not torch.cuda.is_available():
        print("CUDA is not available on this machine: nothing to check.")
        return 1
    print(f"device: {torch.cuda.get_device_name(0)} (torch {torch.__version__}, CUDA {torch.version.cuda})")
    failed = 0
    for name, check in CHECKS:
        start = time.perf_counter()
        try:
            check()
            verdict = "PASS"
        except Exception as err:  # report every check, then fail
            verdict = f"FAIL: {type(err).__name__}: {err}"
            failed += 1
        print(f"{name}: {verdict} ({time.perf_counter() - start:.1f} s)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
