"""Match the lesions of two registered studies: one to one, split, merged, new, disappeared.

1. Overlap: the prior label map is resampled onto the current grid through the
   registration; a prior and a current lesion are linked when their overlap covers at least
   ``min_overlap`` of the smaller of the two. Each connected group of links is one entry:
   one prior and one current lesion are *paired*, one prior and several current lesions a
   *split*, several prior and one current lesion *merged*. A group with several on both sides
   is cut into one-to-one pairs of largest overlap (Hungarian assignment) and every other
   lesion joins the partner it overlaps most.
2. Distance: lesions left without overlap are paired one to one (Hungarian assignment on
   the distance between the prior centre and the current centre mapped into the prior
   study) when they are close enough to be one lesion: centres at most
   max(``max_distance_mm``, sum of the two equivalent radii + ``margin_mm``) apart, i.e.
   they would touch after a residual misregistration (a liver lesion moved by breathing,
   which the CT registration may not follow). Small lesions, or such a residual, may leave
   no overlap.
3. Fragments: a lesion still unmatched that is close enough (same rule) to a lesion already
   matched on the other side joins that entry (which becomes a split or a merge).
4. What is left: prior lesions have *disappeared*, current lesions are *new*.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

__all__ = ["Match", "match_lesions"]


@dataclass(frozen=True)
class Match:
    """One entry of the comparison: the prior and current lesion ids it joins."""

    status: str  # paired | split | merged | new | disappeared
    prior_ids: tuple[int, ...]
    current_ids: tuple[int, ...]


def _sizes(labels: NDArray, ids) -> dict[int, int]:
    """Voxels of each lesion id in ``labels`` (0 for an id that is not there)."""
    ids = [int(i) for i in ids]
    counts = np.bincount(labels.ravel().astype(np.int64), minlength=max(ids, default=0) + 1)
    return {i: int(counts[i]) for i in ids}


def _overlaps(current_labels: NDArray, prior_on_current: NDArray) -> dict[tuple[int, int], int]:
    both = (current_labels > 0) & (prior_on_current > 0)
    pairs = np.stack([prior_on_current[both], current_labels[both]]).astype(np.int64)
    if pairs.size == 0:
        return {}
    keys, counts = np.unique(pairs, axis=1, return_counts=True)
    return {(int(p), int(c)): int(n) for (p, c), n in zip(keys.T, counts, strict=True)}


def _split_group(priors: list[int], currents: list[int], overlap) -> list[Match]:
    """Cut a many-to-many overlap group into pairs, splits and merges."""
    if len(priors) == 1 or len(currents) == 1:
        return [Match(_status(priors, currents), tuple(sorted(priors)), tuple(sorted(currents)))]
    gain = np.array([[overlap.get((p, c), 0) for c in currents] for p in priors], dtype=float)
    rows, cols = linear_sum_assignment(-gain)
    groups = {int(r): ({priors[r]}, {currents[c]}) for r, c in zip(rows, cols, strict=True)}
    assigned_c = {currents[c] for c in cols}
    assigned_p = {priors[r] for r in rows}
    for j, c in enumerate(currents):
        if c not in assigned_c:
            groups[int(np.argmax(gain[:, j]))][1].add(c)
    for i, p in enumerate(priors):
        if p not in assigned_p:
            best_col = int(np.argmax(gain[i]))
            owner = next(r for r, cc in zip(rows, cols, strict=True) if cc == best_col)
            groups[int(owner)][0].add(p)
    return [
        Match(_status(ps, cs), tuple(sorted(ps)), tuple(sorted(cs))) for ps, cs in groups.values()
    ]


def _overlap_groups(
    overlap: dict[tuple[int, int], int],
    prior_sizes: dict[int, int],
    current_sizes: dict[int, int],
    min_overlap: float,
) -> list[Match]:
    links = [
        (p, c)
        for (p, c), n in overlap.items()
        if p in prior_sizes
        and c in current_sizes
        and n >= min_overlap * min(prior_sizes[p], current_sizes[c])
    ]
    if not links:
        return []
    nodes = sorted({("p", p) for p, _ in links} | {("c", c) for _, c in links})
    index = {n: i for i, n in enumerate(nodes)}
    rows = [index[("p", p)] for p, _ in links]
    cols = [index[("c", c)] for _, c in links]
    graph = coo_matrix((np.ones(len(links)), (rows, cols)), shape=(len(nodes), len(nodes)))
    _, comp = connected_components(graph, directed=False)
    out: list[Match] = []
    for k in np.unique(comp):
        members = [nodes[i] for i in np.flatnonzero(comp == k)]
        priors = [n for kind, n in members if kind == "p"]
        currents = [n for kind, n in members if kind == "c"]
        out.extend(_split_group(priors, currents, overlap))
    return out


def _status(priors, currents) -> str:
    if len(priors) > 1:
        return "merged"
    return "split" if len(currents) > 1 else "paired"


def match_lesions(
    current_labels: NDArray,
    prior_on_current: NDArray,
    prior_centres_mm: dict[int, NDArray],
    current_centres_in_prior_mm: dict[int, NDArray],
    *,
    prior_radii_mm: dict[int, float] | None = None,
    current_radii_mm: dict[int, float] | None = None,
    min_overlap: float = 0.25,
    max_distance_mm: float = 15.0,
    margin_mm: float = 5.0,
) -> list[Match]:
    """Match lesions (see the module docstring).

    Args:
        current_labels: current lesion label map (lesion id per voxel).
        prior_on_current: prior lesion label map resampled onto the current grid.
        prior_centres_mm: prior lesion id -> centre (LPS mm, prior study).
        current_centres_in_prior_mm: current lesion id -> its centre mapped into the prior
            study (LPS mm).
        prior_radii_mm, current_radii_mm: equivalent-sphere radius of each lesion (mm;
            missing: 0).
        min_overlap: overlap, as a fraction of the smaller lesion, that links two lesions.
        max_distance_mm, margin_mm: two lesions without overlap are close enough to be one
            when their centres are at most max(``max_distance_mm``, sum of their radii +
            ``margin_mm``) apart: they would touch after a residual misregistration.

    Returns:
        Entries sorted by their first current id (new and paired first), then disappeared.
    """
    rp, rc = prior_radii_mm or {}, current_radii_mm or {}
    prior_sizes = _sizes(prior_on_current, prior_centres_mm)
    current_sizes = _sizes(current_labels, current_centres_in_prior_mm)
    # a prior lesion that falls outside the current field of view has no voxels here: it is
    # still matched by distance below
    matches = _overlap_groups(
        _overlaps(current_labels, prior_on_current),
        {p: n for p, n in prior_sizes.items() if n > 0},
        {c: n for c, n in current_sizes.items() if n > 0},
        min_overlap,
    )

    def near(p: int, c: int) -> float | None:
        d = float(np.linalg.norm(current_centres_in_prior_mm[c] - prior_centres_mm[p]))
        limit = max(max_distance_mm, rp.get(p, 0.0) + rc.get(c, 0.0) + margin_mm)
        return d if d <= limit else None

    used_p = {p for m in matches for p in m.prior_ids}
    used_c = {c for m in matches for c in m.current_ids}
    left_p = [p for p in prior_centres_mm if p not in used_p]
    left_c = [c for c in current_centres_in_prior_mm if c not in used_c]
    matches += _distance_pairs(left_p, left_c, near)
    return _with_fragments(matches, list(prior_centres_mm), list(current_centres_in_prior_mm), near)


def _distance_pairs(left_p: list[int], left_c: list[int], near) -> list[Match]:
    """One-to-one pairs of unmatched lesions close enough to be one (Hungarian on distance)."""
    if not left_p or not left_c:
        return []
    dist = np.array([[near(p, c) for c in left_c] for p in left_p], dtype=float)
    cost = np.where(np.isnan(dist), 1e9, dist)
    rows, cols = linear_sum_assignment(cost)
    return [
        Match("paired", (left_p[r],), (left_c[c],))
        for r, c in zip(rows, cols, strict=True)
        if np.isfinite(dist[r, c])
    ]


def _with_fragments(matches: list[Match], priors: list[int], currents: list[int], near):
    """Attach each still unmatched lesion to the nearest matched lesion close enough on the
    other side (a fragment: split or merged), then list the rest as new or disappeared."""
    groups = [(set(m.prior_ids), set(m.current_ids)) for m in matches]
    used_p = {p for g in groups for p in g[0]}
    used_c = {c for g in groups for c in g[1]}
    for c in [c for c in currents if c not in used_c]:
        options = [(near(p, c), i) for i, g in enumerate(groups) for p in g[0]]
        options = [o for o in options if o[0] is not None]
        if options:
            groups[min(options)[1]][1].add(c)
            used_c.add(c)
    for p in [p for p in priors if p not in used_p]:
        options = [(near(p, c), i) for i, g in enumerate(groups) for c in g[1]]
        options = [o for o in options if o[0] is not None]
        if options:
            groups[min(options)[1]][0].add(p)
            used_p.add(p)
    out = [Match(_status(ps, cs), tuple(sorted(ps)), tuple(sorted(cs))) for ps, cs in groups]
    out += [Match("new", (), (c,)) for c in currents if c not in used_c]
    out += [Match("disappeared", (p,), ()) for p in priors if p not in used_p]
    return sorted(out, key=lambda m: (not m.current_ids, (m.current_ids or m.prior_ids)[0]))
