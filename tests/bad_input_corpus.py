"""The bad-input mutation corpus (issue 16), shared by ``test_bad_input_corpus.py`` (CI, a fixed
list of cases) and ``fuzz_bad_input.py`` (``make fuzz``: hypothesis, longer runs).

Bases, built once from the repository's own data: the real STS_001 FDG PET
(``tests/data/sts001_fdg``) and a small simulated 68Ga-DOTATATE study (seed 11, 3 lesions,
8 mm voxels), each also cropped to a few slices for the many ``info`` cases. Each case writes
a mutated copy of a base (a tag deleted, an odd value, a damaged or extra file...) and runs
the CLI in-process; :func:`run_cli` classifies the run:

* ``ok``: exit 0, no warning;  ``warning``: exit 0 with a warning or note;
* ``error``: exit 2 with exactly one ``error:`` line on stderr;
* anything else is a failure: ``traceback`` (an exception escaped), ``hang`` (the per-case
  time limit), ``bad-exit`` (another exit code, or an error without its one line),
  ``partial`` (an output folder left after an error, or one missing its files), ``leak``
  (the patient name printed).
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import socket
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import Tag
from pydicom.uid import generate_uid

REPO_TESTS = Path(__file__).resolve().parent
STS_PET = REPO_TESTS / "data" / "sts001_fdg" / "pet_dicom"
STS_RTSTRUCT = REPO_TESTS / "data" / "sts001_fdg" / "rtstruct"
#: Written into every base so that a leak can be found in the output.
SECRET_NAME = "Zyxwv^Confidential"
CROP_SLICES = 8
FAILURES = ("traceback", "hang", "bad-exit", "partial", "leak")

# Tags of the list and the SUV, geometry and identity tags, deleted in turn.
DELETE_TAGS = (
    "PatientBirthDate",
    "PatientSex",
    "PatientID",
    "PatientName",
    "StudyDate",
    "StudyTime",
    "StudyInstanceUID",
    "StudyID",
    "AccessionNumber",
    "SOPInstanceUID",
    "SliceThickness",
    "FrameOfReferenceUID",
    "PatientWeight",
    "PatientSize",
    "Units",
    "DecayCorrection",
    "CorrectedImage",
    "SeriesDate",
    "SeriesTime",
    "AcquisitionDate",
    "AcquisitionTime",
    "RescaleSlope",
    "RescaleIntercept",
    "ImagePositionPatient",
    "ImageOrientationPatient",
    "PixelSpacing",
    "Rows",
    "Columns",
    "BitsAllocated",
    "PixelData",
    "Modality",
    "SeriesInstanceUID",
    "SOPClassUID",
    "NumberOfSlices",
    "ImageIndex",
    "SpecificCharacterSet",
    "RadiopharmaceuticalInformationSequence",
)
SEQUENCE_TAGS = (
    "RadionuclideTotalDose",
    "RadionuclideHalfLife",
    "RadiopharmaceuticalStartDateTime",
    "RadiopharmaceuticalStartTime",
    "RadionuclideCodeSequence",
)
_DS_ODD = ("0", "-1", "abc", "1e309", "nan", "1\\2", "")
ODD_VALUES: dict[str, tuple[str, ...]] = {
    "PatientWeight": _DS_ODD + ("70kg", "7000"),
    "PatientSize": _DS_ODD + ("175",),
    "RescaleSlope": _DS_ODD,
    "RescaleIntercept": ("abc", "1e309", "-1000"),
    "SliceThickness": ("0", "-3", "abc"),
    "PixelSpacing": ("0\\0", "1e-6\\1e-6", "abc\\1", "1", "1e9\\1e9"),
    "ImagePositionPatient": ("0\\0", "abc\\0\\0", "nan\\nan\\nan", "1e300\\0\\0"),
    "ImageOrientationPatient": ("1\\0\\0\\1\\0\\0", "0\\0\\0\\0\\0\\0", "1\\0\\0\\0\\1"),
    "SeriesDate": ("2026-01-15", "20260230", "abc", "2026.01.15"),
    "SeriesTime": ("10:15:00", "99", "abc", "101500.1234567", "1015"),
    "AcquisitionTime": ("10:15", "250000", "abc"),
    "StudyDate": ("2026-01-15", "x"),
    "PatientBirthDate": ("1960-02-30", "abc"),
    "Units": ("XYZ", "GML", "CNTS", "CM2ML", "bqml"),
    "DecayCorrection": ("XYZ", "NONE", "ADMIN"),
    "SUVType": ("LBMJAMES128", "IBW", "XYZ"),
    "SpecificCharacterSet": ("ISO_IR 999", "ISO_IR 192", "\\ISO 2022 IR 87"),
    "PatientSex": ("X", "O", "female"),
    "PatientAge": ("abc", "999Y"),
    "Rows": ("0", "65535"),
    "Columns": ("1",),
    "BitsAllocated": ("0", "12", "64"),
    "NumberOfFrames": ("0", "-1", "100000", "abc"),
    "NumberOfSlices": ("1000", "0"),
    "Modality": ("MR", "NM", ""),
    "FrameReferenceTime": ("abc", "-5", "1e12"),
    "ActualFrameDuration": ("0", "abc"),
}
SEQUENCE_ODD: dict[str, tuple[str, ...]] = {
    "RadionuclideTotalDose": ("0", "-1", "abc", "1e300", "370"),
    "RadionuclideHalfLife": ("0", "abc", "1e20"),
    "RadiopharmaceuticalStartDateTime": ("2026-01-15T09:00:00", "abc", "20260115250000"),
    "RadiopharmaceuticalStartTime": ("23:59", "abc"),
}


@dataclass
class Outcome:
    """How one CLI run ended."""

    name: str
    cls: str
    code: int | None
    detail: str = ""
    text: str = ""  # everything printed


@dataclass
class Case:
    """One corpus case: ``build(folder) -> argv`` (``{out}`` in argv is the output folder),
    the command it runs, and what the issue says it must give (``None``: any valid outcome).
    """

    name: str
    build: Callable[[Path], list[str]]
    expect: str | None = None
    contains: str | None = None
    out_files: tuple[str, ...] = ()
    timeout_s: float = 30.0
    tags: tuple[str, ...] = field(default_factory=tuple)


# ---- bases -----------------------------------------------------------------------------


def _secret(ds: Dataset) -> Dataset:
    ds.PatientName = SECRET_NAME
    return ds


def _renumber(datasets: list[Dataset]) -> list[Dataset]:
    """Crop bookkeeping: ImageIndex 1..n, NumberOfSlices n (so a crop is a whole series)."""
    for k, ds in enumerate(datasets, start=1):
        if "ImageIndex" in ds or ds.get("Modality") == "PT":
            ds.ImageIndex = k
        if "NumberOfSlices" in ds or ds.get("Modality") == "PT":
            ds.NumberOfSlices = len(datasets)
    return datasets


def _sorted_along_z(folder: Path) -> list[Dataset]:
    out = [pydicom.dcmread(p) for p in sorted(folder.iterdir()) if p.is_file()]
    return sorted(out, key=lambda d: float(d.ImagePositionPatient[2]))


def _to_bytes(ds: Dataset) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=False)
    return buf.getvalue()


@dataclass
class Bases:
    """The inputs every case copies: file contents of cropped series, and full studies."""

    root: Path
    crops: dict[str, list[bytes]]
    sim_study: Path
    sts_study: Path


def build_bases(root: Path) -> Bases:
    """Write the simulated study and STS_001 (patient name replaced by :data:`SECRET_NAME`)
    under ``root`` and keep cropped copies of their series in memory."""
    from conftest import cached_simulation
    from nenscope.simulation.output import write_study
    from nenscope.simulation.study import SimulationConfig

    sim = root / "sim"
    cfg = SimulationConfig(tracer="68Ga-DOTATATE", seed=11, n_lesions=3, voxel_mm=8.0)
    write_study(cached_simulation(cfg), sim)
    shutil.rmtree(sim / "truth")
    for sub in ("pet", "ct"):
        for path in (sim / sub).iterdir():
            _secret(pydicom.dcmread(path)).save_as(path)
    sts = root / "sts"
    (sts / "pet").mkdir(parents=True)
    for path in STS_PET.iterdir():
        _secret(pydicom.dcmread(path)).save_as(sts / "pet" / path.name)
    crops = {}
    for name, folder in (
        ("sim-pet", sim / "pet"),
        ("sim-ct", sim / "ct"),
        ("sts-pet", sts / "pet"),
    ):
        series = _sorted_along_z(folder)
        mid = len(series) // 2
        crops[name] = [_to_bytes(d) for d in _renumber(series[mid : mid + CROP_SLICES])]
    return Bases(root, crops, sim, sts)


# ---- mutations -------------------------------------------------------------------------


def set_raw(ds: Dataset, keyword: str, value: str) -> None:
    """Store ``value`` as the raw bytes of ``keyword`` whatever its VR (a broken writer)."""
    tag = Tag(keyword)
    raw = value.encode("latin-1", "replace")
    if len(raw) % 2:
        raw += b" "
    vr = pydicom.datadict.dictionary_VR(tag)
    ds[tag] = RawDataElement(tag, "UN" if vr == "SQ" else vr, len(raw), raw, 0, False, True)


def _item(ds: Dataset) -> Dataset | None:
    seq = ds.get("RadiopharmaceuticalInformationSequence")
    return seq[0] if seq else None


Mutation = Callable[[Dataset], None]


def delete(keyword: str, *, in_sequence: bool = False) -> Mutation:
    def apply(ds: Dataset) -> None:
        target = _item(ds) if in_sequence else ds
        if target is not None and keyword in target:
            delattr(target, keyword)

    return apply


def odd(keyword: str, value: str, *, in_sequence: bool = False) -> Mutation:
    def apply(ds: Dataset) -> None:
        target = _item(ds) if in_sequence else ds
        if target is not None:
            set_raw(target, keyword, value)

    return apply


def write_series(
    folder: Path, files: list[bytes], mutate: Mutation | None = None, only: int | None = None
) -> list[Path]:
    """Write ``files`` into ``folder``, applying ``mutate`` to all (or file ``only``)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, data in enumerate(files):
        if mutate is not None and (only is None or only == k):
            try:  # an earlier mutation may leave a file pydicom cannot parse or write again
                ds = pydicom.dcmread(io.BytesIO(data))
                mutate(ds)
                data = _to_bytes(ds)
            except Exception:  # the harness cannot apply this one: the file stays as it was
                pass
        path = folder / f"im{k:04d}.dcm"
        path.write_bytes(data)
        paths.append(path)
    return paths


def zip_folder(folder: Path, archive: Path, extra: Iterable[tuple[str, bytes]] = ()) -> Path:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.iterdir()):
            zf.write(path, path.name)
        for name, data in extra:
            zf.writestr(name, data)
    return archive


def with_new_uids(ds: Dataset) -> None:
    ds.SOPInstanceUID = generate_uid()


def other_patient(ds: Dataset) -> None:
    ds.PatientID = "ANOTHER-PATIENT-42"


def specials(folder: Path, kind: str) -> None:
    """Add a non-regular entry to ``folder``: a FIFO, a symlink loop or a socket."""
    if kind == "fifo":
        os.mkfifo(folder / "pipe.dcm")
    elif kind == "loop":
        (folder / "a.dcm").symlink_to(folder / "b.dcm")
        (folder / "b.dcm").symlink_to(folder / "a.dcm")
    elif kind == "socket":
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(folder / "sock"))
        sock.close()  # the socket file stays


def random_bytes(seed: int, n: int) -> bytes:
    return np.random.default_rng(seed).bytes(n)


# ---- running ---------------------------------------------------------------------------


class _Timeout(BaseException):
    """Raised in the main thread when a case runs past its limit."""


def _alarm(signum, frame):  # noqa: ARG001 - signal handler signature
    raise _Timeout


def _one_error_line(stderr: str) -> bool:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    return len(errors) == 1 and "Traceback" not in stderr


def run_cli(
    name: str,
    argv: list[str],
    *,
    timeout_s: float,
    out: Path | None = None,
    out_files: tuple[str, ...] = (),
) -> Outcome:
    """Run ``nenscope argv`` in-process with a time limit; classify the outcome."""
    from nenscope.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    code: int | None = None
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = main(argv)
    except _Timeout:
        return Outcome(name, "hang", None, f"over {timeout_s} s")
    except Exception as exc:  # an escaped exception is what the corpus exists to find
        return Outcome(name, "traceback", None, f"{type(exc).__name__}: {str(exc)[:300]}")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    text_out, text_err = stdout.getvalue(), stderr.getvalue()
    both = text_out + text_err
    if any(part in both for part in SECRET_NAME.split("^")):
        return Outcome(name, "leak", code, "the patient name was printed")
    if code == 2 and _one_error_line(text_err):
        if out is not None and out.exists():
            return Outcome(name, "partial", code, f"{out} left after an error", both)
        return Outcome(name, "error", code, text_err.strip().splitlines()[-1][:300], both)
    if code == 0:
        if out is not None:
            missing = [f for f in out_files if not (out / f).exists()]
            leftovers = [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}")]
            if missing or leftovers:
                return Outcome(
                    name, "partial", code, f"missing {missing}, leftovers {leftovers}", both
                )
        warned = any(w in both.lower() for w in ("warning", "note:", "skipped"))
        return Outcome(name, "warning" if warned else "ok", code, both.strip()[-300:], both)
    return Outcome(name, "bad-exit", code, both.strip()[-300:], both)


def run_case(case: Case, workdir: Path) -> Outcome:
    """Build ``case`` in ``workdir`` and run it."""
    workdir.mkdir(parents=True, exist_ok=True)
    argv = case.build(workdir)
    out = workdir / "out"
    argv = [str(a).replace("{out}", str(out)) for a in argv]
    uses_out = any(str(out) == a for a in argv)
    outcome = run_cli(
        case.name,
        argv,
        timeout_s=case.timeout_s,
        out=out if uses_out else None,
        out_files=case.out_files,
    )
    if outcome.cls in FAILURES:
        return outcome
    if case.expect is not None and outcome.cls not in case.expect.split("|"):
        return Outcome(
            case.name,
            "wrong",
            outcome.code,
            f"expected {case.expect}, got {outcome.cls}: " + outcome.detail,
        )
    # Rich wraps long messages at the terminal width: compare with the whitespace folded
    if case.contains is not None and case.contains not in " ".join(outcome.text.split()):
        return Outcome(
            case.name, "wrong", outcome.code, f"no {case.contains!r} in {outcome.detail}"
        )
    return outcome


@lru_cache(maxsize=1)
def cli_warm() -> None:
    """Import the CLI once (the first import costs seconds: not a case's time)."""
    import nenscope.cli  # noqa: F401
