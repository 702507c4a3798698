"""IBSI-compliant radiomics: image processing and features (IBSI-1) and convolutional filters
(IBSI-2), vectorised with NumPy/SciPy.

Public API::

    extract_features(image, mask, spacing_mm, settings) -> {tag: value}
    extract_volume_features(volume, mask, settings) -> {tag: value}
    lesion_features(volume, labels, settings) -> [ {label, tag: value, ...}, ... ]
    write_feature_table(rows, path)   # wide CSV, the input of `nenscope radiomics fit`
    RadiomicsSettings, preset(name), load_settings(path)
"""

from nenscope.radiomics.extract import (
    extract_features,
    extract_volume_features,
    lesion_features,
    write_feature_table,
)
from nenscope.radiomics.settings import RadiomicsSettings, load_settings, preset, preset_names

__all__ = [
    "RadiomicsSettings",
    "extract_features",
    "extract_volume_features",
    "lesion_features",
    "load_settings",
    "preset",
    "preset_names",
    "write_feature_table",
]
