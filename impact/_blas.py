"""Run tall-skinny linear algebra (n x k with small k) on one BLAS thread.

Products like X'X for millions of rows and a few dozen columns are limited by memory
bandwidth, so a second BLAS thread gains little on an idle machine, while on a busy shared
machine (a secure environment's VM, or two jobs on two cores) OpenBLAS's spinning threads
made them about ten times slower in our measurements (2.2-2.9 s against 0.3 s for 2.5M x 20).
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

from threadpoolctl import threadpool_limits

F = TypeVar("F", bound=Callable)


def single_blas_thread(func: F) -> F:
    """Decorator: call `func` with BLAS limited to one thread, restoring the limit afterwards."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with threadpool_limits(limits=1, user_api="blas"):
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
