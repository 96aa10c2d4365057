"""Genetic operators: bounds, no aliasing, statistics of selection, known formulas."""

import numpy as np
import pytest

from gabp.evolution.operators import (
    CROSSOVERS,
    MUTATIONS,
    NEED_BOUNDS,
    SELECTIONS,
    cx_arithmetic,
    cx_blend,
    cx_uniform,
    sel_sus,
)

BOUNDS = (-0.5, 0.5)


@pytest.fixture
def parents():
    rng = np.random.default_rng(0)
    return rng.uniform(-0.5, 0.5, (6, 40)), rng.uniform(-0.5, 0.5, (6, 40))


@pytest.mark.parametrize("name", sorted(CROSSOVERS))
def test_crossover_in_bounds_and_no_alias(name, parents):
    A, B = parents
    A0, B0 = A.copy(), B.copy()
    C, D = CROSSOVERS[name](A, B, np.random.default_rng(1), BOUNDS)
    assert C.shape == A.shape and D.shape == B.shape
    for child in (C, D):
        assert child.min() >= BOUNDS[0] and child.max() <= BOUNDS[1]
        assert not np.shares_memory(child, A) and not np.shares_memory(child, B)
    np.testing.assert_array_equal(A, A0)  # parents untouched
    np.testing.assert_array_equal(B, B0)
    child = C.copy()
    C += 1.0  # writing a child never reaches a parent
    np.testing.assert_array_equal(A, A0)
    assert not np.array_equal(child, A) or name == "uniform"


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_mutation_in_bounds_and_no_alias(name, parents):
    X = parents[0]
    X0 = X.copy()
    Y = MUTATIONS[name](X, np.random.default_rng(2), BOUNDS, 0.3, indpb=0.5)
    assert Y.min() >= BOUNDS[0] and Y.max() <= BOUNDS[1]
    assert not np.shares_memory(X, Y)
    np.testing.assert_array_equal(X, X0)
    changed = np.mean(Y != X)
    assert 0.3 < changed < 0.7  # about indpb of the genes move


@pytest.mark.parametrize("name", sorted(NEED_BOUNDS))
def test_bounded_mutations_require_bounds(name, parents):
    with pytest.raises(ValueError, match="needs gene bounds"):
        MUTATIONS[name](parents[0], np.random.default_rng(0), None, 0.0)


def test_zero_mutation_probability_changes_nothing(parents):
    for fn in MUTATIONS.values():
        Y = fn(parents[0], np.random.default_rng(0), BOUNDS, 0.5, indpb=0.0)
        np.testing.assert_array_equal(Y, parents[0])


def test_blend_and_arithmetic_formulas(parents):
    A, B = parents
    rng = np.random.default_rng(5)
    g = 2.0 * np.random.default_rng(5).random(A.shape) - 0.5  # alpha = 0.5
    C, D = cx_blend(A, B, rng, None, alpha=0.5)
    np.testing.assert_allclose(C, (1 - g) * A + g * B)
    np.testing.assert_allclose(D, g * A + (1 - g) * B)
    w = np.random.default_rng(6).random((A.shape[0], 1))
    C, D = cx_arithmetic(A, B, np.random.default_rng(6))
    np.testing.assert_allclose(C, w * A + (1 - w) * B)
    np.testing.assert_allclose(C + D, A + B)  # arithmetic crossover conserves the sum


def test_uniform_crossover_swaps_genes(parents):
    A, B = parents
    C, D = cx_uniform(A, B, np.random.default_rng(0))
    from_a = C == A
    np.testing.assert_array_equal(np.where(from_a, B, A), D)
    assert 0.3 < from_a.mean() < 0.7


def test_nonuniform_mutation_steps_shrink_with_progress(parents):
    X = np.zeros((200, 50))
    early = MUTATIONS["nonuniform"](X, np.random.default_rng(0), BOUNDS, 0.0, indpb=1.0)
    late = MUTATIONS["nonuniform"](X, np.random.default_rng(0), BOUNDS, 0.95, indpb=1.0)
    assert np.abs(late).mean() < 0.2 * np.abs(early).mean()


@pytest.mark.parametrize("name", sorted(SELECTIONS))
def test_selection_prefers_low_error(name):
    errors = np.arange(20, dtype=float)  # individual 0 is best
    picks = SELECTIONS[name](errors, 4000, np.random.default_rng(0))
    assert picks.min() >= 0 and picks.max() < 20
    counts = np.bincount(picks, minlength=20)
    assert counts[:5].sum() > 2 * counts[-5:].sum()


@pytest.mark.parametrize("name", sorted(SELECTIONS))
def test_selection_treats_inf_and_nan_as_worst(name):
    errors = np.array([np.inf, 1.0, np.nan, 2.0])
    picks = SELECTIONS[name](errors, 2000, np.random.default_rng(1))
    counts = np.bincount(picks, minlength=4)
    assert counts[1] > counts[0] and counts[1] > counts[2]


def test_sus_is_low_variance():
    # Linear ranking with pressure 2 on 4 individuals: expected copies 0, 2/3, 4/3, 2 of 4 picks.
    errors = np.array([3.0, 2.0, 1.0, 0.0])
    for seed in range(20):
        counts = np.bincount(sel_sus(errors, 4, np.random.default_rng(seed)), minlength=4)
        assert counts[0] == 0
        assert counts[3] == 2
        assert counts[1] in (0, 1) and counts[2] in (1, 2)
