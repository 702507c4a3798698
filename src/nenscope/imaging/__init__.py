"""Imaging layer: series discovery, DICOM/NIfTI I/O, QIBA SUV, RTSTRUCT/SEG masks, ``Study``.

Entry points: :func:`discover` (what is in a folder/zip), :func:`load_study` (PET/SPECT + CT
with SUV factors), :func:`load_series` (one series as a volume), :func:`resample_to`,
:func:`save_nifti`/:func:`read_nifti`, and the mask readers/writers.
"""

from nenscope.imaging.discovery import Discovery, SeriesInfo, SkippedFile, discover
from nenscope.imaging.geometry import resample_to
from nenscope.imaging.loader import load_study
from nenscope.imaging.masks import read_mask
from nenscope.imaging.nifti import read_nifti, save_nifti
from nenscope.imaging.rtstruct import read_rtstruct
from nenscope.imaging.seg import read_seg, write_seg
from nenscope.imaging.series import LoadedSeries, load_series
from nenscope.imaging.study import SUV_KINDS, Patient, Study, SuvFactors, SuvOverrides, SuvView

__all__ = [
    "SUV_KINDS",
    "Discovery",
    "LoadedSeries",
    "Patient",
    "SeriesInfo",
    "SkippedFile",
    "Study",
    "SuvFactors",
    "SuvOverrides",
    "SuvView",
    "discover",
    "load_series",
    "load_study",
    "read_mask",
    "read_nifti",
    "read_rtstruct",
    "read_seg",
    "resample_to",
    "save_nifti",
    "write_seg",
]
