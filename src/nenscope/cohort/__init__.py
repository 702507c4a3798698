"""Many studies at once on Dask distributed (docs/cohort.md).

- :func:`read_manifest`: the CSV of studies (``study_id,path,tracer[,fdg_path,prior_path]``);
- :func:`run_cohort`: one Dask task per study (:func:`run_study`) on a local cluster or an
  existing scheduler, results in the :class:`CohortStore` (SQLite), failures recorded with
  their error, finished studies skipped on a re-run;
- :func:`summarize`: CSV/Parquet tables per study and per lesion, and the cohort plots.
"""

from nenscope.cohort.job import StudyOutcome, run_study
from nenscope.cohort.manifest import CohortEntry, read_manifest
from nenscope.cohort.runner import CohortProgress, CohortRun, run_cohort
from nenscope.cohort.store import CohortStore
from nenscope.cohort.summary import CohortSummary, summarize

__all__ = [
    "CohortEntry",
    "CohortProgress",
    "CohortRun",
    "CohortStore",
    "CohortSummary",
    "StudyOutcome",
    "read_manifest",
    "run_cohort",
    "run_study",
    "summarize",
]
