"""Results store: patients, studies, analyses, lesions, reviews, signed reports, dosimetry
and the audit trail in SQLAlchemy 2 models, SQLite by default and PostgreSQL by URL, with
Alembic migrations shipped in ``nenscope/store/migrations``."""

from nenscope.store.db import Store, default_url, normalise_url, upgrade
from nenscope.store.errors import ConflictError, NotFoundError
from nenscope.store.models import AnalysisStatus, Decision, Role

__all__ = [
    "AnalysisStatus",
    "ConflictError",
    "Decision",
    "NotFoundError",
    "Role",
    "Store",
    "default_url",
    "normalise_url",
    "upgrade",
]
