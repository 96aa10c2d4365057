"""GABP_KERNELS: how ``auto`` (the default) resolves, and the checks at the public doors.

numba is replaced here by a finder on ``sys.meta_path`` (an importable fake, or one whose
import raises) or hidden (``sys.modules["numba"] = None``), so every test means the same with
and without numba installed.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import logging
import sys

import numpy as np
import pytest

from gabp import Network, _kernels, train
from gabp.evolution import BPConfig, GAConfig, evolve
from gabp.evolution import ga as ga_mod
from gabp.experiment import run_experiment
from gabp.search import EvolutionarySearch

X = np.random.default_rng(0).uniform(-1, 1, (40, 2))
Y = X[:, :1] * X[:, 1:]


@pytest.fixture
def fresh(monkeypatch):
    """No numba looked for or compiled in this process yet (restored afterwards)."""
    monkeypatch.setattr(_kernels, "_NUMBA", {})
    monkeypatch.setattr(_kernels, "_COMPILED", {})
    monkeypatch.setattr(_kernels, "_READY", set())


class _FakeNumba(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``numba``; importing it raises ``error``, or gives a module whose ``njit``
    returns the Python function itself (and, with ``cacheless``, raises numba's error for
    ``cache=True`` where no cache folder is writable)."""

    def __init__(self, error: Exception | None, cacheless: bool = False) -> None:
        self.error, self.cacheless = error, cacheless

    def find_spec(self, name, path=None, target=None):
        return importlib.util.spec_from_loader(name, self) if name == "numba" else None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        if self.error is not None:
            raise self.error
        module.njit = self.njit

    def njit(self, cache: bool, **options):
        if cache and self.cacheless:
            raise RuntimeError("cannot cache function 'f': no locator available for file 'x'")
        return lambda fn: fn


def _install(monkeypatch, error: Exception | None, cacheless: bool = False) -> None:
    # sys.modules' "numba" entry, whatever it was (or its absence), is restored afterwards:
    # the setitem records it, the delitem leaves numba to be found on sys.meta_path
    monkeypatch.setitem(sys.modules, "numba", None)
    monkeypatch.delitem(sys.modules, "numba")
    monkeypatch.setattr(sys, "meta_path", [_FakeNumba(error, cacheless), *sys.meta_path])


@pytest.fixture
def importable_numba(fresh, monkeypatch):
    _install(monkeypatch, None)


@pytest.fixture
def broken_numba(fresh, monkeypatch):
    """numba installed, but its import fails (as one built for another NumPy does)."""
    _install(monkeypatch, ImportError("Numba needs NumPy 2.2 or less. Got NumPy 9.0."))


@pytest.fixture
def no_numba(fresh, monkeypatch):
    monkeypatch.setitem(sys.modules, "numba", None)  # find_spec -> None, import -> ImportError


# -- auto, the default -------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, "", "auto", " AUTO "])
def test_auto_uses_numba_when_it_can_be_imported(value, importable_numba, monkeypatch):
    if value is None:
        monkeypatch.delenv("GABP_KERNELS", raising=False)
    else:
        monkeypatch.setenv("GABP_KERNELS", value)
    assert _kernels.selected() == "numba"
    assert _kernels.check_kernels() == "numba"
    assert _kernels.compiled("adam_rows") is _kernels.adam_rows  # the fake njit's "compile"


@pytest.mark.parametrize("value", [None, "auto"])
def test_auto_uses_numpy_silently_without_numba(value, no_numba, monkeypatch, caplog):
    if value is None:
        monkeypatch.delenv("GABP_KERNELS", raising=False)
    else:
        monkeypatch.setenv("GABP_KERNELS", value)
    with caplog.at_level(logging.DEBUG, logger="gabp"):
        assert _kernels.check_kernels() == "numpy"
        assert _kernels.compiled("adam_rows") is None
    assert caplog.records == []


def test_auto_falls_back_to_numpy_with_one_warning_when_numba_is_broken(broken_numba,
                                                                        monkeypatch, caplog):
    monkeypatch.delenv("GABP_KERNELS", raising=False)
    with caplog.at_level(logging.WARNING, logger="gabp._kernels"):
        assert _kernels.check_kernels() == "numpy"
        assert _kernels.compiled("adam_rows") is None
        net = Network((2, 3, 1), seed=0)
        train(net, X, Y, optimizer="adam", epochs=2, batch_size=8, seed=0)  # trains, NumPy
    assert len(caplog.records) == 1
    msg = caplog.records[0].getMessage()
    assert "numba is installed but its import failed (ImportError: Numba needs NumPy" in msg
    assert "GABP_KERNELS=numpy" in msg
    monkeypatch.setenv("GABP_KERNELS", "numpy")
    ref = Network((2, 3, 1), seed=0)
    train(ref, X, Y, optimizer="adam", epochs=2, batch_size=8, seed=0)
    np.testing.assert_array_equal(net.params, ref.params)


def test_prepare_readies_every_kernel_once_per_dtype(importable_numba, monkeypatch):
    monkeypatch.delenv("GABP_KERNELS", raising=False)
    calls = []
    for name, fn in _kernels._SOURCES.items():  # the fake njit returns these: count calls
        def counted(*args, _fn=fn, _name=name):
            calls.append((_name, args[0].dtype))
            return _fn(*args)
        monkeypatch.setitem(_kernels._SOURCES, name, counted)
    kernels = _kernels.prepare("float32")
    assert sorted(kernels) == sorted(_kernels._SOURCES)
    assert sorted(n for n, _ in calls) == sorted(_kernels._SOURCES)  # each called once
    assert {d for _, d in calls} == {np.dtype(np.float32)}
    n_kernels = len(_kernels._SOURCES)
    _kernels.prepare(np.float32)
    assert len(calls) == n_kernels  # ready already
    _kernels.prepare(np.float64)
    assert len(calls) == 2 * n_kernels
    monkeypatch.setenv("GABP_KERNELS", "numpy")
    assert _kernels.prepare("float32") is None


def test_evolve_readies_the_kernels_before_the_first_generation(monkeypatch):
    # the first generation's time feeds the process-pool cost model: no compile inside it
    events = []
    monkeypatch.setattr(ga_mod, "prepare", lambda dtype: events.append(f"prepare {dtype}"))
    scorer = ga_mod.ChunkedScorer

    def recorded(*args, **kwargs):
        events.append("scorer")
        return scorer(*args, **kwargs)

    monkeypatch.setattr(ga_mod, "ChunkedScorer", recorded)
    evolve(X, Y, hidden_layer_sizes=(3,), ga=GAConfig(population_size=4, n_generations=1),
           bp=BPConfig(optimizer="adam", bp_epochs=1, max_epochs=1, dtype="float32"),
           fitness_on="train", n_baseline=0)
    assert events[:2] == ["prepare float32", "scorer"]


def test_numpy_never_looks_for_numba(broken_numba, monkeypatch, caplog):
    monkeypatch.setenv("GABP_KERNELS", "numpy")
    with caplog.at_level(logging.DEBUG, logger="gabp"):
        assert _kernels.check_kernels() == "numpy"
    assert _kernels._NUMBA == {} and caplog.records == []


def test_without_a_writable_cache_folder_the_kernels_compile_uncached(fresh, monkeypatch,
                                                                       caplog):
    # a read-only install with no writable HOME: numba refuses cache=True when decorating
    _install(monkeypatch, None, cacheless=True)
    monkeypatch.delenv("GABP_KERNELS", raising=False)
    with caplog.at_level(logging.WARNING, logger="gabp._kernels"):
        assert _kernels.compiled("adam_rows") is _kernels.adam_rows
        assert _kernels.compiled("bias_relu") is _kernels.bias_relu
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [
        "numba cannot cache gabp's compiled kernels"]
    assert "set NUMBA_CACHE_DIR to a writable folder" in caplog.text


# -- numba, forced -----------------------------------------------------------------------------


def test_forced_numba_with_a_broken_numba_raises_with_the_reason(broken_numba, monkeypatch):
    monkeypatch.setenv("GABP_KERNELS", "numba")
    assert _kernels.selected() == "numba"  # what was asked; using it fails
    with pytest.raises(ValueError, match=r"^GABP_KERNELS=numba needs numba \(its import failed: "
                                         r"ImportError: Numba needs NumPy 2\.2.*gabp\[fast\]"):
        _kernels.check_kernels()


def _no_training(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("training started")
    monkeypatch.setattr(ga_mod, "score_genomes", refuse, raising=False)
    monkeypatch.setattr(ga_mod, "train", refuse)


def test_evolve_refuses_numba_kernels_without_numba_before_any_work(no_numba, monkeypatch):
    monkeypatch.setenv("GABP_KERNELS", "numba")
    _no_training(monkeypatch)
    with pytest.raises(ValueError, match=r"^GABP_KERNELS=numba needs numba: .*gabp\[fast\]"):
        evolve(X, Y, hidden_layer_sizes=(3,), ga=GAConfig(population_size=4, n_generations=1),
               bp=BPConfig(optimizer="adam", bp_epochs=1, max_epochs=1), n_baseline=0)


def test_search_and_a_config_run_refuse_it_too(no_numba, monkeypatch, tmp_path):
    monkeypatch.setenv("GABP_KERNELS", "numba")
    with pytest.raises(ValueError, match=r"gabp\[fast\]"):
        EvolutionarySearch(n_generations=1, population_size=2).fit(X, Y[:, 0])
    with pytest.raises(ValueError, match=r"^GABP_KERNELS=numba needs numba"):
        run_experiment({"data": {"dataset": "xor"}}, out=tmp_path)
    assert not any(tmp_path.iterdir())  # refused before the run folder exists


def test_an_unknown_kernel_choice_is_named(monkeypatch):
    monkeypatch.setenv("GABP_KERNELS", "cuda")
    with pytest.raises(ValueError, match=r"GABP_KERNELS environment variable must be one of "
                                         r"auto, numpy, numba\. Got 'cuda' instead"):
        evolve(X, Y, hidden_layer_sizes=(3,), ga=GAConfig(population_size=4, n_generations=1))


def test_a_run_records_the_resolved_kernels(no_numba, monkeypatch, tmp_path):
    monkeypatch.delenv("GABP_KERNELS", raising=False)
    run = run_experiment({"seed": 0, "data": {"dataset": "xor"},
                          "ga": {"population_size": 4, "n_generations": 1},
                          "run": {"n_baseline": 0}}, out=tmp_path, verbose=0)
    m = run.metrics
    assert m["kernels"] == "numpy"
    with open(f"{run.path}/report.md") as f:
        assert f"BP solver: {m['optimizer']} ({m['dtype']}, numpy kernels)" in f.read()
