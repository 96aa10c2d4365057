"""BLAS threads per call: gabp's training and scoring run OpenBLAS on one thread.

OpenBLAS splits every call over all cores. For a population's many mid-sized products and
small solves (one ``JᵀJ``, Cholesky factor and solve per network) the threads cost more than
they win, and on a busy machine far more: ``np.linalg.solve`` on ``(30, 113, 113)`` took 104 ms
with 2 threads against 7.7 ms with 1 here, and a GA run with ``optimizer="br"`` 46 s against
3.8 s. :func:`single_blas_thread` wraps :func:`gabp.train` and the GA's scoring: for the
duration of one call the BLAS pools run on one thread, and the user's own setting is restored
afterwards (threadpoolctl), so it is never changed outside gabp's calls.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from threadpoolctl import ThreadpoolController

_controller: ThreadpoolController | None = None
F = TypeVar("F", bound=Callable[..., Any])


def one_blas_thread() -> AbstractContextManager:
    """Context in which the BLAS libraries loaded by then run on one thread (restored on exit)."""
    global _controller
    if _controller is None:  # scanning the loaded libraries costs a few ms: once per process
        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")


def rescan_blas() -> None:
    """Forget the scanned libraries: the next :func:`one_blas_thread` finds every loaded one.

    For code that loads another BLAS library while gabp runs (numba, compiling gabp's
    optional kernels, loads SciPy's OpenBLAS).
    """
    global _controller
    _controller = None


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
