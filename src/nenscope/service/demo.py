"""``nenscope serve --demo``: the virtual patient of ``make demo`` as a stored, analysed study.

At start-up, unless its patient is stored already, the 68Ga-DOTATATE PET/CT of the demo
(seed 7, six lesions, G2, male, 78 kg) is simulated into the upload area, stored like an
upload and its analysis queued, all on the job threads: the server answers at once and the
study appears when it is ready (about a minute).
"""

from __future__ import annotations

import secrets
from pathlib import Path

from sqlalchemy import select

from nenscope.service.ingest import read_study, store_study
from nenscope.service.logs import log
from nenscope.service.runner import JobRunner
from nenscope.service.upload import discard
from nenscope.store import Store, audit
from nenscope.store import analyses as store_analyses
from nenscope.store.models import Patient

__all__ = ["DEMO_CONFIG", "load_demo"]

#: The simulation of ``make demo`` (``nenscope.demo``): its SSTR study.
DEMO_CONFIG = {
    "tracer": "68Ga-DOTATATE",
    "seed": 7,
    "n_lesions": 6,
    "tumour_type": "G2",
    "sex": "M",
    "weight_kg": 78.0,
}


def _stored(store: Store, patient_key: str) -> bool:
    with store.transaction() as session:
        return (
            session.scalar(select(Patient.id).where(Patient.patient_key == patient_key)) is not None
        )


def load_demo(store: Store, data_dir: Path, runner: JobRunner) -> int | None:
    """Simulate, store and queue the demo study; its analysis id (``None``: stored before)."""
    from nenscope.simulation.output import write_study
    from nenscope.simulation.study import SimulationConfig, simulate_study

    if _stored(store, f"NENSCOPE-SIM-{DEMO_CONFIG['seed']:04d}"):
        return None
    work = data_dir / "incoming" / f"demo-{secrets.token_hex(8)}"
    try:
        log.info("demo: simulating the virtual patient")
        write_study(simulate_study(SimulationConfig(**DEMO_CONFIG)), work / "dicom")
        files = [p for p in (work / "dicom").rglob("*") if p.is_file()]
        record = read_study(work / "dicom", len(files), sum(p.stat().st_size for p in files))
        study_id = store_study(store, data_dir, work / "dicom", record, None)
    finally:
        discard(work)
    with store.transaction() as session:
        analysis = store_analyses.new_analysis(session, study_id, {}, None)
        audit.record(
            session,
            "analysis.request",
            user=None,
            study_id=study_id,
            analysis_id=analysis.id,
            version=1,
            options={},
        )
    runner.submit(analysis.id)
    log.info("demo: study %d stored, analysis %d queued", study_id, analysis.id)
    return analysis.id
