"""One patient, one study: the identity of a series, checked across its slices and between the
studies that are combined (PET and CT, FDG, a prior study, dosimetry time points).

PatientID, PatientName, PatientBirthDate, PatientSex, PatientWeight and StudyInstanceUID are
compared where both sides carry them (anonymised data often lack some: an absent value is not
a mismatch). Within one study the weight must agree to :data:`WEIGHT_RTOL_SAME_STUDY` and the
study UID exactly; between studies (days or months apart) the weight may change by up to
:data:`WEIGHT_RTOL_BETWEEN_STUDIES` and the study UIDs differ by nature. A mismatch raises a
:class:`~nenscope.errors.NenscopeError` naming both values, except patient names, which are
never printed; ``allow_mismatch`` (``--allow-mismatch``) turns it into warnings for research
data that mix subjects on purpose.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from pydicom.dataset import Dataset

from nenscope.errors import NenscopeError
from nenscope.imaging._dicom import get_float, get_str
from nenscope.imaging.headercheck import raw_text

#: Largest relative weight difference within one study (slices, PET and its CT).
WEIGHT_RTOL_SAME_STUDY = 0.005
#: Largest relative weight difference between studies of the same patient.
WEIGHT_RTOL_BETWEEN_STUDIES = 0.15

_FIELDS = (
    ("patient_id", "PatientID (0010,0020)"),
    ("name", "PatientName (0010,0010)"),
    ("birth_date", "PatientBirthDate (0010,0030)"),
    ("sex", "PatientSex (0010,0040)"),
)


@dataclass(frozen=True)
class PatientIdentity:
    """Who and which study a series belongs to (``name`` is compared, never shown)."""

    patient_id: str | None = None
    name: str | None = field(default=None, repr=False)
    birth_date: str | None = None
    sex: str | None = None
    weight_kg: float | None = None
    study_instance_uid: str | None = None
    label: str = ""

    def __str__(self) -> str:
        return self.label or f"patient {self.patient_id or '(no PatientID)'}"


def _norm_name(ds: Dataset) -> str | None:
    text = raw_text(ds, "PatientName")  # undecoded: a writer still sees the original bytes
    return " ".join(text.upper().replace("^", " ").split()) if text else None


def _birth(ds: Dataset) -> str | None:
    digits = "".join(ch for ch in get_str(ds, "PatientBirthDate") or "" if ch.isdigit())
    return digits or None


def identity_of(ds: Dataset, label: str = "") -> PatientIdentity:
    """The identity written in one header."""
    sex = (get_str(ds, "PatientSex") or "").upper()[:1] or None
    weight = get_float(ds, "PatientWeight")
    return PatientIdentity(
        patient_id=get_str(ds, "PatientID"),
        name=_norm_name(ds),
        birth_date=_birth(ds),
        sex=sex,
        weight_kg=weight if weight and weight > 0 else None,
        study_instance_uid=get_str(ds, "StudyInstanceUID"),
        label=label,
    )


def _shown(attr: str, value: object) -> str:
    return "(names withheld)" if attr == "name" else repr(value)


def differences(a: PatientIdentity, b: PatientIdentity, *, same_study: bool) -> list[str]:
    """What differs between two identities (values both sides carry), one phrase each."""
    out = []
    for attr, tag in _FIELDS:
        va, vb = getattr(a, attr), getattr(b, attr)
        if va is not None and vb is not None and va != vb:
            shown = "" if attr == "name" else f": {_shown(attr, va)} vs {_shown(attr, vb)}"
            out.append(f"{tag} differs between {a} and {b}{shown}")
    rtol = WEIGHT_RTOL_SAME_STUDY if same_study else WEIGHT_RTOL_BETWEEN_STUDIES
    if a.weight_kg and b.weight_kg and abs(a.weight_kg / b.weight_kg - 1.0) > rtol:
        out.append(
            f"PatientWeight (0010,1030) differs between {a} and {b}: {a.weight_kg:g} kg vs "
            f"{b.weight_kg:g} kg (tolerance {rtol:.1%})"
        )
    if same_study and a.study_instance_uid and b.study_instance_uid:
        if a.study_instance_uid != b.study_instance_uid:
            out.append(
                f"StudyInstanceUID (0020,000D) differs between {a} and {b}: "
                f"{a.study_instance_uid} vs {b.study_instance_uid}"
            )
    return out


def _resolve(problems: list[str], allow_mismatch: bool) -> list[str]:
    if problems and not allow_mismatch:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise NenscopeError(
            f"{'; '.join(problems[:3])}{more}: these are not one patient's images; use "
            "--allow-mismatch only for research data that mix them on purpose"
        )
    return [f"identity mismatch allowed (--allow-mismatch): {p}" for p in problems]


def check_series_identity(
    datasets: Sequence[Dataset], label: str, *, allow_mismatch: bool = False
) -> tuple[PatientIdentity, list[str]]:
    """The identity of a series, after checking that its slices agree with the first.

    Returns the identity and the warnings (mismatches allowed with ``allow_mismatch``).

    Raises:
        NenscopeError: slices name different patients or studies (unless allowed).
    """
    first = identity_of(datasets[0], label)
    reference = replace(first, label=f"{label} file 1")
    problems: list[str] = []
    for k, ds in enumerate(datasets[1:], start=2):
        for p in differences(reference, identity_of(ds, f"{label} file {k}"), same_study=True):
            if p not in problems:
                problems.append(p)
    return first, _resolve(problems, allow_mismatch)


def check_same_patient(
    studies: Sequence[object], *, same_study: bool = False, allow_mismatch: bool = False
) -> list[str]:
    """Check that ``studies`` (each a :class:`~nenscope.imaging.Study` or a
    :class:`PatientIdentity`) are of one patient; with ``same_study`` also one study.

    The first one is the reference (e.g. the PET; then the CT, the FDG, a prior study or the
    later dosimetry time points). Studies without a recorded identity are skipped.

    Returns:
        Warnings (only with ``allow_mismatch``).

    Raises:
        NenscopeError: naming the first mismatch and both values (names are withheld).
    """
    ids = [s if isinstance(s, PatientIdentity) else getattr(s, "identity", None) for s in studies]
    ids = [i for i in ids if i is not None]
    problems: list[str] = []
    for other in ids[1:]:
        problems += differences(ids[0], other, same_study=same_study)
    return _resolve(problems, allow_mismatch)
