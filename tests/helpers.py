"""Helpers shared by test modules (pytest puts this folder on the import path)."""

from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def gabp(*args: str, cwd: os.PathLike | str) -> subprocess.CompletedProcess:
    """Run ``python -m gabp ARGS`` in ``cwd`` with this checkout's gabp (not an install)."""
    env = dict(os.environ, MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "gabp", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def logbook_records(logbook) -> list[dict]:
    """A logbook's records without their wall-clock column (what must repeat for a seed)."""
    return [{k: v for k, v in r.items() if k != "elapsed"} for r in logbook]


def full_and_resumed(cfg: dict, tmp_path, at: int = 2):
    """``(uninterrupted run, the same run interrupted after generation `at` and resumed)``;
    the interrupted folder has a checkpoint and no model."""
    import pytest

    from gabp.experiment import resume_experiment, run_experiment

    full = run_experiment(cfg, out=tmp_path, name="full", verbose=0)

    def interrupt(state):
        if state.generation == at:
            raise KeyboardInterrupt

    target = tmp_path / "interrupted"
    with pytest.raises(KeyboardInterrupt):
        run_experiment(cfg, run_dir=target, verbose=0, callbacks=[interrupt])
    assert not (target / "model.npz").exists() and (target / "checkpoint.npz").exists()
    return full, resume_experiment(target, verbose=0)
