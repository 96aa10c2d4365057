"""Shared pytest configuration and fixtures."""

from __future__ import annotations

import numpy as np
import pytest


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
