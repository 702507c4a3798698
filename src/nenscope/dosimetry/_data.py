"""Locations of the data files shipped with :mod:`nenscope.dosimetry`, and the physical decay
constant of the therapy radionuclide (half-life from :mod:`nenscope.knowledge.radionuclides`)."""

from __future__ import annotations

import functools
import math
import tomllib
from pathlib import Path
from typing import Any

from nenscope.knowledge.radionuclides import half_life_s

DATA_DIR = Path(__file__).resolve().parent / "data"
KERNEL_FILE = DATA_DIR / "Lu177-4.80-mm-mGyperMBqs-SoftICRP.img"
KERNEL_HEADER = DATA_DIR / "wheel0.1_DK_softtissueICRP_mGyperMBqs.hdr"
OPENDOSE_DIR = DATA_DIR / "opendose_icrp110"
OLINDA_DIR = DATA_DIR / "olinda_style"


@functools.cache
def load_toml(name: str) -> dict[str, Any]:
    """Read one of the TOML data files beside this module (cached)."""
    with open(DATA_DIR / name, "rb") as fh:
        return tomllib.load(fh)


def lambda_phys_per_h(nuclide: str = "Lu-177") -> float:
    """Physical decay constant in 1/h."""
    return math.log(2.0) / (half_life_s(nuclide) / 3600.0)
