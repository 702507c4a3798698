"""Bad input never crashes, hangs or loses results (issue 16): the mutation corpus in CI.

Several hundred inputs built from the repository's own data (STS_001 PET, a simulated
68Ga-DOTATATE study) — each tag of the issue's list deleted in turn, odd values, truncated,
zero-byte and random files, missing and duplicated slices, mixed series and patients, a FIFO,
a symlink loop, malicious zips — run through the CLI in-process (``info`` on most, ``analyze``,
``radiomics`` and ``dosimetry`` on a representative subset). Every run must end in success,
success with a warning, or exit 2 with one ``error:`` line: no traceback, no hang, no
half-written output folder, no patient name printed; the cases the issue found silently wrong
must give the outcome stated here. The counts per class are printed at the end.
"""

from __future__ import annotations

import collections
import io
from datetime import datetime, timedelta

import nibabel as nib
import numpy as np
import pydicom
import pytest

from bad_input_corpus import (
    DELETE_TAGS,
    FAILURES,
    ODD_VALUES,
    SEQUENCE_ODD,
    SEQUENCE_TAGS,
    STS_RTSTRUCT,
    Case,
    build_bases,
    cli_warm,
    delete,
    odd,
    other_patient,
    random_bytes,
    run_case,
    specials,
    with_new_uids,
    write_series,
    zip_folder,
)

pytestmark = [pytest.mark.xdist_group("bad_input_corpus"), pytest.mark.slow]
ANALYZE_FILES = ("findings.json", "lesions.csv", "lesions.nii.gz", "report.html")


def _info(base, files, mutate=None, only=None, *, json_out=False, after=None):
    def build(work):
        write_series(work / "in", files[base], mutate, only)
        if after is not None:
            after(work / "in")
        return ["info", str(work / "in"), *(["--json"] if json_out else [])]

    return build


def _structural(name: str, files: list[bytes]):
    """(suffix, after) pairs: damage done to a written series folder."""

    def truncate(frac):
        def after(folder):
            path = sorted(folder.iterdir())[3]
            data = path.read_bytes()
            path.write_bytes(data[: int(len(data) * frac)])

        return after

    def add(filename, data):
        return lambda folder: (folder / filename).write_bytes(data)

    def remove(index):
        return lambda folder: sorted(folder.iterdir())[index].unlink()

    def duplicate(folder):
        first = sorted(folder.iterdir())[0]
        (folder / "copy.dcm").write_bytes(first.read_bytes())

    def duplicate_new_uid(folder):
        first = sorted(folder.iterdir())[0]
        ds = pydicom.dcmread(first)
        with_new_uids(ds)
        ds.save_as(folder / "copy_uid.dcm")

    def second_series(folder):
        for path in sorted(folder.iterdir()):
            ds = pydicom.dcmread(path)
            ds.SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.99"
            with_new_uids(ds)
            ds.save_as(folder / f"b_{path.name}")

    def other_patient_slice(folder):
        path = sorted(folder.iterdir())[2]
        ds = pydicom.dcmread(path)
        other_patient(ds)
        ds.save_as(path)

    def zipped(extra=(), corrupt=False):
        def after(folder):
            archive = zip_folder(folder, folder.parent / "in.zip", extra)
            if corrupt:
                data = bytearray(archive.read_bytes())
                data[len(data) // 3 : len(data) // 3 + 16] = b"\xa5" * 16
                archive.write_bytes(bytes(data))

        return after

    return [
        ("truncated-header", truncate(0.05)),
        ("truncated-half", truncate(0.5)),
        ("truncated-end", truncate(0.97)),
        ("truncated-zero", truncate(0.0)),
        ("zero-byte-extra", add("zero.dcm", b"")),
        ("random-extra-1", add("random1.dcm", random_bytes(1, 4096))),
        ("random-extra-2", add("random2", random_bytes(2, 300))),
        ("dicm-junk", add("junk.dcm", b"\0" * 128 + b"DICM" + random_bytes(3, 500))),
        ("missing-first", remove(0)),
        ("missing-middle", remove(4)),
        ("missing-last", remove(-1)),
        ("duplicate-file", duplicate),
        ("duplicate-new-uid", duplicate_new_uid),
        ("second-series", second_series),
        ("other-patient-slice", other_patient_slice),
        ("fifo", lambda f: specials(f, "fifo")),
        ("symlink-loop", lambda f: specials(f, "loop")),
        ("socket", lambda f: specials(f, "socket")),
        ("zip", zipped()),
        ("zip-bomb", zipped([("bomb.dcm", b"\0" * (4 * 2**20))])),
        ("zip-slip", zipped([("../../../escape.dcm", b"x" * 64), ("/abs/x.dcm", b"y")])),
        ("zip-corrupt-member", zipped(corrupt=True)),
    ]


# what the issue found and what it must give now (class, text in the output)
_INFO_EXPECT = {
    ("delete-all", "RescaleSlope"): ("warning", "RescaleSlope (0028,1053)"),
    ("odd-all", "RescaleSlope", "0"): ("warning", "RescaleSlope (0028,1053)"),
    ("odd-all", "RescaleSlope", "abc"): ("warning", "RescaleSlope (0028,1053)"),
    ("odd-all", "SeriesDate", "2026-01-15"): ("warning", "read leniently"),
    ("odd-all", "SpecificCharacterSet", "ISO_IR 999"): ("warning", "not a known character set"),
    ("odd-all", "PatientWeight", "abc"): ("warning", "PatientWeight (0010,1030) = 'abc'"),
    ("struct", "other-patient-slice"): ("warning", "PatientID (0010,0020)"),
    ("struct", "fifo"): ("warning", "named pipe"),
    ("struct", "symlink-loop"): ("warning", "symbolic link loop"),
    ("struct", "zip-bomb"): ("warning", "zip bomb guard"),
    ("struct", "zip-slip"): ("warning", "leaves the archive"),
}


def info_cases(files) -> list[Case]:
    cases = []
    for base in ("sim-pet", "sts-pet", "sim-ct"):
        pet = base.endswith("pet")
        for tag in DELETE_TAGS:
            exp = _INFO_EXPECT.get(("delete-all", tag)) if pet else None
            cases.append(
                Case(f"info/{base}/delete-all/{tag}", _info(base, files, delete(tag)), *(exp or ()))
            )
            if pet:
                cases.append(
                    Case(f"info/{base}/delete-one/{tag}", _info(base, files, delete(tag), 3))
                )
        if not pet:
            continue
        for tag, values in ODD_VALUES.items():
            for value in values:
                exp = _INFO_EXPECT.get(("odd-all", tag, value))
                cases.append(
                    Case(
                        f"info/{base}/odd/{tag}={value!r}",
                        _info(base, files, odd(tag, value)),
                        *(exp or ()),
                    )
                )
        for tag in SEQUENCE_TAGS:
            mutate = delete(tag, in_sequence=True)
            cases.append(
                Case(f"info/{base}/seq-delete/{tag}", _info(base, files, mutate, json_out=True))
            )
        for tag, values in SEQUENCE_ODD.items():
            for value in values:
                mutate = odd(tag, value, in_sequence=True)
                cases.append(
                    Case(f"info/{base}/seq-odd/{tag}={value!r}", _info(base, files, mutate))
                )
        for suffix, after in _structural(base, files[base]):
            exp = _INFO_EXPECT.get(("struct", suffix))
            for json_out in (False, True):

                def build(work, after=after, json_out=json_out, base=base):
                    write_series(work / "in", files[base])
                    after(work / "in")
                    target = work / "in.zip" if (work / "in.zip").exists() else work / "in"
                    return ["info", str(target), *(["--json"] if json_out else [])]

                cases.append(
                    Case(
                        f"info/{base}/{suffix}{'/json' if json_out else ''}",
                        build,
                        *(exp if exp and not json_out else ()),
                    )
                )
    return cases


# ---- analyze, radiomics, dosimetry on a representative subset ----------------------------


def _study_copy(bases, work, mutate=None, *, ct_mutate=None, after=None):
    """The full simulated study (PET + CT) copied into ``work/study`` with mutations."""
    for sub, mut in (("pet", mutate), ("ct", ct_mutate)):
        src = bases.sim_study / sub
        files = [p.read_bytes() for p in sorted(src.iterdir())]
        write_series(work / "study" / sub, files, mut)
    if after is not None:
        after(work / "study" / "pet")
    return work / "study"


def _several(*mutations):
    def apply(ds):
        for m in mutations:
            m(ds)

    return apply


def analyze_cases(bases) -> list[Case]:
    def analyze(mutate=None, **kw):
        return lambda work: [
            "analyze",
            str(_study_copy(bases, work, mutate, **kw)),
            "--out",
            "{out}",
        ]

    type2 = [
        delete(t)
        for t in (
            "PatientBirthDate",
            "PatientSex",
            "PatientID",
            "PatientName",
            "StudyID",
            "AccessionNumber",
            "StudyTime",
            "SOPInstanceUID",
        )
    ]
    degraded = _several(
        *type2, odd("StudyDate", "2026-01-15"), odd("SpecificCharacterSet", "ISO_IR 999")
    )
    return [
        Case(
            "analyze/sim/type2-dates-charset",
            analyze(degraded),
            "warning",
            out_files=(*ANALYZE_FILES, "lesions.seg.dcm"),
            timeout_s=120,
        ),
        Case(
            "analyze/sim/no-frame-of-reference",
            analyze(delete("FrameOfReferenceUID")),
            "warning",
            "DICOM-SEG not written",
            out_files=ANALYZE_FILES,
            timeout_s=120,
        ),
        Case(
            "analyze/sim/fifo-and-loop",
            analyze(after=lambda f: (specials(f, "fifo"), specials(f, "loop"))),
            "warning",
            out_files=ANALYZE_FILES,
            timeout_s=120,
        ),
        Case(
            "analyze/sim/no-rescale-slope", analyze(delete("RescaleSlope")), "error", "RescaleSlope"
        ),
        Case(
            "analyze/sim/zero-rescale-slope",
            analyze(odd("RescaleSlope", "0")),
            "error",
            "RescaleSlope",
        ),
        Case(
            "analyze/sim/injection-after-scan",
            analyze(_shift_injection(2.0)),
            "error",
            "after the scan",
        ),
        Case(
            "analyze/sim/another-patients-ct",
            analyze(ct_mutate=other_patient),
            "error",
            "PatientID",
        ),
        Case(
            "analyze/sim/missing-middle-slice",
            analyze(after=lambda f: sorted(f.iterdir())[60].unlink()),
            "error",
            "missing",
        ),
    ]


def _sts_with(bases, work, mutate=None):
    files = [p.read_bytes() for p in sorted((bases.sts_study / "pet").iterdir())]
    write_series(work / "pet", files, mutate)
    return work / "pet"


def _shift_injection(hours: float):
    """Injection date/time = the series date/time + ``hours`` (negative: before the scan)."""

    def apply(ds):
        scan = datetime.strptime(str(ds.SeriesDate) + str(ds.SeriesTime)[:6], "%Y%m%d%H%M%S")
        item = ds.RadiopharmaceuticalInformationSequence[0]
        when = scan + timedelta(hours=hours)
        item.RadiopharmaceuticalStartDateTime = when.strftime("%Y%m%d%H%M%S")
        item.RadiopharmaceuticalStartTime = when.strftime("%H%M%S")

    return apply


def _nifti_pair(work, *, mask_voxels=None, nan=False, truncate=False, mask_mm=4.0):
    img = np.random.default_rng(4).gamma(2.0, 2.0, (20, 20, 20)).astype(np.float32)
    mask = np.zeros(img.shape, np.uint8)
    if mask_voxels is None:
        mask[6:14, 6:14, 6:14] = 1
    else:
        for v in mask_voxels:
            mask[v] = 1
    if nan:
        img[10, 10, 10] = np.nan
    affine = np.diag([4.0, 4.0, 4.0, 1.0])
    nib.save(nib.Nifti1Image(img, affine), work / "image.nii.gz")
    nib.save(nib.Nifti1Image(mask, np.diag([mask_mm] * 3 + [1.0])), work / "mask.nii.gz")
    if truncate:
        data = (work / "mask.nii.gz").read_bytes()
        (work / "mask.nii.gz").write_bytes(data[: len(data) // 2])
    return [str(work / "image.nii.gz"), str(work / "mask.nii.gz")]


def radiomics_cases(bases) -> list[Case]:
    def sts(mutate=None):
        def build(work):
            pet = _sts_with(bases, work, mutate)
            rt = next(STS_RTSTRUCT.iterdir())
            return ["radiomics", "extract", str(pet), str(rt), "--roi", "GTV_Mass", "--json"]

        return build

    def nifti(**kw):
        return lambda work: ["radiomics", "extract", *_nifti_pair(work, **kw), "--json"]

    return [
        Case("radiomics/sts/gtv", sts(), "ok|warning", timeout_s=120),
        Case(
            "radiomics/sts/three-days-after-injection",
            sts(_shift_injection(-72.0)),
            "error",
            "half-lives",
            timeout_s=120,
        ),
        Case("radiomics/nifti/one-voxel-json", nifti(mask_voxels=[(10, 10, 10)]), "ok|warning"),
        Case(
            "radiomics/nifti/two-voxels-json",
            nifti(mask_voxels=[(10, 10, 10), (10, 10, 11)]),
            "ok|warning",
        ),
        Case("radiomics/nifti/nan-in-roi", nifti(nan=True), "error", "NaN"),
        Case("radiomics/nifti/truncated-mask", nifti(truncate=True), "error", "NIfTI"),
        Case(
            "radiomics/nifti/mask-of-another-grid",
            nifti(mask_mm=3.0),
            "error",
            "not on the image grid",
        ),
    ]


def _tac(work, rows, encoding="utf-8"):
    text = "region,time_h,activity_mbq,mass_g\n" + "\n".join(rows) + "\n"
    (work / "tac.csv").write_bytes(text.encode(encoding))
    return str(work / "tac.csv")


_KIDNEY = [f"kidney_left,{t},{30 * 2 ** (-t / 50):.6g},150" for t in (4, 24, 72, 168)]


def dosimetry_cases() -> list[Case]:
    def dosi(rows, *extra, encoding="utf-8"):
        return lambda work: [
            "dosimetry",
            "--tac-csv",
            _tac(work, rows, encoding),
            *extra,
            "--out",
            "{out}",
        ]

    neg = [r.replace(",150", ",-150") for r in _KIDNEY]
    zero = [r.replace(",150", ",0") for r in _KIDNEY]
    huge = [r.split(",")[0] + f",{r.split(',')[1]},1e300,150" for r in _KIDNEY]
    latin = [r.replace("kidney_left", "rein_gauche_\xe9") for r in _KIDNEY]
    files = ("dosimetry.json",)
    return [
        Case(
            "dosimetry/tac/ok",
            dosi(_KIDNEY, "--injected-gbq", "7.4"),
            "ok|warning",
            out_files=files,
        ),
        Case(
            "dosimetry/tac/latin-1", dosi(latin, encoding="latin-1"), "ok|warning", out_files=files
        ),
        Case("dosimetry/tac/negative-mass", dosi(neg), "error", "mass -150 g"),
        Case("dosimetry/tac/zero-mass", dosi(zero), "error", "mass 0 g"),
        Case(
            "dosimetry/tac/negative-injected",
            dosi(_KIDNEY, "--injected-gbq", "-7.4"),
            "error",
            "GBq",
        ),
        Case("dosimetry/tac/1e300-mbq", dosi(huge), "error", "MBq"),
        Case(
            "dosimetry/tac/one-time-point",
            dosi(_KIDNEY[2:3]),
            "warning",
            "one time point",
            out_files=files,
        ),
        Case(
            "dosimetry/tac/two-time-points",
            dosi(_KIDNEY[1:3]),
            "warning",
            "too few",
            out_files=files,
        ),
    ]


def output_cases(bases) -> list[Case]:
    """--out under or at a regular file, and a re-run into an earlier result set."""

    def blocked(argv_tail, sub):
        def build(work):
            (work / "file").write_text("a regular file")
            target = work / "file" / sub if sub else work / "file"
            return [*argv_tail(work), "--out", str(target)]

        return build

    def tac(work):
        return ["dosimetry", "--tac-csv", _tac(work, _KIDNEY)]

    def pet(work):
        return ["convert", str(bases.sim_study / "pet")]

    def rerun(work):
        from nenscope.cli import main

        first = [*tac(work), "--out", str(work / "out")]
        assert main(first) == 0  # an earlier complete set
        (work / "out" / "stale.txt").write_text("from an earlier run")
        return first

    return [
        Case("output/dosimetry-out-under-a-file", blocked(tac, "out"), "error", "is a file"),
        Case("output/dosimetry-out-is-a-file", blocked(tac, None), "error", "is a file"),
        Case("output/convert-out-under-a-file", blocked(pet, "nifti"), "error", "is a file"),
        Case(
            "output/dosimetry-rerun-replaces-the-set",
            rerun,
            "ok|warning",
            out_files=("dosimetry.json",),
        ),
    ]


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    cli_warm()
    return build_bases(tmp_path_factory.mktemp("bases"))


def test_bad_input_corpus(bases, tmp_path):
    cases = (
        info_cases(bases.crops)
        + analyze_cases(bases)
        + radiomics_cases(bases)
        + dosimetry_cases()
        + output_cases(bases)
    )
    outcomes = [run_case(case, tmp_path / f"c{k:04d}") for k, case in enumerate(cases)]
    counts = collections.Counter(o.cls for o in outcomes)
    by_command = collections.Counter(c.name.split("/")[0] for c in cases)
    print(
        f"\nbad-input corpus: {len(outcomes)} cases ({dict(by_command)}); classes: {dict(counts)}"
    )
    bad = [o for o in outcomes if o.cls in (*FAILURES, "wrong")]
    stale = [p for p in tmp_path.glob("c*/out/stale.txt")]  # a re-run never mixes two sets
    assert not stale, f"stale files survived a re-run: {stale}"
    report = io.StringIO()
    for o in bad[:25]:
        report.write(f"\n  {o.cls}: {o.name}: {o.detail}")
    assert len(outcomes) >= 500
    assert not bad, f"{len(bad)} failing cases:{report.getvalue()}"
