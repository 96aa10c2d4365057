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

from contextlib import AbstractContextManager, nullcontext

from threadpoolctl import ThreadpoolController

#: Above this many parameters per network the solvers keep the BLAS library's own threads.
SINGLE_THREAD_MAX_PARAMS = 1000

_controller: ThreadpoolController | None = None


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
