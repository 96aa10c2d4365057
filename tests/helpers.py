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
