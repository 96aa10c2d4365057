"""Levenberg-Marquardt and Bayesian regularization for a whole population (MATLAB's trainlm and
trainbr, batched over the networks).

**LM** minimises the objective :func:`gabp.train` reports for ``loss="mse"``,
``SSE / N + alpha / 2 * sum(W ** 2)`` (``N = n_samples * n_outputs``, weights only), i.e.
``F = SSE + lam * ||D w||²`` with ``lam = N * alpha / 2`` and ``D`` the weight mask. Each
iteration computes ``JᵀJ`` and ``Jᵀe`` at the current weights (:mod:`.jacobian`) and solves the
damped normal equations ``(JᵀJ + lam D + mu I) delta = -(Jᵀe + lam D w)`` for every network at
once; a trial that lowers ``F`` is accepted and ``mu *= mu_dec`` (at least 1e-20), otherwise
``mu *= mu_inc`` and the system is solved again, within the same iteration, until it succeeds or
``mu > mu_max`` (the network then stops with ``"mu_max"``). A system that is not positive
definite (Cholesky fails) or a trial whose error is not finite counts as a failed trial. Before
stepping, a network whose objective is ``<= goal`` stops with ``"goal"``, one whose gradient
norm is below ``min_grad`` with ``"min_grad"``.

**BR** (Foresee & Hagan 1997, MacKay 1992) runs the same damped steps on
``F = beta * SSE + a * SSW`` (``SSW`` over *all* parameters, biases included, as trainbr does):
``(beta JᵀJ + (mu + a) I) delta = -(beta Jᵀe + a w)``. Training starts from ``a = 0`` and
``beta = 1`` (step 0 of Foresee & Hagan's algorithm), so the first step is a plain LM step on the
SSE and the first estimate of ``gamma`` comes from a network that fits the data. trainbr
instead starts from ``gamma = n_params``, ``a = gamma / (2 SSW)``, ``beta = (N - gamma) /
(2 SSE)`` at the initial weights; when those weights fit badly (for example small weights on
inputs min-max scaled to [0, 1]) ``a / beta`` is large, the first step shrinks the weights,
the next ``gamma`` is smaller still, and within a few iterations ``gamma`` falls to ~1e-15, the
network predicts the mean and stops on ``mu_max`` (R² 0.01 where LM reaches 1.0; the test
``test_br_recovers_from_a_badly_fitting_start``). After every
accepted step, from the ``JᵀJ`` of that iteration's start (as trainbr), the effective number of
parameters is ``gamma = n_params - a tr((beta JᵀJ + a I)^-1) = sum_i beta l_i / (beta l_i + a)``
(``l_i`` the eigenvalues of ``JᵀJ``), then ``a = gamma / (2 SSW)`` and
``beta = (N - gamma) / (2 SSE)`` at the new weights (``N - gamma`` is floored at 1 so that
``beta`` stays positive when there are more parameters than errors). The objective BR reports
is ``F / (beta N) = mse + (a / beta) SSW / N``, in the units of the mse.

Everything runs in float64 (float32 parameters are copied and written back at the end).
Networks are processed in chunks so that the normal equations fit ``memory_budget``
(:func:`.memory.plan_lm`); the result does not depend on the chunking.

Training cost, in sample-passes (one forward + backward of one sample = 1, a forward alone
0.5): the Jacobian pass costs ``0.5 * n * (1 + n_out)`` per network (one forward and one
backward per output unit), each trial forward ``0.5 * n``. The flops of ``JᵀJ`` (``n n_out
n_params²``, or fewer from per-layer blocks: :func:`.jacobian.normal_equations_method`) and
the ``n_params³ / 3`` of each factorization are not in that unit; ``bench/second_order.py``
reports wall times and GFLOP/s.
"""

from __future__ import annotations

import numpy as np

from ..network import Architecture, forward
from .base import Progress
from .jacobian import normal_equations
from .memory import LMPlan

_MU_MIN = 1e-20
_BLOCK = 32  # rows per block of the triangular solves


def _sse(arch: Architecture, params: np.ndarray, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Sum of squared errors of every network; ``inf`` where it is not finite."""
    e = forward(arch, params, X)[0][-1] - Y
    sse = np.einsum("pij,pij->p", e, e)
    return np.where(np.isfinite(sse), sse, np.inf)


def cholesky_solve(L: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve ``L Lᵀ x = b`` for a stack of lower-triangular Cholesky factors.

    NumPy has no triangular solve, so the forward and back substitutions run by blocks of 32
    rows: each diagonal block is solved directly and the rest of the right-hand side updated
    with one batched product, so the Python loop has ``2 * ceil(q / 32)`` steps whatever the
    number of systems. Every system is computed independently of the others (the result of a
    row does not depend on the stack it is in).

    Parameters
    ----------
    L : ndarray of shape (m, q, q)
        Lower-triangular factors, as returned by ``np.linalg.cholesky``.
    b : ndarray of shape (m, q)

    Returns
    -------
    ndarray of shape (m, q)
    """
    q = b.shape[1]
    y = b[..., None].copy()
    for s in range(0, q, _BLOCK):  # L y = b
        e = min(s + _BLOCK, q)
        y[:, s:e] = np.linalg.solve(L[:, s:e, s:e], y[:, s:e])
        if e < q:
            y[:, e:] -= np.matmul(L[:, e:, s:e], y[:, s:e])
    U = L.transpose(0, 2, 1)
    for e in range(q, 0, -_BLOCK):  # Lᵀ x = y
        s = max(e - _BLOCK, 0)
        y[:, s:e] = np.linalg.solve(U[:, s:e, s:e], y[:, s:e])
        if s > 0:
            y[:, :s] -= np.matmul(U[:, :s, s:e], y[:, s:e])
    return y[..., 0]


def solve_damped(A: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``A x = b`` for a stack of symmetric systems that should be positive definite.

    One Cholesky factorization per system, reused for the solve (:func:`cholesky_solve`).

    Parameters
    ----------
    A : ndarray of shape (m, q, q)
    b : ndarray of shape (m, q)

    Returns
    -------
    x : ndarray of shape (m, q)
        Zero where the system failed.
    ok : ndarray of shape (m,), bool
        False where ``A`` is not (numerically) positive definite or not finite.
    """
    ok = np.isfinite(A).all(axis=(1, 2)) & np.isfinite(b).all(axis=1)
    x = np.zeros_like(b)
    L = np.zeros_like(A)
    try:
        if not ok.all():
            raise np.linalg.LinAlgError
        L = np.linalg.cholesky(A)
    except np.linalg.LinAlgError:  # find the failing systems one by one (rare)
        for i in np.flatnonzero(ok):
            try:
                L[i] = np.linalg.cholesky(A[i])
            except np.linalg.LinAlgError:
                ok[i] = False
    if ok.any():
        try:
            x[ok] = cholesky_solve(L[ok], b[ok])
        except np.linalg.LinAlgError:  # a zero pivot the factorization did not catch
            for i in np.flatnonzero(ok):
                try:
                    x[i] = cholesky_solve(L[i : i + 1], b[i : i + 1])[0]
                except np.linalg.LinAlgError:
                    ok[i] = False
    ok &= np.isfinite(x).all(axis=1)
    x[~ok] = 0.0
    return x, ok


class LevenbergMarquardt:
    """Batched LM / BR iterations over the rows of a ``(P, n_params)`` parameter array.

    Parameters
    ----------
    arch : Architecture
    params : ndarray of shape (P, n_params)
        The network's parameters; updated by :meth:`finish` (float32 is trained in a float64
        copy).
    X, Y : ndarray of shape (n, n_in) and (n, n_out)
    alpha : ndarray of shape (P,)
        L2 strength of the reported objective (LM; must be 0 for BR).
    settings : dict
        ``mu``, ``mu_dec``, ``mu_inc``, ``mu_max``, ``goal``, ``min_grad``.
    plan : LMPlan
        Network and sample chunk sizes.
    bayesian : bool
        Bayesian regularization (``"br"``) instead of plain LM.
    """

    def __init__(
        self,
        arch: Architecture,
        params: np.ndarray,
        X: np.ndarray,
        Y: np.ndarray,
        *,
        alpha: np.ndarray,
        settings: dict[str, float],
        plan: LMPlan,
        bayesian: bool = False,
    ) -> None:
        self.arch, self._target = arch, params
        self.params = params if params.dtype == np.float64 else params.astype(np.float64)
        self.X = np.asarray(X, dtype=np.float64)
        self.Y = np.asarray(Y, dtype=np.float64)
        self.s, self.plan, self.bayesian = settings, plan, bayesian
        P = params.shape[0]
        self.n = self.X.shape[0]
        self.N = self.n * arch.n_outputs
        self.mu = np.full(P, settings["mu"])
        self.mask = arch.weight_mask().astype(np.float64)
        self.lam = self.N * np.asarray(alpha, dtype=np.float64) / 2.0
        self.gamma = np.full(P, float(arch.n_params)) if bayesian else None
        # BR starts from a = 0, beta = 1: F = SSE until the first estimate of gamma
        self.a, self.beta = (np.zeros(P) if bayesian else np.ones(P)), np.ones(P)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            self.F = self._penalized(np.arange(P), self.params, self._sse_chunked(self.params))

    # -- objective pieces -------------------------------------------------------------------

    def _sse_chunked(self, params: np.ndarray) -> np.ndarray:
        step = self.plan.net_chunk
        return np.concatenate([_sse(self.arch, params[i : i + step], self.X, self.Y)
                               for i in range(0, params.shape[0], step)])

    def _penalized(self, rows: np.ndarray, w: np.ndarray, sse: np.ndarray) -> np.ndarray:
        """``F`` of networks ``rows`` with parameters ``w`` (rows of the same length)."""
        if self.bayesian:
            return self.beta[rows] * sse + self.a[rows] * np.einsum("pi,pi->p", w, w)
        return sse + self.lam[rows] * np.einsum("pi,pi,i->p", w, w, self.mask)

    def _report(self, rows: np.ndarray, F: np.ndarray) -> np.ndarray:
        scale = self.beta[rows] * self.N if self.bayesian else self.N
        with np.errstate(invalid="ignore", over="ignore"):
            out = F / scale
        return np.where(np.isfinite(out), out, np.inf)

    def _update_hyper(self, rows: np.ndarray, gamma: np.ndarray, sse: np.ndarray) -> None:
        w = self.params[rows]
        ssw = np.einsum("pi,pi->p", w, w)
        self.gamma[rows] = gamma
        self.a[rows] = np.where(ssw > 0, gamma / np.where(ssw > 0, 2.0 * ssw, 1.0), 1.0)
        room = np.maximum(self.N - gamma, 1.0)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            beta = room / (2.0 * np.maximum(sse, np.finfo(float).tiny))
        self.beta[rows] = np.where(np.isfinite(beta), beta, 1.0)

    def objective(self, params: np.ndarray | None = None) -> np.ndarray:
        """Reported objective ``(P,)`` of ``params`` (default: the current ones), same α, β."""
        P = self.params.shape[0]
        rows = np.arange(P)
        if params is None:
            return self._report(rows, self.F)
        w = np.asarray(params, dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            return self._report(rows, self._penalized(rows, w, self._sse_chunked(w)))

    # -- one iteration ----------------------------------------------------------------------

    def iterate(self, progress: Progress, epoch: int, budget: float | None = None) -> np.ndarray:
        """One LM/BR iteration of every active network; returns the reported objective.

        ``budget`` is not looked at: an iteration is indivisible, and :func:`gabp.train`
        freezes a network once its sample-passes reach the budget.
        """
        idx = np.flatnonzero(progress.active)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            for start in range(0, idx.size, self.plan.net_chunk):
                self._iterate_rows(idx[start : start + self.plan.net_chunk], progress, epoch)
        return self.objective()

    def _iterate_rows(self, rows: np.ndarray, progress: Progress, epoch: int) -> None:
        arch, s, n, k = self.arch, self.s, self.n, self.arch.n_outputs
        w = self.params[rows]
        JtJ, Jte, sse = normal_equations(arch, w, self.X, self.Y,
                                         chunk_samples=self.plan.sample_chunk)
        progress.passes[rows] += 0.5 * n * (1 + k)
        bad = ~(np.isfinite(sse) & np.isfinite(JtJ).all(axis=(1, 2)) & np.isfinite(Jte).all(1))
        if bad.any():
            progress.diverge(np.isin(np.arange(self.params.shape[0]), rows[bad]), epoch)
            self.F[rows[bad]] = np.inf
        if self.bayesian:
            beta, a = self.beta[rows], self.a[rows]
            g = beta[:, None] * Jte + a[:, None] * w
            H, shift = JtJ * beta[:, None, None], a
        else:
            g = Jte + self.lam[rows, None] * self.mask * w
            H, shift = JtJ, None
        grad_norm = np.linalg.norm(g, axis=1) * 2.0 / (self.N * (beta if self.bayesian else 1))
        reported = self._report(rows, self.F[rows])
        P = self.params.shape[0]
        checks = (("goal", reported <= s["goal"]), ("min_grad", grad_norm < s["min_grad"]))
        for reason, hit in checks:
            hit &= ~bad
            if hit.any():
                progress.stop(np.isin(np.arange(P), rows[hit]), reason)
        pending = np.flatnonzero(~bad & progress.active[rows])  # positions within rows
        accepted = np.zeros(rows.size, dtype=bool)
        diag = np.arange(arch.n_params)
        while pending.size:
            r = rows[pending]
            A = H[pending].copy()
            if self.bayesian:
                A[:, diag, diag] += (self.mu[r] + shift[pending])[:, None]
            else:
                A[:, diag, diag] += self.lam[r, None] * self.mask + self.mu[r, None]
            delta, ok = solve_damped(A, g[pending])
            trial = w[pending] - delta
            progress.passes[r] += 0.5 * n
            sse2 = _sse(arch, trial, self.X, self.Y)
            F2 = self._penalized(r, trial, sse2)
            win = ok & np.isfinite(F2) & (F2 < self.F[r])
            if win.any():
                wr = r[win]
                w[pending[win]] = trial[win]
                sse[pending[win]] = sse2[win]
                self.F[wr] = F2[win]
                self.mu[wr] = np.maximum(self.mu[wr] * s["mu_dec"], _MU_MIN)
                accepted[pending[win]] = True
            lose = ~win
            self.mu[r[lose]] *= s["mu_inc"]
            over = lose & (self.mu[r] > s["mu_max"])
            if over.any():
                progress.stop(np.isin(np.arange(P), r[over]), "mu_max")
            pending = pending[lose & ~over]
        self.params[rows[accepted]] = w[accepted]
        progress.n_steps[rows[accepted]] += 1
        if self.bayesian and accepted.any():
            pos = np.flatnonzero(accepted)
            lam_i = np.clip(np.linalg.eigvalsh(JtJ[pos]), 0.0, None)  # (m, n_params)
            bl = self.beta[rows[pos], None] * lam_i
            den = bl + self.a[rows[pos], None]  # 0 for a null direction while a = 0
            gamma = np.sum(np.divide(bl, den, out=np.zeros_like(bl), where=den > 0), axis=1)
            self._update_hyper(rows[pos], gamma, sse[pos])
            self.F[rows[pos]] = self._penalized(rows[pos], self.params[rows[pos]], sse[pos])

    def finish(self) -> None:
        """Write the trained parameters back into the network's array (its dtype)."""
        if self.params is not self._target:
            self._target[...] = self.params
