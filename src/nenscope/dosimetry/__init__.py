"""PRRT dosimetry (177Lu): kinetics, time-integrated activity, S-values, voxel dose, BED.

Entry points:

* :func:`dosimetry_from_tacs` — regional time-activity curves (``--tac-csv``) → organ doses
  (OpenDose ICRP-110 / OLINDA-style S-values with mass scaling), sphere-model tumour doses,
  BED and cumulative limits.
* :func:`dosimetry_from_images` — co-registered quantitative SPECT maps (Bq/ml) and masks →
  the same plus voxel dose maps (FFT convolution with the voxel S-value kernel, or local
  deposition) and DVHs.
* :func:`dosimetry_from_timepoints` — serial :class:`TimePoint` records (from
  ``nenscope.imaging.Study`` via :func:`timepoint_from_study`: decay correction undone) with
  masks on the first or on every time point; registration (rigid/affine, SimpleITK).

Building blocks: :mod:`.kinetics`, :mod:`.svalues`, :mod:`.sphere`, :mod:`.kernel`,
:mod:`.voxel`, :mod:`.dvh`, :mod:`.pvc`, :mod:`.radiobiology`, :mod:`.rtdose`. The report is
:mod:`nenscope.report.dosimetry`; the job that loads, masks and writes is
:mod:`nenscope.jobs.dosimetry`.
"""

from nenscope.dosimetry.kinetics import (
    MODELS,
    KineticFit,
    fit_best,
    fit_model,
    tia_single_time_point,
    tia_trapezoid,
)
from nenscope.dosimetry.pipeline import (
    METHODS,
    DosimetryResult,
    RegionResult,
    RegionTAC,
    dosimetry_from_images,
    dosimetry_from_tacs,
    read_tac_csv,
)
from nenscope.dosimetry.radiobiology import bed_gy, lea_catcheside_g
from nenscope.dosimetry.sphere import sphere_dose_gy, sphere_s_value
from nenscope.dosimetry.svalues import organ_doses, organ_key
from nenscope.dosimetry.timepoints import TimePoint, dosimetry_from_timepoints, timepoint_from_study
from nenscope.dosimetry.voxel import KernelConvolver, dose_kernel_gy, dose_local_gy, tia_map_mbq_s

__all__ = [
    "METHODS",
    "MODELS",
    "DosimetryResult",
    "KernelConvolver",
    "KineticFit",
    "RegionResult",
    "RegionTAC",
    "TimePoint",
    "bed_gy",
    "dose_kernel_gy",
    "dose_local_gy",
    "dosimetry_from_images",
    "dosimetry_from_tacs",
    "dosimetry_from_timepoints",
    "fit_best",
    "fit_model",
    "lea_catcheside_g",
    "organ_doses",
    "organ_key",
    "read_tac_csv",
    "sphere_dose_gy",
    "sphere_s_value",
    "tia_map_mbq_s",
    "tia_single_time_point",
    "tia_trapezoid",
    "timepoint_from_study",
]
