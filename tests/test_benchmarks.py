"""The benchmark scripts run end to end on a slice of the real data and report consistent figures.

Speed itself is never asserted (it depends on the machine); what is checked: the scripts run, the
printed ratios are the quotients of the printed times, and kerastyle and the plain PyTorch loop,
started from the same weights and shuffled alike, reach the same test accuracy.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from test_examples import DATA, HAVE_FASHION, ROOT

pytestmark = pytest.mark.skipif(not HAVE_FASHION, reason=f"Fashion-MNIST not found under {DATA}")


def run_script(name, *args):
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / name), "--data", str(DATA), "--threads", "1",
                           *args], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def test_fit_speed_table_and_paired_ratios(tmp_path):
    out = run_script("fit_speed.py", "--models", "784-128-10", "--batch-sizes", "128", "--train-size", "3000",
                     "--epochs", "2", "--runs", "analytic", "torch", "--paired", "--json", str(tmp_path / "r.json"))
    rows = {row["run"]: row for row in json.loads((tmp_path / "r.json").read_text())}
    assert set(rows) == {"analytic", "torch", "paired-analytic"}
    analytic, plain, paired = rows["analytic"], rows["torch"], rows["paired-analytic"]
    assert analytic["engine"] == "analytic" and len(analytic["all_epochs_s"]) == 3  # warm-up + 2
    # The table's ratio is the quotient of the two epoch times it prints.
    printed = float(re.search(r"\| kerastyle analytic\s+\|\s+[\d.]+ \|\s+([\d.]+)x", out).group(1))
    assert printed == pytest.approx(analytic["epoch_s"] / plain["epoch_s"], abs=0.006)
    # Same initial weights, same shuffles, same loss: the same model up to float rounding.
    assert analytic["accuracy"] == pytest.approx(plain["accuracy"], abs=0.005)
    assert 0.5 < analytic["accuracy"] < 1.0
    # Paired mode: one ratio per steady epoch pair, and its median printed.
    assert len(paired["ratios"]) == 2 and all(r > 0 for r in paired["ratios"])
    median = float(re.search(r"analytic vs torch, alternating epochs in one process: median ([\d.]+)x", out).group(1))
    assert median == pytest.approx(sum(paired["ratios"]) / 2, abs=0.006)


def test_step_costs_splits_a_step():
    out = run_script("step_costs.py", "--batch-sizes", "128", "--epochs", "1", "--train-size", "2048")
    step = float(re.search(r"analytic, batch 128: [\d.]+ s/epoch, (\d+) us/step", out).group(1))
    parts = [float(v) for v in re.findall(r"^  (?:forward_backward|update|loss\.item\(\))\s+([\d.]+) us", out, re.M)]
    assert len(parts) == 3 and all(p > 0 for p in parts)
    assert re.search(r"the update's whole cost is -?\d+ us/step, -?\d+% of the step", out)
    assert step > 0


def test_interleaved_steps_times_both_loops_step_by_step():
    out = run_script("interleaved_steps.py", "--loader", "--train-size", "1664", "--epochs", "1")
    match = re.search(r"784-128-10, batch 32, DataLoader, kerastyle (\w+): (\d+) us/step, plain (\d+) us/step, "
                      r"ratio ([\d.]+)x \(blocks of 50 steps: [\d.]+x-[\d.]+x; (\d+) steps\)", out)
    assert match, out
    engine, ours, plain, ratio, steps = match.groups()
    assert engine == "analytic"
    assert int(steps) == 1664 // 32 - 1  # one steady epoch; its first step has no start to time from
    # The printed ratio is the quotient of the two printed medians (rounded to whole microseconds).
    assert float(ratio) == pytest.approx(int(ours) / int(plain), rel=0.02)
