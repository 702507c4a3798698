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
