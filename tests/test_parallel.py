"""Threads for the whole-volume steps (:mod:`nenscope.parallel`): the same numbers as one call.

The test workers run with one thread (``OMP_NUM_THREADS=1``, tests/conftest.py), so every
threaded path is forced here with ``NENSCOPE_THREADS`` and compared, bit for bit, with the
single-thread result: the CT resampled onto a PET grid (axis-aligned and oblique), the
slices of a real PET series (STS_001) read and rescaled, and a whole analysis.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest

from nenscope.imaging import load_study
from nenscope.imaging.geometry import resample_array
from nenscope.parallel import axis0_blocks, thread_count, thread_map

STS = Path(__file__).parent / "data" / "sts001_fdg" / "pet_dicom"


def test_thread_count_follows_the_environment(monkeypatch):
    monkeypatch.delenv("NENSCOPE_THREADS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert thread_count() == 1
    monkeypatch.setenv("NENSCOPE_THREADS", "3")  # nenscope's own setting wins
    assert thread_count() == 3
    monkeypatch.setenv("NENSCOPE_THREADS", "64")
    assert thread_count() == 8  # capped
    monkeypatch.delenv("NENSCOPE_THREADS")
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert thread_count() == min(len(os.sched_getaffinity(0)), 8)


def test_blocks_cover_every_index_once():
    for n in (1, 2, 7, 400):
        for parts in (1, 2, 3, 8):
            blocks = axis0_blocks(n, parts)
            assert len(blocks) == min(n, parts)
            assert np.array_equal(np.concatenate([np.arange(n)[b] for b in blocks]), np.arange(n))
            assert (
                max(b.stop - b.start for b in blocks) - min(b.stop - b.start for b in blocks) <= 1
            )


def test_thread_map_keeps_order_and_raises(monkeypatch):
    monkeypatch.setenv("NENSCOPE_THREADS", "2")
    names = thread_map(lambda i: (i, threading.current_thread().name), range(6))
    assert [i for i, _ in names] == list(range(6))
    assert any(name.startswith("nenscope") for _, name in names)  # on the pool
    nested = thread_map(lambda i: thread_map(lambda j: i * j, range(3)), range(2))
    assert nested == [[0, 0, 0], [0, 1, 2]]  # a pool thread runs its inner map itself

    def fail(i):
        if i == 3:
            raise ValueError("slice 3")
        return i

    with pytest.raises(ValueError, match="slice 3"):
        thread_map(fail, range(6))


@pytest.mark.parametrize("oblique", [False, True])
def test_resampling_on_threads_is_bitwise_the_single_call(monkeypatch, oblique):
    rng = np.random.default_rng(7)
    ct = rng.normal(0.0, 300.0, (60, 128, 128)).astype(np.float32)
    src = np.diag([2.5, 0.98, 0.98, 1.0])
    src[:3, 3] = (-300.0, -62.0, -61.0)
    tgt = np.diag([2.0, 4.0, 4.0, 1.0])
    tgt[:3, 3] = (-305.0, -80.0, -82.0)
    if oblique:  # a 5 degree tilt about the first axis: SciPy's general matrix path
        t = np.deg2rad(5.0)
        rot = np.array([[1, 0, 0], [0, np.cos(t), -np.sin(t)], [0, np.sin(t), np.cos(t)]])
        tgt[:3, :3] = rot @ tgt[:3, :3]
    shape = (80, 48, 50)  # 192,000 voxels: below the threaded size, so lower it
    monkeypatch.setattr("nenscope.imaging.geometry._THREADED_VOXELS", 1000)
    outs = {}
    for threads in ("1", "3"):
        monkeypatch.setenv("NENSCOPE_THREADS", threads)
        outs[threads] = resample_array(ct, src, tgt, shape, order=1, cval=-1000.0)
    assert outs["1"].dtype == np.float32 and outs["1"].shape == shape
    assert np.array_equal(outs["1"], outs["3"])
    assert (outs["1"] == -1000.0).any() and (outs["1"] != -1000.0).mean() > 0.3
    monkeypatch.setenv("NENSCOPE_THREADS", "3")  # labels: nearest neighbour, dtype kept
    labels = (ct > 200).astype(np.uint8)
    near = resample_array(labels, src, tgt, shape, order=0)
    monkeypatch.setenv("NENSCOPE_THREADS", "1")
    assert near.dtype == np.uint8
    assert np.array_equal(near, resample_array(labels, src, tgt, shape, order=0))


def test_a_real_series_read_on_threads_is_the_same(monkeypatch):
    monkeypatch.setenv("NENSCOPE_THREADS", "1")
    one = load_study(STS).emission.array
    monkeypatch.setenv("NENSCOPE_THREADS", "4")
    four = load_study(STS).emission.array
    assert one.dtype == np.float32 and one.shape[0] > 10
    assert np.array_equal(one, four)


def test_a_bad_slice_names_its_file_from_a_pool_thread(monkeypatch, tmp_path):
    import shutil

    import pydicom

    monkeypatch.setenv("NENSCOPE_THREADS", "2")
    folder = tmp_path / "pet"
    shutil.copytree(STS, folder)
    victim = sorted(folder.rglob("*.dcm"))[-2]
    ds = pydicom.dcmread(victim)
    ds.BitsAllocated = 12  # a width no decoder reads: the slice cannot be decoded
    ds.save_as(victim)
    with pytest.raises(Exception, match=victim.name):
        load_study(folder)
