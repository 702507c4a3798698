"""Organ masks from the segmentation tools people already run: TotalSegmentator and MOOSE.

:func:`read_organ_masks` takes what ``--organ-masks`` is given and returns named boolean
volumes on the emission grid:

- a TotalSegmentator v2 output folder (one ``<class>.nii.gz`` per class) or its multi-label
  file (``--ml``: label ids of the ``total`` task, named by the file's CaretExtension);
- a MOOSE 3 output (``<prefix>_CT_<region>_<subject>.nii.gz`` multi-label files, e.g. in a
  ``moosez-clin_ct_organs-.../segmentations`` folder): label ids per model;
- anything :func:`~nenscope.imaging.masks.read_mask` reads (NIfTI, DICOM-SEG, RTSTRUCT),
  named after its segments or file.

Class ids and names come from ``data/organ_masks.toml`` (cited); MOOSE names that differ
from TotalSegmentator's are renamed (``bladder`` -> ``urinary_bladder``), bones, lung lobes,
heart chambers and thyroid lobes are merged into ``bone``, ``lungs``, ``heart`` and
``thyroid_gland``, and empty classes are left out. The names then match the analysis's
organ rules (``liver``, ``spleen``, ``kidney_left``, ``adrenal_gland_right``, ``aorta``, ...).
"""

from __future__ import annotations

import os
import re
import tomllib
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import highdicom as hd
import nibabel as nib
import numpy as np

from nenscope.errors import NenscopeError
from nenscope.imaging.geometry import resample_to
from nenscope.imaging.masks import read_mask
from nenscope.imaging.nifti import read_nifti

__all__ = ["read_organ_masks"]

_MOOSE_FILE = re.compile(r"_CT_(?P<region>[A-Za-z_]+?)_[^/]*\.nii(\.gz)?$", re.IGNORECASE)
_CARET_LABEL = re.compile(r'<Label Key="(\d+)"[^>]*><!\[CDATA\[([^\]]*)\]\]></Label>')


@lru_cache(maxsize=1)
def _tables() -> dict[str, Any]:
    text = resources.files("nenscope.imaging").joinpath("data/organ_masks.toml").read_text("utf-8")
    return tomllib.loads(text)


def _is_nifti(path: Path) -> bool:
    return path.name.endswith(".nii") or path.name.endswith(".nii.gz")


def _stem(path: Path) -> str:
    return path.name.removesuffix(".gz").removesuffix(".nii")


def _canonical(name: str) -> str:
    """The analysis's name of a class: MOOSE renamed, grouped classes merged."""
    key = _tables()["moose_to_totalsegmentator"].get(name, name)
    for group, prefixes in _tables()["groups"].items():
        if any(key.startswith(p) for p in prefixes):
            return str(group)
    return str(key)


def _add(out: dict[str, hd.Volume], name: str, mask: hd.Volume) -> None:
    arr = np.asarray(mask.array).astype(bool)
    if not arr.any():
        return
    key = _canonical(name)
    if key in out:
        arr = arr | np.asarray(out[key].array)
    out[key] = mask.with_array(arr)


def _on_grid(path: Path, reference: hd.Volume) -> hd.Volume:
    vol = read_nifti(path, frame_of_reference_uid=reference.frame_of_reference_uid)
    arr = np.asarray(vol.array)
    if arr.dtype.kind == "f" and np.any(arr != np.round(arr)):
        raise NenscopeError(f"{path}: a segmentation must hold integer labels")
    return resample_to(vol.with_array(arr.astype(np.uint16)), reference, order=0)


def _multilabel(path: Path, reference: hd.Volume, names: dict[int, str]) -> dict[str, hd.Volume]:
    labels = _on_grid(path, reference)
    arr = np.asarray(labels.array)
    out: dict[str, hd.Volume] = {}
    for value in np.unique(arr):
        if value == 0:
            continue
        if int(value) not in names:
            raise NenscopeError(
                f"{path}: label {int(value)} is not a class of this model; the file does not "
                "match its naming (give the class files or a NIfTI with named labels)"
            )
        _add(out, names[int(value)], labels.with_array(arr == value))
    return out


def _caret_names(path: Path) -> dict[int, str]:
    """Label names from a TotalSegmentator ``--ml`` file's CaretExtension (or ``{}``)."""
    try:
        header = nib.load(str(path)).header
    except Exception:
        return {}
    names: dict[int, str] = {}
    for ext in getattr(header, "extensions", []):
        text = ext.get_content()
        text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        names.update({int(k): v for k, v in _CARET_LABEL.findall(text)})
    return names


def _moose_names(path: Path) -> dict[int, str] | None:
    m = _MOOSE_FILE.search(path.name)
    if not m:
        return None
    table = _tables()["moose"].get(m.group("region").lower())
    return None if table is None else {int(k): str(v) for k, v in table.items()}


def _totalsegmentator_folder(folder: Path, reference: hd.Volume) -> dict[str, hd.Volume] | None:
    classes = set(_tables()["totalsegmentator"]["total"].values())
    files = [q for q in sorted(folder.iterdir()) if _is_nifti(q) and _stem(q) in classes]
    if not files:
        return None
    out: dict[str, hd.Volume] = {}
    for q in files:
        mask = _on_grid(q, reference)
        _add(out, _stem(q), mask.with_array(np.asarray(mask.array) > 0))
    return out


def _nifti_file(path: Path, reference: hd.Volume) -> dict[str, hd.Volume] | None:
    caret = _caret_names(path)
    if caret:
        return _multilabel(path, reference, caret)
    moose = _moose_names(path)
    if moose is not None:
        return _multilabel(path, reference, moose)
    return None


def _from_read_mask(path: Path, reference: hd.Volume) -> dict[str, hd.Volume]:
    labels, names = read_mask(path, reference)
    out: dict[str, hd.Volume] = {}
    arr = np.asarray(labels.array)
    for value, name in names.items():
        _add(out, str(name).lower(), labels.with_array(arr == value))
    return out


def read_organ_masks(path: str | os.PathLike, reference: hd.Volume) -> dict[str, hd.Volume]:
    """Named organ masks (boolean volumes on ``reference``'s grid) from ``path``.

    Args:
        path: a TotalSegmentator output folder or ``--ml`` file, a MOOSE output (folder,
            its ``segmentations`` folder, or one of its files), or a NIfTI/DICOM-SEG/RTSTRUCT
            mask file or folder.
        reference: the image whose grid the masks are wanted on (same frame of reference).

    Raises:
        NenscopeError: when nothing in ``path`` is a mask.
    """
    p = Path(path)
    if not p.exists():
        raise NenscopeError(f"organ masks: {p} does not exist")
    if p.is_file() and _is_nifti(p):
        found = _nifti_file(p, reference)
        return found if found is not None else _from_read_mask(p, reference)
    if p.is_dir():
        for folder in (p, p / "segmentations"):
            if folder.is_dir() and (ts := _totalsegmentator_folder(folder, reference)):
                return ts
        moose = [q for q in sorted(p.rglob("*")) if q.is_file() and _moose_names(q) is not None]
        if moose:
            out: dict[str, hd.Volume] = {}
            for q in moose:
                for name, mask in _multilabel(q, reference, _moose_names(q) or {}).items():
                    _add(out, name, mask)
            return out
    return _from_read_mask(p, reference)
