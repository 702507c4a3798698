"""``nenscope analyze`` on anonymised DICOM: every output is written.

Anonymisation removes or empties the type-2 attributes (patient birth date, sex and ID, study
ID, accession number, referring physician, study date and time). The analysis does not need
them; every writer (findings.json, lesions.csv, NIfTI, DICOM-SEG, report) must still work, and
the results appear all together.
"""

from __future__ import annotations

import pydicom
import pytest

from conftest import cached_simulation
from nenscope.jobs.analyze import run_analysis
from nenscope.simulation.output import write_study
from nenscope.simulation.study import SimulationConfig

TYPE2 = (
    "PatientBirthDate",
    "PatientSex",
    "PatientID",
    "StudyID",
    "AccessionNumber",
    "ReferringPhysicianName",
    "StudyDate",
    "StudyTime",
)
OUTPUTS = ("findings.json", "lesions.csv", "lesions.nii.gz", "lesions.seg.dcm", "report.html")


@pytest.mark.parametrize("how", ["removed", "empty"])
def test_analyze_writes_every_output_without_type2_attributes(tmp_path, how):
    sim = cached_simulation(
        SimulationConfig(tracer="68Ga-DOTATATE", seed=11, n_lesions=3, voxel_mm=8.0)
    )
    write_study(sim, tmp_path / "study")
    files = [p for p in (tmp_path / "study").rglob("*.dcm")]
    assert files
    for path in files:
        ds = pydicom.dcmread(path)
        for keyword in TYPE2:
            if how == "removed" and keyword in ds:
                delattr(ds, keyword)
            elif how == "empty":
                setattr(ds, keyword, "")
        ds.save_as(path)
    result = run_analysis(tmp_path / "study", tmp_path / "out")
    for name in OUTPUTS:
        assert (tmp_path / "out" / name).stat().st_size > 0, name
    assert result.findings.lesions
