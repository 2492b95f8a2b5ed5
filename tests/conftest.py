"""Shared test set-up: every test starts from a fresh naming session and seed 0."""

import pytest
import torch

from kerastyle.backend import clear_session
from kerastyle.utils import set_random_seed


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """Test tensors are tiny: one intra-op thread is faster and steady on a busy machine.
    (Speed is never asserted in tests; benchmarks/fit_speed.py measures it.)"""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _fresh_session():
    """Layer names restart at ``dense`` and random draws are reproducible in every test."""
    clear_session()
    set_random_seed(0)
    yield
    clear_session()
