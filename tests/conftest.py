"""Shared test fixtures: virtual patients simulated once per test run, for every test file.

A simulation of the virtual NET patient takes 3-10 s; the same patients (the CI cohort seeds,
the small 8 mm study) are used by several files that pytest-xdist runs on different worker
processes. :func:`cached_simulation` (and :func:`cached_followup`, a virtual patient pair)
simulates each configuration once per run, pickles it
into a folder shared by the workers (a file lock makes the others wait for it) and gives
every caller its own unpickled copy, so no test can change another's patient.

``make test`` runs pytest-xdist with ``--dist loadgroup``: the tests of an ``xdist_group``
run on one worker (their module fixtures are built once), and the slow tests are handed out
first (:func:`pytest_collection_modifyitems`).
"""

from __future__ import annotations

import collections
import fcntl
import hashlib
import os
import pickle
import shutil
import tempfile
import time
from pathlib import Path

import pytest

_ENV = "NENSCOPE_TEST_SIMULATION_CACHE"
# One core per xdist worker, as the cohort runner gives each Dask worker
# (nenscope.cohort.runner.SINGLE_THREAD_ENV): ITK, Numba and BLAS would otherwise start a
# thread per CPU in each worker, and two workers on two cores fight over four threads
# (SimpleITK's registration tests: a third less CPU time on one thread).
WORKER_THREADS_ENV = {
    "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


def pytest_configure(config):
    # the controller (or a run without xdist) makes the folder; xdist workers inherit it
    if not hasattr(config, "workerinput") and _ENV not in os.environ:
        os.environ[_ENV] = tempfile.mkdtemp(prefix="nenscope-test-sims-")
        config._nenscope_sim_cache = os.environ[_ENV]
    if config.getoption("dist", "no") == "loadgroup":
        # hand the work out in the workers' collection order (slow tests first, see below),
        # not with the groups of the most tests first
        config.option.loadscopereorder = False
    if config.getoption("dist", "no") != "no":  # the controller, before it starts workers
        for name, value in WORKER_THREADS_ENV.items():
            os.environ.setdefault(name, value)


_UNGROUPED = pytest.StashKey[str]()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Under ``--dist loadgroup`` every test with an ``xdist_group`` mark must carry its group
    in its node id (the worker's tag that the scheduler groups by). pytest-xdist 3.8 cannot tag
    pytest 9.2's node ids (pytest-xdist#1386): the groups would be split over the workers, each
    building the group's shared fixtures again, without a word; and schemathesis' cases
    share one node id there, of which xdist runs one (16 API operations untested). Such tests
    fail instead.

    The slow tests (``@pytest.mark.slow``, with their groups) are moved to the front: with
    xdist's reordering by group size turned off (:func:`pytest_configure`) they are handed out
    first, and the run ends on short tests on both workers."""
    if not (hasattr(config, "workerinput") and config.getoption("loadgroup", False)):
        return
    counts = collections.Counter(item.nodeid for item in items)
    for item in items:
        if item.get_closest_marker("xdist_group") is not None and "@" not in item.nodeid:
            item.stash[_UNGROUPED] = (
                f"--dist loadgroup does not group with pytest {pytest.__version__} "
                "(pytest-xdist#1386): install the pytest that pyproject.toml names (make install)"
            )
        elif counts[item.nodeid] > 1:  # xdist would run one of them only
            item.stash[_UNGROUPED] = (
                f"{counts[item.nodeid]} tests share this node id with pytest "
                f"{pytest.__version__}, so xdist runs one of them: install the pytest that "
                "pyproject.toml names (make install)"
            )
    # stable: the same order on every worker (xdist checks that the collections agree)
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_runtest_setup(item):
    if _UNGROUPED in item.stash:
        pytest.fail(item.stash[_UNGROUPED], pytrace=False)


# a module fixture that takes longer than this (s) and is built on more than one worker is
# named at the end of the run: its tests should share one xdist_group
_DUPLICATE_SETUP_S = 1.0


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef, request):
    """Record each slow module fixture's setup per xdist worker (read by
    :func:`pytest_terminal_summary`)."""
    start = time.perf_counter()
    yield
    seconds = time.perf_counter() - start
    folder, worker = os.environ.get(_ENV), os.environ.get("PYTEST_XDIST_WORKER")
    if folder and worker and fixturedef.scope == "module" and seconds >= _DUPLICATE_SETUP_S:
        with open(Path(folder) / f"setups-{worker}.tsv", "a", encoding="utf-8") as f:
            f.write(f"{fixturedef.baseid}::{fixturedef.argname}\t{seconds:.1f}\n")


def pytest_terminal_summary(terminalreporter, config):
    """Name the slow module fixtures that more than one worker built (CPU spent twice)."""
    folder = getattr(config, "_nenscope_sim_cache", None)
    built: dict[str, list[str]] = collections.defaultdict(list)
    for path in Path(folder).glob("setups-*.tsv") if folder else []:
        for line in path.read_text("utf-8").splitlines():
            name, seconds = line.split("\t")
            built[name].append(seconds)
    twice = {name: s for name, s in built.items() if len(s) > 1}
    if twice:
        terminalreporter.write_sep("-", "module fixtures built on more than one worker")
        for name, seconds in sorted(twice.items()):
            terminalreporter.write_line(
                f"{name}: {' + '.join(seconds)} s (give its tests one pytest.mark.xdist_group)"
            )


def pytest_unconfigure(config):
    folder = getattr(config, "_nenscope_sim_cache", None)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        os.environ.pop(_ENV, None)


def _cached(key_text: str, make):
    """``make()``, pickled once per test run under the hash of ``key_text``; a fresh copy
    per call."""
    folder = os.environ.get(_ENV)
    if not folder:  # imported outside pytest (e.g. tests/regression.py --record)
        return make()
    key = hashlib.sha256(key_text.encode()).hexdigest()[:20]
    path = Path(folder) / f"{key}.pkl"
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(pickle.dumps(make(), protocol=5))
            tmp.rename(path)
    return pickle.loads(path.read_bytes())


def cached_simulation(config):
    """``simulate_study(config)``, computed once per test run (an independent copy per call)."""
    from nenscope.simulation.study import simulate_study

    return _cached(repr(config), lambda: simulate_study(config))


def cached_followup(config, followup):
    """``simulate_followup(config, followup)``, computed once per test run (a copy per call)."""
    from nenscope.simulation.followup import simulate_followup

    return _cached(f"followup {config!r} {followup!r}", lambda: simulate_followup(config, followup))


def write_sstr_fdg_pair(root: Path) -> Path:
    """A small virtual patient's 68Ga-DOTATATE and 18F-FDG PET/CT (seed 11, three lesions,
    8 mm voxels; simulated once per run) written as DICOM to ``root/sstr`` and ``root/fdg``."""
    from nenscope.simulation.output import write_study
    from nenscope.simulation.study import SimulationConfig

    for tracer, folder in (("68Ga-DOTATATE", "sstr"), ("18F-FDG", "fdg")):
        cfg = SimulationConfig(tracer=tracer, seed=11, n_lesions=3, voxel_mm=8.0)
        write_study(cached_simulation(cfg), root / folder)
    return root
