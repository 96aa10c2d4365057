"""BLAS threads per call: the solvers' small batched LAPACK / BLAS work runs on one thread.

OpenBLAS splits every call over all cores. For the many small matrices of a population (one
``JᵀJ``, Cholesky factor and solve per network, ``n_params`` in the tens to hundreds) the
threads cost more than they win, and on a busy machine far more: ``np.linalg.solve`` on
``(30, 113, 113)`` took 104 ms with 2 threads against 7.7 ms with 1 here, and a GA run with
``optimizer="br"`` 46 s against 3.8 s. :func:`solver_threads` limits the BLAS pools to one
thread for the duration of one solver call and restores them afterwards (threadpoolctl), so
the user's own setting is never changed outside gabp's calls. Networks with more than
:data:`SINGLE_THREAD_MAX_PARAMS` parameters keep the user's threads: there one ``JᵀJ`` or
solve is large enough to be shared (``bench/second_order.py``, part "threads").
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any, TypeVar

from threadpoolctl import ThreadpoolController

#: Above this many parameters per network the solvers keep the BLAS library's own threads.
SINGLE_THREAD_MAX_PARAMS = 1000

_controller: ThreadpoolController | None = None
F = TypeVar("F", bound=Callable[..., Any])


def one_blas_thread() -> AbstractContextManager:
    """Context in which the BLAS libraries loaded by then run on one thread (restored on exit)."""
    global _controller
    if _controller is None:  # scanning the loaded libraries costs a few ms: once per process
        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")


def solver_threads(n_params: int) -> AbstractContextManager:
    """Context in which a solver iteration of networks with ``n_params`` parameters runs.

    Parameters
    ----------
    n_params : int
        Parameters per network.

    Returns
    -------
    context manager
        :func:`one_blas_thread` when ``n_params <=`` :data:`SINGLE_THREAD_MAX_PARAMS`, else a
        context that changes nothing.
    """
    return nullcontext() if n_params > SINGLE_THREAD_MAX_PARAMS else one_blas_thread()


def single_blas_thread(fn: F) -> F:
    """Decorator: ``fn`` runs with the BLAS libraries on one thread (restored afterwards).

    Used on :func:`gabp.train` and the GA's scoring: the population's batched products are
    many mid-sized GEMMs, for which OpenBLAS's threads lose, badly on a busy machine
    (digits 64-32-10, Adam, P = 40: 58 ms per epoch on one thread against 403 ms on two at
    load 3.5 on this 2-core machine; P = 1: 3.2 against 18.7 ms). gabp's parallelism is
    ``n_jobs`` worker processes instead.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with one_blas_thread():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
