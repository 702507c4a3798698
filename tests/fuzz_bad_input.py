"""``make fuzz``: the bad-input corpus with hypothesis, for long runs (not collected by default).

Each example draws one to four mutations (tags deleted, odd or random values, in the header or
the radiopharmaceutical sequence, on every slice or one) plus, sometimes, a structural damage,
applies them to a cropped base series (simulated PET or CT, STS_001 PET) and runs
``nenscope info`` — and, for a fraction of the examples, ``nenscope convert`` on the same
folder — in-process. Every run must end in success, success with a warning, or exit 2 with
one ``error:`` line (see :mod:`bad_input_corpus`). ``FUZZ_EXAMPLES`` sets the number of
examples (default 2000); failing examples are shrunk and printed by hypothesis.

    make fuzz                        # 2000 examples
    FUZZ_EXAMPLES=20000 make fuzz
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bad_input_corpus import (
    DELETE_TAGS,
    FAILURES,
    ODD_VALUES,
    SEQUENCE_ODD,
    SEQUENCE_TAGS,
    build_bases,
    cli_warm,
    delete,
    odd,
    random_bytes,
    run_cli,
    write_series,
)

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "2000"))
_VALUES = st.one_of(
    st.sampled_from(sorted({v for vs in ODD_VALUES.values() for v in vs})),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=20),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(2**40), 2**40).map(str),
)
_TAGS = sorted({*DELETE_TAGS, *ODD_VALUES})
_MUTATION = st.one_of(
    st.builds(delete, st.sampled_from(_TAGS)),
    st.builds(odd, st.sampled_from(_TAGS), _VALUES),
    st.builds(lambda t: delete(t, in_sequence=True), st.sampled_from(SEQUENCE_TAGS)),
    st.builds(
        lambda t, v: odd(t, v, in_sequence=True), st.sampled_from(sorted(SEQUENCE_ODD)), _VALUES
    ),
)


@pytest.fixture(scope="module")
def bases():
    cli_warm()
    root = Path(tempfile.mkdtemp(prefix="nenscope-fuzz-"))
    yield build_bases(root)
    shutil.rmtree(root, ignore_errors=True)


def _damage(folder: Path, kind: int, seed: int) -> None:
    files = sorted(folder.iterdir())
    target = files[seed % len(files)]
    if kind == 1:
        data = target.read_bytes()
        target.write_bytes(data[: seed % max(len(data), 1)])
    elif kind == 2:
        target.write_bytes(random_bytes(seed, 1 + seed % 5000))
    elif kind == 3:
        target.unlink()
    elif kind == 4:
        (folder / "copy.dcm").write_bytes(target.read_bytes())


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    base=st.sampled_from(["sim-pet", "sts-pet", "sim-ct"]),
    mutations=st.lists(st.tuples(_MUTATION, st.one_of(st.none(), st.integers(0, 7))), max_size=4),
    damage=st.tuples(st.integers(0, 4), st.integers(0, 2**20)),
    convert=st.booleans(),
)
def test_fuzz_bad_input(bases, base, mutations, damage, convert):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        write_series(folder, bases.crops[base])
        for mutate, only in mutations:
            files = [p.read_bytes() for p in sorted(folder.iterdir())]
            shutil.rmtree(folder)
            write_series(folder, files, mutate, only)
        _damage(folder, *damage)
        outcome = run_cli("fuzz/info", ["info", str(folder)], timeout_s=30)
        assert outcome.cls not in FAILURES, f"{outcome.cls}: {outcome.detail}"
        if convert and base.endswith("pet"):
            out = Path(tmp) / "out"
            argv = ["convert", str(folder), "--out", str(out), "--suv", "none"]
            outcome = run_cli("fuzz/convert", argv, timeout_s=60, out=out)
            assert outcome.cls not in FAILURES, f"{outcome.cls}: {outcome.detail}"
