"""One call run in a forked child process while the caller works on (issue 17).

Reading DICOM is pure Python (pydicom holds the GIL), so a second study is loaded in parallel
only by a second process. :func:`start` forks one where that is possible and worthwhile (Linux,
at least two usable CPUs and a process not held to one core, the main thread: the command
line, not the web service's job threads nor a cohort's daemon workers) and otherwise
runs the call at once in this process; either way :meth:`Pending.result` gives the value, or
raises the call's :class:`~nenscope.errors.NenscopeError` as it was raised.

The value's arrays travel through memory shared with the child (pickle protocol 5, buffers
out of band): the parent maps them instead of receiving and copying them through the pipe,
which cost it 0.5-0.7 s of CPU for the ~270 MB of an FDG study and its analysis.
"""

from __future__ import annotations

import mmap
import multiprocessing
import os
import pickle
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any

from nenscope.errors import NenscopeError
from nenscope.parallel import thread_count


def can_fork() -> bool:
    """True where a forked child can run beside this process on its own CPU: Linux, two
    usable CPUs, this process not held to one core (``NENSCOPE_THREADS=1`` or
    ``OMP_NUM_THREADS=1``, :func:`nenscope.parallel.thread_count`: the test workers and the
    scheduler workers that share the CPUs, where a child would only compete with them and
    add its start and the copy of its result, a fifth of a small study's analysis), called
    from the main thread (not from a server's worker thread, whose siblings may hold locks at
    the moment of the fork) and not inside a daemon process."""
    return (
        sys.platform == "linux"
        and len(os.sched_getaffinity(0)) >= 2
        and thread_count() >= 2
        and threading.current_thread() is threading.main_thread()
        and not multiprocessing.current_process().daemon
    )


class Pending:
    """The result of :func:`start`: the call's value or exception, when it is ready."""

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], fork: bool) -> None:
        self._process = None
        if not fork:
            try:
                self._outcome: tuple[bool, Any] = (True, fn(*args))
            except NenscopeError as exc:
                self._outcome = (False, exc)
            return
        ctx = multiprocessing.get_context("fork")
        self._shared = mmap.mmap(-1, _shared_bytes())  # anonymous, shared with the child
        self._pipe, send = ctx.Pipe(duplex=False)
        self._process = ctx.Process(target=_child, args=(send, self._shared, fn, args), daemon=True)
        self._process.start()
        send.close()

    def result(self) -> Any:
        """The call's value (the same object at every call); raises its NenscopeError (a
        RuntimeError with the child's traceback for anything else)."""
        if self._process is not None:
            try:
                data, spans = self._pipe.recv()
                view = memoryview(self._shared)
                buffers = [view[start : start + n] for start, n in spans]
                self._outcome = pickle.loads(data, buffers=buffers)
            except EOFError:
                self._outcome = (False, RuntimeError(_died(self._process)))
            finally:
                self._pipe.close()
                self._process.join()
                self._process = None
        ok, value = self._outcome
        if not ok:
            raise value
        return value

    def cancel(self) -> None:
        """Stop the child if it still runs (the caller failed first)."""
        if self._process is not None:
            self._process.terminate()
            self._process.join()
            self._pipe.close()
            self._shared.close()
            self._process = None


def start(fn: Callable[..., Any], *args: Any, fork: bool | None = None) -> Pending:
    """Run ``fn(*args)`` in a forked child (``fork`` None: where :func:`can_fork`), else now."""
    return Pending(fn, args, can_fork() if fork is None else fork)


def _died(process: Any) -> str:
    process.join()
    return f"the child process ended without a result (exit code {process.exitcode})"


def _shared_bytes() -> int:
    """Address space shared with a child for its result's arrays (pages are used only as
    written): half the physical memory, at most 4 GiB."""
    return min(1 << 32, os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2)


def _pickled(outcome: tuple[bool, Any], shared: mmap.mmap) -> tuple[bytes, list[tuple[int, int]]]:
    """``outcome`` pickled with its array buffers copied into ``shared``: (the pickle, the
    (start, length) of each buffer); all in the pickle when they do not fit."""
    buffers: list[pickle.PickleBuffer] = []
    data = pickle.dumps(outcome, protocol=5, buffer_callback=buffers.append)
    spans, start = [], 0
    for buffer in buffers:
        raw = buffer.raw()
        if start + raw.nbytes > len(shared):
            return pickle.dumps(outcome, protocol=5), []
        shared[start : start + raw.nbytes] = raw
        spans.append((start, raw.nbytes))
        start += -(-raw.nbytes // 64) * 64  # 64-byte aligned
    return data, spans


def _child(send: Any, shared: mmap.mmap, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    # fresh stream objects: a lock of the parent's (a progress display's thread writing at
    # the moment of the fork) is never released in the child
    sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
    try:
        outcome: tuple[bool, Any] = (True, fn(*args))
    except NenscopeError as exc:
        outcome = (False, exc)
    except BaseException:  # a bug: its traceback travels as text
        outcome = (False, RuntimeError(f"in the child process:\n{traceback.format_exc()}"))
    try:
        send.send(_pickled(outcome, shared))
    except Exception as exc:  # noqa: BLE001 (an outcome that does not pickle)
        failed = (False, RuntimeError(f"child result not transferable: {exc!r}"))
        send.send((pickle.dumps(failed), []))
    finally:
        send.close()
