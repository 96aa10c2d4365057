"""The README's figure is what the README's main command writes.

`gabp run examples/sunspots.toml` draws `runs/<stamp>-sunspots/predictions.png`; the README
shows a committed copy of it. This test runs the command and compares the two images, so
the README can never show a figure the command does not make. After a change to the series
figure, refresh the copy with::

    gabp run examples/sunspots.toml --out /tmp/r && cp /tmp/r/*-sunspots/predictions.png \\
        examples/figures/sunspots_predictions.png
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parent.parent
FIGURE = "examples/figures/sunspots_predictions.png"


def test_readme_shows_the_main_commands_figure(tmp_path):
    from matplotlib.image import imread

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "gabp run examples/sunspots.toml" in readme
    shown = re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", readme)
    assert shown and shown[0] == FIGURE, "the README's first figure"
    assert "runs/<timestamp>-sunspots/predictions.png" in readme

    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=str(ROOT))
    res = subprocess.run([sys.executable, "-m", "gabp", "run", "examples/sunspots.toml",
                          "--out", str(tmp_path), "-q"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    (run_dir,) = tmp_path.iterdir()
    written = imread(run_dir / "predictions.png")
    committed = imread(ROOT / FIGURE)
    assert written.shape == committed.shape, "refresh the README figure (see this module)"
    # Same picture; a little slack for last-digit differences of another BLAS.
    assert np.mean(np.abs(written - committed)) < 0.01, "refresh the README figure"
    assert (ROOT / FIGURE).stat().st_size < 200_000
