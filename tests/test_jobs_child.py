"""The FDG study read and analysed, and the report's figures drawn, in forked child processes
(issue 17): the same findings and figures as in one process, the child's errors raised as they
were, a child stopped when the main study fails first."""

from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import write_sstr_fdg_pair
from nenscope.errors import MissingDataError, NenscopeError
from nenscope.jobs import _child
from nenscope.jobs.analyze import run_analysis


def _pid_and(value):
    return os.getpid(), value


def _missing(what):
    raise MissingDataError(what, tag="(0018,1074)", option="--injected-mbq")


def _bug():
    return {}["absent"]


@pytest.mark.parametrize("fork", [True, False])
def test_value_and_errors_as_in_this_process(fork):
    pid, value = _child.start(_pid_and, [1.5, "x"], fork=fork).result()
    assert value == [1.5, "x"] and (pid != os.getpid()) is fork
    with pytest.raises(MissingDataError) as caught:
        _child.start(_missing, "injected activity", fork=fork).result()
    assert caught.value.tag == "(0018,1074)" and caught.value.option == "--injected-mbq"
    assert str(caught.value) == str(
        MissingDataError("injected activity", tag="(0018,1074)", option="--injected-mbq")
    )


def test_no_fork_where_the_process_is_held_to_one_core(monkeypatch):
    """Test and scheduler workers (one core each): a child would only compete with them."""
    monkeypatch.setenv("NENSCOPE_THREADS", "1")
    assert _child.can_fork() is False
    pid, _ = _child.start(_pid_and, 1).result()
    assert pid == os.getpid()
    monkeypatch.setenv("NENSCOPE_THREADS", "2")
    assert _child.can_fork() is (len(os.sched_getaffinity(0)) >= 2)


def test_no_fork_from_a_worker_thread():
    """The web service runs jobs on threads: they read the FDG study in turn instead."""
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(_child.can_fork).result() is False
        pid, _ = pool.submit(lambda: _child.start(_pid_and, 1).result()).result()
    assert pid == os.getpid()


def test_a_bug_in_the_child_keeps_its_traceback():
    with pytest.raises(RuntimeError, match=r"(?s)in the child process:.*KeyError: 'absent'"):
        _child.start(_bug, fork=True).result()


def test_cancel_stops_a_running_child():
    pending = _child.start(time.sleep, 60.0, fork=True)
    t0 = time.monotonic()
    pending.cancel()
    assert time.monotonic() - t0 < 10.0
    assert pending._process is None


@pytest.fixture(scope="module")
def studies(tmp_path_factory):
    return write_sstr_fdg_pair(tmp_path_factory.mktemp("child_fdg"))


def test_children_give_the_same_findings_and_figures(studies, tmp_path, monkeypatch):
    texts = {}
    for fork in (True, False):
        monkeypatch.setattr(_child, "can_fork", lambda fork=fork: fork)
        out = tmp_path / f"fork_{fork}"
        result = run_analysis(studies / "sstr", out, fdg_path=studies / "fdg")
        assert result.findings.summary.netpet is not None  # the FDG study was paired
        texts[fork] = [(out / f).read_text("utf-8") for f in ("findings.json", "lesions.csv")]
        texts[fork] += [(f.name, f.read_bytes()) for f in sorted((out / "figures").iterdir())]
    assert texts[True] == texts[False]


def test_the_main_study_failing_first_stops_the_fdg_child(studies, tmp_path, monkeypatch):
    monkeypatch.setattr(_child, "can_fork", lambda: True)
    with pytest.raises(NenscopeError):
        run_analysis(tmp_path / "no such study", tmp_path / "out", fdg_path=studies / "fdg")
    assert not (tmp_path / "out").exists()
    assert multiprocessing.active_children() == []
