"""GABP_KERNELS is checked at the public doors, before any work (numba or not installed)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from gabp import _kernels
from gabp.evolution import BPConfig, GAConfig, evolve
from gabp.evolution import ga as ga_mod
from gabp.experiment import run_experiment
from gabp.search import EvolutionarySearch

X = np.random.default_rng(0).uniform(-1, 1, (40, 2))
Y = X[:, :1] * X[:, 1:]


@pytest.fixture
def no_numba(monkeypatch):
    """GABP_KERNELS=numba on a machine without numba."""
    monkeypatch.setenv("GABP_KERNELS", "numba")
    monkeypatch.setitem(sys.modules, "numba", None)  # import numba -> ImportError
    monkeypatch.setattr(_kernels, "_COMPILED", {})


def _no_training(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("training started")
    monkeypatch.setattr(ga_mod, "score_genomes", refuse, raising=False)
    monkeypatch.setattr(ga_mod, "train", refuse)


def test_evolve_refuses_numba_kernels_without_numba_before_any_work(no_numba, monkeypatch):
    _no_training(monkeypatch)
    with pytest.raises(ValueError, match=r"GABP_KERNELS=numba needs numba.*gabp\[fast\]"):
        evolve(X, Y, hidden_layer_sizes=(3,), ga=GAConfig(population_size=4, n_generations=1),
               bp=BPConfig(optimizer="adam", bp_epochs=1, max_epochs=1), n_baseline=0)


def test_search_and_a_config_run_refuse_it_too(no_numba, tmp_path):
    with pytest.raises(ValueError, match=r"gabp\[fast\]"):
        EvolutionarySearch(n_generations=1, population_size=2).fit(X, Y[:, 0])
    with pytest.raises(ValueError, match=r"^GABP_KERNELS=numba needs numba"):
        run_experiment({"data": {"dataset": "xor"}}, out=tmp_path)
    assert not any(tmp_path.iterdir())  # refused before the run folder exists


def test_an_unknown_kernel_choice_is_named(monkeypatch):
    monkeypatch.setenv("GABP_KERNELS", "cuda")
    with pytest.raises(ValueError, match=r"GABP_KERNELS environment variable must be one of "
                                         r"numpy, numba\. Got 'cuda' instead"):
        evolve(X, Y, hidden_layer_sizes=(3,), ga=GAConfig(population_size=4, n_generations=1))


def test_the_default_needs_nothing(monkeypatch):
    monkeypatch.delenv("GABP_KERNELS", raising=False)
    monkeypatch.setitem(sys.modules, "numba", None)
    assert _kernels.check_kernels() == "numpy"
