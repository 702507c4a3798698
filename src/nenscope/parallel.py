"""Threads for the whole-volume steps that release the GIL (file reads, NumPy ufuncs,
SciPy's ``ndimage`` filters and interpolation).

Python code (pydicom's header parsing, the analysis's bookkeeping) holds the GIL, but a
clinical study spends much of its load in work that does not: reading the pixel bytes,
rescaling them and resampling the CT. Splitting such a step into contiguous blocks of the
first axis and running the blocks on a few threads gives the same numbers as one call (each
output voxel is computed by the same code from the same inputs) in less wall time.

How many threads: ``NENSCOPE_THREADS`` where set, else ``OMP_NUM_THREADS`` where set (the
test workers and schedulers that give each process one core set it to 1), else the CPUs
this process may run on, at most :data:`MAX_THREADS`.

Example:
    >>> blocks = axis0_blocks(10, 3)
    >>> [(b.start, b.stop) for b in blocks]
    [(0, 4), (4, 7), (7, 10)]
    >>> thread_map(lambda b: b.stop - b.start, blocks)
    [4, 3, 3]
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

MAX_THREADS = 8
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_lock = threading.Lock()


def _forget_pool_in_child() -> None:
    """A forked child has none of its parent's threads: it starts its own pool if it needs one."""
    global _pool, _pool_size, _lock
    _pool, _pool_size, _lock = None, 0, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_in_child)


def thread_count() -> int:
    """Threads a whole-volume step may use in this process (see the module docstring)."""
    for name in ("NENSCOPE_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return min(int(value), MAX_THREADS)
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_THREADS))


def _executor(n: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size < n:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="nenscope")
            _pool_size = n
        return _pool


def thread_map(func: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """``[func(item) for item in items]``, the items spread over :func:`thread_count` threads;
    in order; on the calling thread when one thread is allowed or there is one item. The
    first exception raised by ``func`` is raised here."""
    items = list(items)
    n = min(thread_count(), len(items))
    if n <= 1 or threading.current_thread().name.startswith("nenscope"):
        return [func(item) for item in items]  # no nested use of the pool (deadlock)
    return list(_executor(n).map(func, items))


def axis0_blocks(n: int, parts: int | None = None) -> list[slice]:
    """``n`` indices cut into ``parts`` (default :func:`thread_count`) contiguous blocks of
    nearly equal length (the first ones one longer), none empty."""
    parts = max(1, min(parts or thread_count(), n)) if n > 0 else 1
    size, extra = divmod(n, parts)
    out, start = [], 0
    for k in range(parts):
        stop = start + size + (1 if k < extra else 0)
        out.append(slice(start, stop))
        start = stop
    return out
