"""The one randomness story: a seed -> ``numpy.random.SeedSequence`` -> child streams.

Every random stream in gabp is keyed by ``(entropy, *keys)``: the run's seed entropy and a
path of small integers naming the purpose (and the generation, restart, ...). The same keys
always give the same numbers, in any process, whatever ran before.
"""

from __future__ import annotations

import numpy as np


def stream(entropy: int, *keys: int) -> np.random.Generator:
    """Generator of the child sequence ``keys`` of ``entropy``."""
    return np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=keys))


def int_seed(entropy: int, *keys: int) -> int:
    """A 32-bit integer seed drawn from the child sequence ``keys`` of ``entropy``."""
    return int(np.random.SeedSequence(entropy, spawn_key=keys).generate_state(1)[0])
