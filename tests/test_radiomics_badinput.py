"""Radiomics input checks at the entry point (issue 16): non-finite intensities and derived
sizes (grey levels, interpolated box) refused before anything is allocated."""

from __future__ import annotations

import numpy as np
import pytest

from nenscope.errors import NenscopeError
from nenscope.radiomics import extract_features
from nenscope.radiomics.extract import MAX_GREY_LEVELS
from nenscope.radiomics.settings import preset


def _blob():
    img = np.random.default_rng(0).gamma(2.0, 2.0, (16, 16, 16))
    mask = np.zeros(img.shape, bool)
    mask[4:12, 4:12, 4:12] = True
    return img, mask


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_intensities_in_the_roi_are_refused(bad):
    img, mask = _blob()
    img[8, 8, 8] = bad
    with pytest.raises(NenscopeError, match="1 NaN or infinite intensities"):
        extract_features(img, mask, (4.0, 4.0, 4.0))
    img[0, 0, 0] = bad  # outside the ROI it does not matter
    img[8, 8, 8] = 1.0
    assert np.isfinite(extract_features(img, mask, (4.0, 4.0, 4.0))["stat_mean"])


def test_an_exploded_suv_scale_is_refused_before_discretisation():
    # SUVs of 1e12 (an SUV factor off by 2^40) with a 0.25 bin width: 4e12 grey levels
    img, mask = _blob()
    settings = preset("pet-default")
    with pytest.raises(NenscopeError, match=f"the limit is {MAX_GREY_LEVELS}"):
        extract_features(img * 1e12, mask, (4.0, 4.0, 4.0), settings)


def test_an_interpolation_to_a_tiny_voxel_is_refused():
    from dataclasses import replace

    img, mask = _blob()
    settings = replace(preset("pet-default"), new_spacing_mm=(0.01, 0.01, 0.01))
    with pytest.raises(NenscopeError, match="interpolation to .* the limit is"):
        extract_features(img, mask, (4.0, 4.0, 4.0), settings)
