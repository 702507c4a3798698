"""Atomic output: a failed write leaves the previous file intact and no temporary behind."""

from __future__ import annotations

import pytest

from nenscope.atomic import atomic_path, write_text_atomic


def test_success_replaces_and_keeps_suffix(tmp_path):
    target = tmp_path / "sub" / "labels.nii.gz"
    with atomic_path(target) as tmp:
        assert tmp.name.endswith(".nii.gz") and tmp.parent == target.parent
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in target.parent.iterdir()] == ["labels.nii.gz"]
    assert oct(target.stat().st_mode & 0o777) == "0o644"


def test_failure_keeps_old_content_and_leaves_nothing(tmp_path):
    target = write_text_atomic(tmp_path / "findings.json", '{"old": true}')
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text('{"half": ')
        raise RuntimeError("crash while writing")
    assert target.read_text() == '{"old": true}'
    assert [p.name for p in tmp_path.iterdir()] == ["findings.json"]


def test_staged_input_moves_into_the_result_set_or_is_removed(tmp_path):
    from nenscope.atomic import result_folder, staged_input

    target = tmp_path / "out"
    with staged_input(target, "dicom") as staging:
        staging.mkdir()
        (staging / "a.dcm").write_bytes(b"x")
        with result_folder(target) as tmp:
            (tmp / "findings.json").write_text("{}")
    assert (target / "dicom" / "a.dcm").read_bytes() == b"x"
    with pytest.raises(RuntimeError), staged_input(tmp_path / "failed", "dicom") as staging:
        staging.mkdir()
        raise RuntimeError("the run failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # nothing beside it
