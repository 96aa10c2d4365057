"""Shared pytest configuration and fixtures."""

from __future__ import annotations

import os

import numpy as np
import pytest

# The suite runs the NumPy passes unless GABP_KERNELS says otherwise: `.[test]` brings numba
# in (skforecast needs it), where the default `auto` would compile. The compiled kernels' own
# tests set GABP_KERNELS themselves; `GABP_KERNELS=auto python -m pytest` runs the whole suite
# on what the default picks on this machine. Set at import, so worker processes and
# `python -m gabp` subprocesses inherit it.
os.environ.setdefault("GABP_KERNELS", "numpy")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--runslow", action="store_true", default=False, help="also run tests marked slow"
    )


def pytest_configure(config: pytest.Config) -> None:
    # pyproject's addopts deselects slow tests with -m "not slow"; --runslow lifts that.
    if config.getoption("--runslow") and config.option.markexpr == "not slow":
        config.option.markexpr = ""


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh generator with a fixed seed for each test."""
    return np.random.default_rng(12345)
