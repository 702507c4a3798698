"""Imaging layer: series discovery, DICOM/NIfTI I/O, QIBA SUV, RTSTRUCT/SEG masks, ``Study``."""

from nenscope.imaging.study import SUV_KINDS, Patient, Study, SuvFactors, SuvOverrides, SuvView

__all__ = ["SUV_KINDS", "Patient", "Study", "SuvFactors", "SuvOverrides", "SuvView"]
