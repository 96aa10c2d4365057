"""Full-batch L-BFGS for a whole population, any loss.

Each network keeps its own last ``m`` pairs ``s = x_{k+1} - x_k``, ``y = g_{k+1} - g_k``; the
two-loop recursion (Nocedal & Wright, Algorithm 7.4) runs for all networks at once, over the
ring buffers of every row (a network with fewer pairs simply contributes zeros for the missing
ones), with ``H0 = (sᵀy / yᵀy) I`` from the newest pair. A pair is stored only if
``sᵀy > 1e-10 yᵀy`` (curvature condition), so the implicit inverse Hessian stays positive
definite. A direction that is not a descent direction resets that network's memory.

The line search is a batched backtracking (Armijo) search: every network tries its own step
``t`` (1, or ``min(1, 1 / ||g||)`` on the first iteration of a memory), all networks still
searching are evaluated together, those with ``f(x + t d) <= f(x) + c1 t gᵀd`` accept and the
others halve ``t``, up to ``max_ls`` trials (then the network stops with ``"line_search"``).
A network stops with ``"converged"`` when its largest gradient entry is ``<= gtol`` or the
relative decrease ``(f_k - f_{k+1}) / max(|f_k|, |f_{k+1}|)`` is ``<= ftol`` (scipy's
L-BFGS-B defaults; scipy's denominator also has a floor of 1, which turns ``ftol`` into an
absolute tolerance for the small mse values of scaled data and stopped Mackey-Glass networks
after a few hundred iterations at twice the error, so this rule is scale-free).

Every function-and-gradient evaluation (line-search trials included) costs ``n``
sample-passes. Computed in float64. The history of every network exists for the whole run;
directions and line searches run on chunks of networks (:func:`.memory.plan_lbfgs`) so that
the evaluations fit ``memory_budget``; the result does not depend on the chunking.
"""

from __future__ import annotations

import numpy as np

from ..network import Architecture, loss_and_grad
from .base import Progress, training_objective
from .memory import LBFGSPlan

_CURVATURE = 1e-10


class LBFGS:
    """Batched L-BFGS iterations over the rows of a ``(P, n_params)`` parameter array.

    Parameters
    ----------
    arch : Architecture
    params : ndarray of shape (P, n_params)
        Updated by :meth:`finish` (float32 is trained in a float64 copy).
    X, Y : ndarray
    loss : str
    alpha : ndarray of shape (P,)
        L2 strength (weights only), as in :func:`gabp.train`.
    settings : dict
        ``m``, ``gtol``, ``ftol``, ``max_ls``, ``c1``.
    plan : LBFGSPlan
        Networks evaluated at a time.
    """

    gamma = None

    def __init__(self, arch: Architecture, params: np.ndarray, X: np.ndarray, Y: np.ndarray,
                 *, loss: str, alpha: np.ndarray, settings: dict[str, float],
                 plan: LBFGSPlan) -> None:
        self.arch, self._target, self.loss, self.s = arch, params, loss, settings
        self.chunk = plan.net_chunk
        self.params = params if params.dtype == np.float64 else params.astype(np.float64)
        self.X = np.asarray(X, dtype=np.float64)
        self.Y = np.asarray(Y, dtype=np.float64)
        self.alpha = np.asarray(alpha, dtype=np.float64)
        P, q, m = self.params.shape[0], arch.n_params, int(settings["m"])
        self.S = np.zeros((P, m, q))
        self.Yd = np.zeros((P, m, q))
        self.rho = np.zeros((P, m))
        self.n_hist = np.zeros(P, dtype=np.int64)
        self.head = np.zeros(P, dtype=np.int64)  # slot of the next pair
        self.f, self.g = np.empty(P), np.empty((P, q))
        for start in range(0, P, self.chunk):
            rows = np.arange(start, min(start + self.chunk, P))
            self.f[rows], self.g[rows] = self._evaluate(rows, self.params[rows])
        self._counted = False  # the first evaluation is charged on the first iteration

    def _evaluate(self, rows: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            f, g = loss_and_grad(self.arch, w, self.X, self.Y, loss=self.loss,
                                 alpha=self.alpha[rows] if np.any(self.alpha) else 0.0)
        ok = np.isfinite(f) & np.isfinite(g).all(axis=1)
        return np.where(ok, f, np.inf), g

    def objective(self, params: np.ndarray | None = None) -> np.ndarray:
        """Training objective of ``params`` (default: the current ones)."""
        if params is None:
            return self.f.copy()
        w = np.asarray(params, dtype=np.float64)
        return np.concatenate([
            training_objective(self.arch, w[i : i + self.chunk], self.X, self.Y, loss=self.loss,
                               alpha=self.alpha[i : i + self.chunk])
            for i in range(0, w.shape[0], self.chunk)])

    def _direction(self, rows: np.ndarray) -> np.ndarray:
        """``-H g`` by the two-loop recursion for networks ``rows``."""
        m = self.S.shape[1]
        q = self.g[rows].copy()
        S, Yd, rho = self.S[rows], self.Yd[rows], self.rho[rows]
        n_hist, head = self.n_hist[rows], self.head[rows]
        ar = np.arange(rows.size)
        a = np.zeros((rows.size, m))
        for i in range(m):  # newest to oldest
            j = (head - 1 - i) % m
            r = np.where(i < n_hist, rho[ar, j], 0.0)
            a[:, i] = r * np.einsum("pq,pq->p", S[ar, j], q)
            q -= a[:, i, None] * Yd[ar, j]
        newest = (head - 1) % m
        sy = np.einsum("pq,pq->p", S[ar, newest], Yd[ar, newest])
        yy = np.einsum("pq,pq->p", Yd[ar, newest], Yd[ar, newest])
        h0 = np.where((n_hist > 0) & (yy > 0), sy / np.where(yy > 0, yy, 1.0), 1.0)
        q *= h0[:, None]
        for i in range(m - 1, -1, -1):  # oldest to newest
            j = (head - 1 - i) % m
            r = np.where(i < n_hist, rho[ar, j], 0.0)
            b = r * np.einsum("pq,pq->p", Yd[ar, j], q)
            q += (a[:, i] - b)[:, None] * S[ar, j]
        return -q

    def iterate(self, progress: Progress, epoch: int, budget: float | None = None) -> np.ndarray:
        """One L-BFGS iteration (direction + line search) of every active network."""
        n, s = self.X.shape[0], self.s
        if not self._counted:
            progress.passes += n  # the evaluation at the starting weights
            self._counted = True
        progress.diverge(~np.isfinite(self.f) & progress.active, epoch)
        conv = progress.active & (np.abs(self.g).max(axis=1) <= s["gtol"])
        progress.stop(conv, "converged")
        rows = np.flatnonzero(progress.active)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            for start in range(0, rows.size, self.chunk):
                self._iterate_rows(rows[start : start + self.chunk], progress)
        return self.f.copy()

    def _iterate_rows(self, rows: np.ndarray, progress: Progress) -> None:
        """Direction and line search of the networks ``rows``."""
        n, s, P = self.X.shape[0], self.s, self.params.shape[0]
        d = self._direction(rows)
        g0 = self.g[rows]
        gd = np.einsum("pq,pq->p", g0, d)
        reset = ~(gd < 0)
        if reset.any():  # not a descent direction: forget the pairs, steepest descent
            self.n_hist[rows[reset]] = 0
            d[reset] = -g0[reset]
            gd[reset] = -np.einsum("pq,pq->p", g0[reset], g0[reset])
        gnorm = np.linalg.norm(g0, axis=1)
        first = self.n_hist[rows] == 0
        t = np.where(first, np.minimum(1.0, 1.0 / np.maximum(gnorm, 1e-300)), 1.0)
        x0, f0 = self.params[rows].copy(), self.f[rows].copy()
        pending = np.arange(rows.size)
        for _ in range(int(s["max_ls"])):
            r = rows[pending]
            xt = x0[pending] + t[pending, None] * d[pending]
            ft, gt = self._evaluate(r, xt)
            progress.passes[r] += n
            ok = ft <= f0[pending] + s["c1"] * t[pending] * gd[pending]
            if ok.any():
                self._accept(r[ok], xt[ok], ft[ok], gt[ok], x0[pending[ok]],
                             f0[pending[ok]], progress)
            pending = pending[~ok]
            if pending.size == 0:
                break
            t[pending] *= 0.5
        if pending.size:
            failed = np.zeros(P, dtype=bool)
            failed[rows[pending]] = True
            progress.stop(failed, "line_search")

    def _accept(self, r: np.ndarray, x: np.ndarray, f: np.ndarray, g: np.ndarray,
                x_old: np.ndarray, f_old: np.ndarray, progress: Progress) -> None:
        m = self.S.shape[1]
        s_vec = x - x_old
        y_vec = g - self.g[r]
        sy = np.einsum("pq,pq->p", s_vec, y_vec)
        yy = np.einsum("pq,pq->p", y_vec, y_vec)
        keep = sy > _CURVATURE * yy
        if keep.any():
            rk, slot = r[keep], self.head[r[keep]]
            self.S[rk, slot] = s_vec[keep]
            self.Yd[rk, slot] = y_vec[keep]
            self.rho[rk, slot] = 1.0 / sy[keep]
            self.head[rk] = (slot + 1) % m
            self.n_hist[rk] = np.minimum(self.n_hist[rk] + 1, m)
        self.params[r], self.f[r], self.g[r] = x, f, g
        progress.n_steps[r] += 1
        rel = (f_old - f) / np.maximum(np.maximum(np.abs(f_old), np.abs(f)), 1e-300)
        done = np.zeros(self.params.shape[0], dtype=bool)
        done[r[rel <= self.s["ftol"]]] = True
        progress.stop(done, "converged")

    def finish(self) -> None:
        """Write the trained parameters back into the network's array (its dtype)."""
        if self.params is not self._target:
            self._target[...] = self.params
