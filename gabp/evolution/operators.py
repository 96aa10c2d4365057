"""Genetic operators over whole populations of real-valued genomes.

Every operator works on NumPy arrays for the whole population at once and draws its
randomness from an explicit ``numpy.random.Generator`` (never the global ``random``):

- selection ``select(errors, k, rng) -> indices`` (``errors`` of shape ``(P,)``, lower is
  better, ``inf`` allowed);
- crossover ``mate(A, B, rng, bounds) -> (C, D)`` on paired parents of shape ``(m, n)``;
- mutation ``mutate(X, rng, bounds, progress) -> X'`` on genomes of shape ``(m, n)``,
  ``progress`` in ``[0, 1]`` being the fraction of the run done (non-uniform mutation uses it).

Operators return new arrays: children never alias their parents. ``bounds`` is ``None`` or
a pair of arrays/scalars ``(low, high)``; results are clipped into it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Bounds = tuple[np.ndarray, np.ndarray] | None


def _clip(X: np.ndarray, bounds: Bounds) -> np.ndarray:
    if bounds is not None:
        np.clip(X, bounds[0], bounds[1], out=X)
    return X


def _need_bounds(bounds: Bounds, name: str) -> tuple[np.ndarray, np.ndarray]:
    if bounds is None:
        raise ValueError(
            f"The '{name}' operator needs gene bounds. Set 'bounds' (e.g. (-1.0, 1.0)) or choose "
            "an unbounded operator."
        )
    return bounds


def _ranks(errors: np.ndarray) -> np.ndarray:
    """Rank 0 for the worst individual, P-1 for the best (ties broken by index)."""
    order = np.argsort(-np.nan_to_num(errors, nan=np.inf, posinf=np.finfo(float).max),
                       kind="stable")
    ranks = np.empty(len(errors))
    ranks[order] = np.arange(len(errors))
    return ranks


def _linear_rank_fitness(errors: np.ndarray, pressure: float) -> np.ndarray:
    """Linear ranking (Baker): fitness from ``2 - pressure`` (worst) to ``pressure`` (best)."""
    P = len(errors)
    if P == 1:
        return np.ones(1)
    return 2.0 - pressure + 2.0 * (pressure - 1.0) * _ranks(errors) / (P - 1)


# ----------------------------------------------------------------------------- selection


def sel_tournament(errors: np.ndarray, k: int, rng: np.random.Generator, *,
                   tournsize: int = 3) -> np.ndarray:
    """Tournament selection: the best of ``tournsize`` random individuals, ``k`` times."""
    contenders = rng.integers(0, len(errors), size=(k, tournsize))
    ranks = _ranks(errors)
    return contenders[np.arange(k), np.argmax(ranks[contenders], axis=1)]


def sel_rank(errors: np.ndarray, k: int, rng: np.random.Generator, *,
             pressure: float = 2.0) -> np.ndarray:
    """Roulette-wheel selection on linear-ranking fitness (the MATLAB toolbox's ``ranking``)."""
    fit = _linear_rank_fitness(errors, pressure)
    return rng.choice(len(errors), size=k, p=fit / fit.sum())


def sel_sus(errors: np.ndarray, k: int, rng: np.random.Generator, *,
            pressure: float = 2.0) -> np.ndarray:
    """Stochastic universal sampling (Baker) on linear-ranking fitness; order shuffled."""
    fit = _linear_rank_fitness(errors, pressure)
    cum = np.cumsum(fit / fit.sum())
    pointers = (rng.uniform(0, 1.0 / k) + np.arange(k) / k)
    chosen = np.minimum(np.searchsorted(cum, pointers, side="right"), len(errors) - 1)
    return rng.permutation(chosen)


# ----------------------------------------------------------------------------- crossover


def cx_blend(A: np.ndarray, B: np.ndarray, rng: np.random.Generator, bounds: Bounds = None, *,
             alpha: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Blend crossover BLX-alpha: per gene ``g ~ U(-alpha, 1 + alpha)``."""
    g = (1.0 + 2.0 * alpha) * rng.random(A.shape) - alpha
    C = (1.0 - g) * A + g * B
    D = g * A + (1.0 - g) * B
    return _clip(C, bounds), _clip(D, bounds)


def cx_sbx(A: np.ndarray, B: np.ndarray, rng: np.random.Generator, bounds: Bounds = None, *,
           eta: float = 15.0) -> tuple[np.ndarray, np.ndarray]:
    """Simulated binary crossover (Deb & Agrawal 1995), bounded form when bounds are given.

    Each gene is crossed with probability 0.5 (as in DEAP and NSGA-II's reference code).
    """
    u = rng.random(A.shape)
    cross = rng.random(A.shape) < 0.5
    x1, x2 = np.minimum(A, B), np.maximum(A, B)
    span = np.maximum(x2 - x1, 1e-14)
    if bounds is None:
        beta = np.where(u <= 0.5, (2.0 * u) ** (1.0 / (eta + 1.0)),
                        (1.0 / (2.0 * (1.0 - u))) ** (1.0 / (eta + 1.0)))
        c1 = 0.5 * (x1 + x2 - beta * (x2 - x1))
        c2 = 0.5 * (x1 + x2 + beta * (x2 - x1))
    else:
        low, high = np.broadcast_to(bounds[0], A.shape), np.broadcast_to(bounds[1], A.shape)

        def child(b: np.ndarray, sign: float) -> np.ndarray:
            beta = 1.0 + 2.0 * b / span
            alpha = 2.0 - beta ** (-(eta + 1.0))
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                bq = np.where(u <= 1.0 / alpha, (u * alpha) ** (1.0 / (eta + 1.0)),
                              (1.0 / np.maximum(2.0 - u * alpha, 1e-14)) ** (1.0 / (eta + 1.0)))
            return 0.5 * (x1 + x2 + sign * bq * (x2 - x1))

        c1 = child(x1 - low, -1.0)
        c2 = child(high - x2, 1.0)
    swap = rng.random(A.shape) < 0.5
    C = np.where(cross, np.where(swap, c2, c1), A)
    D = np.where(cross, np.where(swap, c1, c2), B)
    return _clip(C, bounds), _clip(D, bounds)


def cx_arithmetic(A: np.ndarray, B: np.ndarray, rng: np.random.Generator,
                  bounds: Bounds = None) -> tuple[np.ndarray, np.ndarray]:
    """Whole arithmetic crossover: ``C = w A + (1 - w) B``, ``D = (1 - w) A + w B``, one
    ``w ~ U(0, 1)`` per pair (children stay inside the parents' box)."""
    w = rng.random((A.shape[0], 1))
    return _clip(w * A + (1.0 - w) * B, bounds), _clip((1.0 - w) * A + w * B, bounds)


def cx_uniform(A: np.ndarray, B: np.ndarray, rng: np.random.Generator, bounds: Bounds = None, *,
               swap_prob: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Uniform crossover: each gene is swapped between the parents with ``swap_prob``."""
    swap = rng.random(A.shape) < swap_prob
    return np.where(swap, B, A), np.where(swap, A, B)


# ------------------------------------------------------------------------------ mutation


def _mutate_genes(X: np.ndarray, rng: np.random.Generator, indpb: float, bounds: Bounds,
                  step) -> np.ndarray:
    """Copy ``X`` and move each gene with probability ``indpb`` by ``step(x, low, high)``.

    Only the chosen genes are computed (mutation rates are usually small), ``x``, ``low``
    and ``high`` being 1-D arrays of the chosen genes' values and bounds.
    """
    Y = X.copy()
    idx = np.flatnonzero(rng.random(X.shape) < indpb)
    if idx.size:
        flat = Y.reshape(-1)
        if bounds is None:
            low = high = None
        else:
            low = np.broadcast_to(bounds[0], X.shape).reshape(-1)[idx]
            high = np.broadcast_to(bounds[1], X.shape).reshape(-1)[idx]
        flat[idx] = flat[idx] + step(flat[idx], low, high)
    return _clip(Y, bounds)


def mut_gaussian(X: np.ndarray, rng: np.random.Generator, bounds: Bounds = None,
                 progress: float = 0.0, *, indpb: float = 0.05,
                 sigma: float = 0.1) -> np.ndarray:
    """Add ``N(0, sigma)`` to each gene with probability ``indpb``."""
    return _mutate_genes(X, rng, indpb, bounds, lambda x, lo, hi: rng.normal(0.0, sigma, x.size))


def mut_polynomial(X: np.ndarray, rng: np.random.Generator, bounds: Bounds = None,
                   progress: float = 0.0, *, indpb: float = 0.05,
                   eta: float = 20.0) -> np.ndarray:
    """Deb's bounded polynomial mutation, each gene with probability ``indpb``."""
    bounds = _need_bounds(bounds, "polynomial")
    p = 1.0 / (eta + 1.0)

    def step(x, low, high):
        span = np.maximum(high - low, 1e-14)
        d1, d2 = (x - low) / span, (high - x) / span
        u = rng.random(x.size)
        left = (2.0 * u + (1.0 - 2.0 * u) * (1.0 - d1) ** (eta + 1.0)) ** p - 1.0
        right = 1.0 - (2.0 * (1.0 - u) + 2.0 * (u - 0.5) * (1.0 - d2) ** (eta + 1.0)) ** p
        return np.where(u < 0.5, left, right) * span

    return _mutate_genes(X, rng, indpb, bounds, step)


def mut_nonuniform(X: np.ndarray, rng: np.random.Generator, bounds: Bounds = None,
                   progress: float = 0.0, *, indpb: float = 0.05,
                   b: float = 5.0) -> np.ndarray:
    """Michalewicz's non-uniform mutation: steps shrink as the run progresses.

    ``x + (high - x) * d`` or ``x - (x - low) * d`` with ``d = 1 - r ** ((1 - progress) ** b)``.
    """
    bounds = _need_bounds(bounds, "nonuniform")
    shrink = (1.0 - min(max(progress, 0.0), 1.0)) ** b

    def step(x, low, high):
        d = 1.0 - rng.random(x.size) ** shrink
        return np.where(rng.random(x.size) < 0.5, (high - x) * d, -(x - low) * d)

    return _mutate_genes(X, rng, indpb, bounds, step)


# ------------------------------------------------------------------------ one generation


def make_offspring(pop: np.ndarray, errors: np.ndarray, toolbox, n_off: int,
                   crossover_prob: float, rng: np.random.Generator, bounds: Bounds,
                   progress: float, carry: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Select ``n_off`` parents, cross consecutive pairs with ``crossover_prob``, mutate.

    Selection ranks by ``errors``; the errors offspring carry over come from ``carry``
    (default ``errors``; NSGA-II selects on its rank order but carries true errors).

    ``toolbox`` provides ``select``, ``mate`` and ``mutate`` with this module's signatures.
    Returns the offspring ``(n_off, n)``, the errors they carry over from their parents
    (``inf`` where changed) and the mask of offspring that changed and need evaluating —
    an offspring identical to its parent keeps the parent's error.
    """
    parents = np.asarray(toolbox.select(errors, n_off, rng))
    off = pop[parents].copy()
    off_err = (errors if carry is None else carry)[parents].copy()
    changed = np.zeros(n_off, dtype=bool)
    crossed = rng.random(n_off // 2) < crossover_prob
    if crossed.any():
        ia = 2 * np.flatnonzero(crossed)
        C, D = toolbox.mate(off[ia], off[ia + 1], rng, bounds)
        changed[ia] = np.any(C != off[ia], axis=1)
        changed[ia + 1] = np.any(D != off[ia + 1], axis=1)
        off[ia], off[ia + 1] = C, D
    mutated = toolbox.mutate(off, rng, bounds, progress)
    changed |= np.any(mutated != off, axis=1)
    off_err[changed] = np.inf
    return mutated, off_err, changed


SELECTIONS: dict[str, Callable[..., np.ndarray]] = {
    "tournament": sel_tournament,
    "rank": sel_rank,
    "sus": sel_sus,
}
CROSSOVERS: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {
    "blend": cx_blend,
    "sbx": cx_sbx,
    "arithmetic": cx_arithmetic,
    "uniform": cx_uniform,
}
MUTATIONS: dict[str, Callable[..., np.ndarray]] = {
    "gaussian": mut_gaussian,
    "polynomial": mut_polynomial,
    "nonuniform": mut_nonuniform,
}
#: Operators that cannot work without gene bounds.
NEED_BOUNDS = frozenset({"polynomial", "nonuniform"})
