"""Training on several processes (kerastyle.distributed, kerastyle.trainers.distributed) and mixed precision.

Independent truth: the same script run as one process. Two ranks join a gloo group through a FileStore
in a temporary folder (spawned processes, one thread each, 60 s collective timeout); a global batch of 15
over 203 samples gives uneven pieces (8 + 7) and a short last batch (8 = 4 + 4). Both ranks must end with
the single process's weights and history (float32 tolerance: the gradient sums are added in another
order), with identical weights on both ranks, files written once and nothing printed by rank 1.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import kerastyle as keras
from kerastyle import distributed, mixed_precision
from kerastyle.trainers import distributed as fit_distributed
from kerastyle.trainers.data_adapters import ArrayData, EpochBatches

ROOT = Path(__file__).resolve().parents[1]
WORKER = ROOT / "tests" / "distributed_worker.py"
CONFIGS = ("analytic_sgd", "analytic_adam", "autograd_sgd", "autograd_adam")
TIMEOUT = 150


def _env(**extra):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "KERASTYLE_DEVICE": "cpu",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]), **extra}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    return env


def _finish(procs):
    outs = []
    for proc in procs:
        try:
            stdout, stderr = proc.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            for p in procs:
                p.kill()
            pytest.fail(f"a worker did not finish within {TIMEOUT}s")
        assert proc.returncode == 0, stderr[-3000:]
        outs.append(stdout)
    return outs


def _load(path):
    with open(path) as handle:
        return json.load(handle)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The single-process reference and the two ranks, run concurrently (all scenarios in each process)."""
    single_dir, multi_dir = tmp_path_factory.mktemp("single"), tmp_path_factory.mktemp("two")
    store = multi_dir / "store"
    procs = [subprocess.Popen([sys.executable, str(WORKER), "all", str(single_dir / "out")], env=_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)]
    procs += [subprocess.Popen([sys.executable, str(WORKER), "all", str(multi_dir / f"out{r}"), str(r), "2",
                                str(store)], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
              for r in range(2)]
    stdouts = _finish(procs)
    return {"single_dir": single_dir, "multi_dir": multi_dir, "single": _load(single_dir / "out.json"),
            "ranks": [_load(multi_dir / f"out{r}.json") for r in range(2)], "stdout": stdouts}


def _weights(path):
    with np.load(path) as f:
        return [f[name] for name in f.files]


def _assert_same_run(reference, other, key):
    assert other["epochs"] == reference["epochs"]
    assert set(other["history"]) == set(reference["history"]) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    for name, values in reference["history"].items():
        np.testing.assert_allclose(other["history"][name], values, rtol=2e-5, atol=1e-6, err_msg=f"{key} {name}")


@pytest.mark.parametrize("key", CONFIGS)
def test_two_ranks_train_like_one_process(runs, key):
    single, (rank0, rank1) = runs["single"]["equivalence"], [r["equivalence"] for r in runs["ranks"]]
    assert [r["world"] for r in runs["ranks"]] == [2, 2] and runs["single"]["world"] == 1
    _assert_same_run(single[key], rank0[key], key)
    assert rank1[key]["history"] == rank0[key]["history"]  # the reduced numbers are the same on every rank
    reference = _weights(runs["single_dir"] / f"out_{key}.npz")
    w0 = _weights(runs["multi_dir"] / f"out0_{key}.npz")
    w1 = _weights(runs["multi_dir"] / f"out1_{key}.npz")
    for a, b, c in zip(reference, w0, w1):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=2e-6)
        np.testing.assert_array_equal(b, c)  # both ranks hold identical weights
    # evaluate shards the data over the ranks and reduces the sums: the single-process values
    for name, value in single[key]["evaluate"].items():
        assert rank0[key]["evaluate"][name] == pytest.approx(value, rel=1e-5)
        assert rank1[key]["evaluate"][name] == rank0[key]["evaluate"][name]


def test_only_rank_zero_prints_and_writes(runs):
    single_out, rank0_out, rank1_out = runs["stdout"]
    assert rank1_out == ""
    assert "Epoch 1/3" in rank0_out and "val_accuracy" in rank0_out
    saves = [r["equivalence"]["saves"] for r in runs["ranks"]]
    assert saves[1] == 0 and saves[0] == runs["single"]["equivalence"]["saves"] > 0
    for key in CONFIGS:
        rows = (runs["multi_dir"] / f"{key}.csv").read_text().splitlines()
        epochs = runs["ranks"][0]["equivalence"][key]["epochs"]
        assert rows[0].split(",")[0] == "epoch" and [r.split(",")[0] for r in rows[1:]] == [str(e) for e in epochs]
        assert (runs["multi_dir"] / f"{key}.kerastyle").exists()


@pytest.mark.parametrize("engine", ["analytic", "autograd"])
def test_nan_on_one_rank_stops_both_at_the_same_step(runs, engine):
    single = runs["single"]["nan"][engine]
    messages = [r["nan"][engine] for r in runs["ranks"]]
    assert "the loss became inf at epoch 1, batch 3 of 14" in single
    assert messages[0] == messages[1]  # rank 0's loss was finite: it learns of rank 1's through the all-reduce
    assert "the loss became nan at epoch 1, batch 3 of 14" in messages[0]


def test_stop_training_on_one_rank_stops_both(runs):
    r0, r1 = [r["stop"] for r in runs["ranks"]]
    assert r0["epochs"] == r1["epochs"] == [0, 1]
    assert r0["loss"] == r1["loss"]
    for a, b in zip(_weights(runs["multi_dir"] / "out0_stop.npz"), _weights(runs["multi_dir"] / "out1_stop.npz")):
        np.testing.assert_array_equal(a, b)


def test_unequal_step_counts_fail_fast_on_every_rank(runs):
    errors = [r["steps"]["error"] for r in runs["ranks"]]
    assert errors[0] == errors[1]
    assert "same number of steps_per_epoch" in errors[0] and "{0: 10, 1: 11}" in errors[0]
    assert runs["single"]["steps"]["error"] is None  # nothing to compare on one process


def test_torchrun_runs_the_unchanged_script(runs, tmp_path):
    """The worker through torchrun (no FileStore, no code for it): fit finds torchrun's environment."""
    env = _env(WORKER_CONFIGS="analytic_sgd,autograd_adam")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", str(WORKER),
               "equivalence", str(tmp_path / "out")]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    _finish([proc])
    ranks = [_load(tmp_path / f"out{r}.json") for r in range(2)]
    assert [r["world"] for r in ranks] == [2, 2]
    single = runs["single"]["equivalence"]
    for key in ("analytic_sgd", "autograd_adam"):
        _assert_same_run(single[key], ranks[0][key], key)
        assert ranks[1][key]["history"] == ranks[0][key]["history"]
        for a, b in zip(_weights(runs["single_dir"] / f"out_{key}.npz"), _weights(tmp_path / f"out0_{key}.npz")):
            np.testing.assert_allclose(b, a, rtol=1e-4, atol=2e-6)


# -- the pieces, in this process --------------------------------------------------------------------
@pytest.mark.parametrize("size,world", [(15, 2), (8, 2), (7, 4), (3, 3), (1, 2)])
def test_pieces_are_contiguous_and_cover_the_batch(size, world):
    pieces = [fit_distributed.piece(size, r, world) for r in range(world)]
    assert [start for start, _ in pieces] == [sum(length for _, length in pieces[:r]) for r in range(world)]
    assert sum(length for _, length in pieces) == size
    assert max(length for _, length in pieces) - min(length for _, length in pieces) <= 1


def test_sharded_batches_cover_each_epoch_once_with_exact_scales():
    n, batch, world = 203, 15, 4
    data = ArrayData([torch.arange(n, dtype=torch.float32)[:, None]], [torch.arange(n)])
    order = torch.randperm(n)
    seen, steps = [], None
    for rank in range(world):
        batches = fit_distributed.ShardedBatches(data, batch, True, rank, world)
        assert batches.steps == math.ceil(n / batch) and batches.n == n
        pieces = [xb[:, 0].long() for xb, _, _ in batches.new_epoch(order)]
        steps = steps or len(pieces)
        assert len(pieces) == steps
        seen.append(pieces)
        for (xb, yb, _), size in zip(batches.new_epoch(order), batches.sizes):
            assert xb.shape[0] == yb.shape[0] == size
    for k in range(steps):
        global_batch = torch.cat([seen[r][k] for r in range(world)])
        np.testing.assert_array_equal(global_batch.numpy(), order[k * batch:(k + 1) * batch].numpy())
    # the scales: world * piece / batch, so that the averaged gradients weigh each sample 1 / batch
    last = n - (steps - 1) * batch
    sizes = [fit_distributed.piece(last, r, world)[1] for r in range(world)]
    scales = [fit_distributed.ShardedBatches(data, batch, True, r, world).scales[-1] for r in range(world)]
    assert scales == pytest.approx([world * s / last for s in sizes])
    assert sum(scales) / world == pytest.approx(1.0)


def test_epoch_order_is_one_seeded_randperm():
    a = fit_distributed.epoch_order(50, 123, 2)
    assert torch.equal(a, fit_distributed.epoch_order(50, 123, 2))
    assert not torch.equal(a, fit_distributed.epoch_order(50, 123, 3))
    assert sorted(a.tolist()) == list(range(50))


def _tiny_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.layers.Input((4,)), keras.layers.Dense(5, activation="relu"),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_same_seed_same_order_and_order_goes_on_across_fits():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 4)).astype(np.float32), rng.integers(0, 2, 40)
    one = _tiny_model()
    one.fit(x, y, batch_size=8, epochs=3, verbose=0)
    split = _tiny_model()
    for epoch in range(3):
        split.fit(x, y, batch_size=8, epochs=epoch + 1, initial_epoch=epoch, verbose=0)
    for a, b in zip(one.get_weights(), split.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_argument_checks_and_single_process_queries(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert (distributed.rank(), distributed.world_size(), distributed.local_rank()) == (0, 1, 0)
    assert distributed.is_chief() and not distributed.is_distributed() and not distributed.init()
    distributed.barrier()  # nothing to wait for
    model = _tiny_model()
    x, y = np.zeros((6, 4), np.float32), np.zeros(6, np.int64)
    with pytest.raises(ValueError, match="`distribute` must be 'auto', True or False, got 'yes'"):
        model.fit(x, y, distribute="yes", verbose=0)
    with pytest.raises(ValueError, match="distribute=True\\) needs several processes"):
        model.fit(x, y, distribute=True, verbose=0)
    model.fit(x, y, distribute=False, verbose=0, epochs=1)
    with pytest.raises(ValueError, match="`seconds` must be a number > 0, got 0"):
        distributed.set_timeout(0)
    monkeypatch.setenv("KERASTYLE_DIST_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="KERASTYLE_DIST_TIMEOUT must be a number of seconds > 0, got 'soon'"):
        distributed.timeout()
    monkeypatch.setenv("KERASTYLE_DIST_TIMEOUT", "12.5")
    assert distributed.timeout() == 12.5


def test_torchrun_environment_is_read_before_the_group_exists(monkeypatch):
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("MASTER_ADDR", "localhost")
    monkeypatch.setenv("MASTER_PORT", "29500")
    assert distributed.launched_by_torchrun()
    assert (distributed.rank(), distributed.world_size(), distributed.local_rank()) == (3, 4, 1)
    assert not distributed.is_chief()


def test_global_batch_smaller_than_world_is_refused():
    run = fit_distributed.FitRun(_tiny_model(), False)
    run.multi, run.world, run.rank = True, 4, 0
    data = ArrayData([torch.zeros(10, 4)], [torch.zeros(10, dtype=torch.long)])
    with pytest.raises(ValueError, match=r"`batch_size` \(3\) is the global batch size and must be at least the "
                                         r"number of processes \(world size 4\)"):
        run.batches_for(EpochBatches(data, 3, True), 3, True)


# -- mixed precision ---------------------------------------------------------------------------
@pytest.fixture
def policy():
    yield mixed_precision
    mixed_precision.set_global_policy("float32")


def test_policy_names_and_errors(policy):
    assert policy.global_policy().name == "float32"
    policy.set_global_policy("mixed_bfloat16")
    current = policy.global_policy()
    assert (current.name, current.compute_dtype, current.variable_dtype) == ("mixed_bfloat16", "bfloat16", "float32")
    policy.set_global_policy(policy.Policy("mixed_float16"))
    assert policy.global_policy().compute_dtype == "float16"
    with pytest.raises(ValueError, match="must be one of 'float32', 'mixed_float16', 'mixed_bfloat16', got 'half'"):
        policy.set_global_policy("half")
    with pytest.raises(TypeError, match="got int"):
        policy.set_global_policy(16)


def test_bfloat16_trains_on_cpu_with_float32_weights(policy):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    policy.set_global_policy("mixed_bfloat16")
    model = _tiny_model()
    before = model.evaluate(x, y, verbose=0)
    history = model.fit(x, y, batch_size=16, epochs=5, verbose=0)
    assert history.params["engine"] == "autograd"  # 'auto' falls back: the analytic engine is float32 only
    assert "analytic engine computes in float32 only" in history.params["analytic_unsupported"]
    assert all(w.dtype == np.float32 for w in model.get_weights())
    assert history.history["loss"][-1] < history.history["loss"][0] and model.evaluate(x, y, verbose=0) < before
    with pytest.raises(ValueError, match="mixed precision policy 'mixed_bfloat16' is active and the analytic engine "
                                         "computes in float32 only"):
        model.fit(x, y, epochs=1, verbose=0, engine="analytic")


def test_float16_needs_cuda(policy):
    if torch.cuda.is_available() and keras.backend.get_device().type == "cuda":
        pytest.skip("this machine trains on CUDA")
    policy.set_global_policy("mixed_float16")
    model = _tiny_model()
    with pytest.raises(ValueError, match="'mixed_float16' needs a CUDA device .* on CPU use 'mixed_bfloat16'"):
        model.fit(np.zeros((4, 4), np.float32), np.zeros(4, np.int64), verbose=0)


# -- CUDA (skipped without a GPU; benchmarks/gpu_check.py runs the same checks as a script) ---------------
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@cuda
def test_cuda_fit_equals_cpu_fit():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import gpu_check
    gpu_check.check_cuda_equals_cpu()


@cuda
@pytest.mark.parametrize("name", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_policies_train_on_cuda(policy, name):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import gpu_check
    gpu_check.check_policy_trains(name)


@cuda
def test_grad_scaler_skips_an_inf_step(policy):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import gpu_check
    gpu_check.check_scaler_skips_inf()
