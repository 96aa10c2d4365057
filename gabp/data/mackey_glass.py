"""Mackey-Glass chaotic series and the classic benchmark built from it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .._validation import check_float, check_int, fail
from .series import Windows, make_windows


def mackey_glass(
    n_samples: int = 1200,
    *,
    tau: float = 17.0,
    beta: float = 0.2,
    gamma: float = 0.1,
    n: float = 10.0,
    x0: float = 1.2,
    dt: float = 0.1,
    sample_every: float = 1.0,
    discard: int = 0,
    noise_std: float = 0.01,
    seed: int | None = None,
) -> np.ndarray:
    """Integrate the Mackey-Glass delay-differential equation.

    ``dx/dt = beta * x(t - tau) / (1 + x(t - tau)**n) - gamma * x(t)``

    Method: classic 4th-order Runge-Kutta with step ``dt`` on a uniform grid. The delayed
    value is read from the stored grid; at the RK4 half steps it is the linear
    interpolation of the two neighbouring grid values (exact grid points when
    ``tau / dt`` is an integer, as for the defaults). The initial history is
    ``x(t) = x0`` for ``-tau <= t <= 0``; with a ``seed`` each history point gets
    independent Gaussian noise of standard deviation ``noise_std`` (``seed=None`` keeps the
    deterministic constant history of the classic benchmark).

    Parameters
    ----------
    n_samples : int, default 1200
        Number of returned values, ``x(t)`` at ``t = 0, sample_every, 2 * sample_every,...``
        (after dropping ``discard`` samples).
    tau, beta, gamma, n : float
        Equation parameters (tau = 17 gives the usual mildly chaotic regime).
    x0 : float, default 1.2
    dt : float, default 0.1
        Integration step; ``sample_every / dt`` must be an integer.
    sample_every : float, default 1.0
    discard : int, default 0
        Initial samples to drop (transient).
    noise_std : float, default 0.01
        Scale of the seeded history noise.
    seed : int or None, default None

    Returns
    -------
    ndarray of shape (n_samples,)
        Values stay within about [0.2, 1.4] for the defaults.
    """
    where = "mackey_glass"
    n_samples = check_int(n_samples, "n_samples", where, low=1)
    tau = check_float(tau, "tau", where, low=0.0, low_open=True)
    beta = check_float(beta, "beta", where)
    gamma = check_float(gamma, "gamma", where)
    n = check_float(n, "n", where)
    x0 = check_float(x0, "x0", where)
    dt = check_float(dt, "dt", where, low=0.0, low_open=True)
    sample_every = check_float(sample_every, "sample_every", where, low=0.0, low_open=True)
    discard = check_int(discard, "discard", where, low=0)
    noise_std = check_float(noise_std, "noise_std", where, low=0.0)
    ratio = sample_every / dt
    sub = int(round(ratio))
    if sub < 1 or abs(ratio - sub) > 1e-9:
        fail("dt", where, f"a divisor of sample_every={sample_every:g}", dt)

    lag = tau / dt  # delay in grid steps (may be fractional)
    n_hist = int(np.ceil(lag)) + 1  # grid points covering [-tau, 0]
    n_steps = (n_samples + discard - 1) * sub
    x = np.empty(n_hist + n_steps)
    x[:n_hist] = x0
    if seed is not None:
        x[:n_hist] += np.random.default_rng(seed).normal(0.0, noise_std, n_hist)
    origin = n_hist - 1  # grid position of t = 0

    def delayed(k: float) -> float:
        # value at fractional grid position k (>= 0), linear interpolation
        i = int(np.floor(k))
        frac = k - i
        return x[i] if frac < 1e-12 else (1 - frac) * x[i] + frac * x[i + 1]

    def f(xt: float, xd: float) -> float:
        return beta * xd / (1.0 + xd**n) - gamma * xt

    for step in range(n_steps):
        i = origin + step
        xt = x[i]
        d0 = delayed(i - lag)
        dh = delayed(i + 0.5 - lag)
        d1 = delayed(i + 1 - lag)
        k1 = f(xt, d0)
        k2 = f(xt + 0.5 * dt * k1, dh)
        k3 = f(xt + 0.5 * dt * k2, dh)
        k4 = f(xt + dt * k3, d1)
        x[i + 1] = xt + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
    samples = x[origin::sub]
    return samples[discard : discard + n_samples].copy()


@dataclass(frozen=True, eq=False)
class MackeyGlassBenchmark:
    """The classic Mackey-Glass benchmark; unpacks as ``X_train, y_train, X_test, y_test``.

    Inputs ``[x(t-18), x(t-12), x(t-6), x(t)]`` (shape (500, 4)), target ``x(t+6)``
    (shape (500, 1)); ``t_train`` = 118 ... 617 and ``t_test`` = 618 ... 1117 are the
    origins ``t`` of each row, ``series`` the generated values x(0) ... x(1123).
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    t_train: np.ndarray
    t_test: np.ndarray
    series: np.ndarray
    windows: Windows

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.X_train, self.y_train, self.X_test, self.y_test))


def mackey_glass_benchmark(
    *, tau: float = 17.0, seed: int | None = None, n_train: int = 500
) -> MackeyGlassBenchmark:
    """Build the benchmark pairs for t = 118 ... 1117 (first ``n_train`` train, rest test).

    The series comes from :func:`mackey_glass` with its defaults (RK4, dt = 0.1,
    constant history 1.2 unless ``seed`` is given).
    """
    where = "mackey_glass_benchmark"
    n_train = check_int(n_train, "n_train", where, low=1, high=999)
    series = mackey_glass(1124, tau=tau, seed=seed)
    win = make_windows(series, n_lags=4, lag_step=6, horizon=6)
    rows = (win.input_end >= 118) & (win.input_end <= 1117)
    win = win.take(np.flatnonzero(rows))
    t = win.input_end
    return MackeyGlassBenchmark(
        X_train=win.X[:n_train],
        y_train=win.y[:n_train],
        X_test=win.X[n_train:],
        y_test=win.y[n_train:],
        t_train=t[:n_train].copy(),
        t_test=t[n_train:].copy(),
        series=series,
        windows=win,
    )
