"""Naming treated levels (spec: "its level such as L1, when it can be named").

A level can only be named by counting vertebrae from a landmark that the series shows
with certainty, and a wrong name is worse than none, so every doubt gives ``None``:

1. The column is followed from the first treated body and straightened
   (:func:`node.analysis._column.straighten`).
2. Discs are the dark gaps between the bright endplates along the column axis: minima
   of the mean HU of the body's core, each well below the endplates on both sides. The
   vertebrae are the intervals between consecutive discs; every interval counted over
   must have the pitch of a vertebra (no disc missed, none invented).
3. Landmark: the sacrum, a vertebra whose planes hold massive bone far beside the body
   on both sides (the alae and the iliac bones at the sacroiliac joints), below a clear
   disc under a vertebra without any such bone. The vertebra above it is L5.
4. Each treated body is named by counting the vertebrae from the landmark.

Not done: the last rib-bearing vertebra (T12) as a landmark. Rib necks and lumbar
transverse processes share the space beside the pedicles, and the lowest ribs descend
beside L1 and L2, so no rib test tried so far separated T12 from L1 with certainty on
the phantoms; a thoracic series without the sacrum therefore stays unnamed.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage, signal

from node.analysis._column import Column, straighten
from node.analysis.bodies import Body
from node.analysis.volume import CtVolume

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

# Cranial to caudal; the vertebra above the sacrum is L5.
NAMES = tuple([f"T{i}" for i in range(1, 13)] + [f"L{i}" for i in range(1, 6)])


@dataclass(frozen=True, slots=True)
class LevelParams:
    """Thresholds of disc finding and of the sacrum test (HU, mm, fractions)."""

    core_fraction: float = 0.5        # core disc radius, of the body's half width
    core_smooth_mm: float = 1.0
    disc_prominence_hu: float = 50.0  # a disc is this much darker than its endplates
    disc_window: float = 0.5          # of the body height: minima are judged locally
    pitch_range: tuple[float, float] = (0.75, 1.6)   # of the treated body's height
    bone_hu: float = 250.0
    wing_lateral_mm: tuple[float, float] = (25.0, 40.0)    # beyond the body's side
    wing_posterior: tuple[float, float] = (0.5, 1.5)       # of the posterior wall
    sacrum_fraction: float = 0.15     # bone in the wing box on each side: sacrum
    free_fraction: float = 0.05       # at most this much: not a sacrum
    wing_depth_mm: float = 15.0       # planes below the disc looked at
    min_coverage: float = 0.8         # of the box inside the image


@dataclass(frozen=True, slots=True)
class _Vertebra:
    """One interval of the column between two discs (or a disc and an end), mm."""

    lo: float
    hi: float
    closed: bool      # a disc at both ends


def name_levels(volume: CtVolume, bodies: Sequence[Body],
                params: LevelParams | None = None) -> list[str | None]:
    """A name such as ``"L1"`` for each body when it can be named, else None."""
    if not bodies:
        return []
    p = params or LevelParams()
    seed = bodies[0]
    column = straighten(volume.hu, volume.affine, seed.centre_mm, seed.superior,
                        seed.posterior, half_width_mm=seed.half_width_mm,
                        posterior_wall_mm=seed.posterior_wall_mm)
    spans = [_body_span(column, body) for body in bodies]
    height = float(np.median([hi - lo for lo, hi in spans]))
    discs = _discs(column, seed.half_width_mm, height, spans, p)
    vertebrae = _vertebrae(column, discs)
    sacrum = _sacrum(column, vertebrae, seed, p)
    if sacrum is None:
        return [None for _ in bodies]
    return [_name(vertebrae, sacrum, span, height, p) for span in spans]


def _body_span(column: Column, body: Body) -> tuple[float, float]:
    """The body's extent along the column axis (arc length, mm)."""
    idx = np.argwhere(body.mask)[:: max(1, body.voxel_count // 4000)]
    pts = idx @ body.box_affine[:3, :3].T + body.box_affine[:3, 3]
    j = int(np.argmin(np.linalg.norm(column.centres - body.centre_mm, axis=1)))
    lo_j, hi_j = max(j - 2, 0), min(j + 2, len(column.centres) - 1)
    axis = column.centres[hi_j] - column.centres[lo_j]
    axis = axis / max(float(np.linalg.norm(axis)), 1e-9)
    s = (pts - column.centres[j]) @ axis + column.s_mm[j]
    return float(np.percentile(s, 2)), float(np.percentile(s, 98))


def _core_profile(column: Column, half_width: float, p: LevelParams) -> FloatArray:
    """Mean HU of the body's core on each plane (NaN where mostly outside)."""
    b, a = np.meshgrid(column.offsets_mm, column.offsets_mm, indexing="ij")
    core = a * a + b * b <= (p.core_fraction * half_width) ** 2
    values = np.clip(column.planes[:, core], -200.0, 1000.0)
    inside = np.mean(np.isfinite(values), axis=1) >= 0.5
    with np.errstate(all="ignore"):
        mean = np.nanmean(np.where(np.isfinite(values), values, np.nan), axis=1)
    mean = np.where(inside, mean, np.nan)
    step = float(np.median(np.diff(column.s_mm))) if len(column.s_mm) > 1 else 1.0
    filled = np.nan_to_num(mean, nan=float(np.nanmin(mean)) if inside.any() else 0.0)
    smooth = ndimage.gaussian_filter1d(filled, p.core_smooth_mm / step, mode="nearest")
    return np.asarray(np.where(inside, smooth, np.nan), dtype=np.float64)


def _discs(column: Column, half_width: float, height: float,
           spans: Sequence[tuple[float, float]], p: LevelParams) -> list[float]:
    """Arc lengths of the disc centres, caudal first."""
    profile = _core_profile(column, half_width, p)
    step = float(np.median(np.diff(column.s_mm))) if len(column.s_mm) > 1 else 1.0
    depth = np.nan_to_num(-profile, nan=float(np.nanmin(-profile)) - 1.0)
    window = max(3, int(p.disc_window * height / step) | 1)
    peaks, _ = signal.find_peaks(depth, prominence=p.disc_prominence_hu, wlen=window)
    found = []
    for k in peaks:
        s = float(column.s_mm[k])
        if any(lo + 2.0 < s < hi - 2.0 for lo, hi in spans):
            logger.debug("dark plane at s=%.1f mm lies inside a treated body", s)
            continue
        found.append(s)
    return found


def _vertebrae(column: Column, discs: Sequence[float]) -> list[_Vertebra]:
    """Intervals between discs, the ends of the column included as open intervals."""
    bounds = [float(column.s_mm[0]), *discs, float(column.s_mm[-1])]
    return [_Vertebra(lo, hi, closed=0 < i < len(bounds) - 2)
            for i, (lo, hi) in enumerate(itertools.pairwise(bounds))]


def _wing_fractions(column: Column, lo: float, hi: float, body: Body,
                    p: LevelParams) -> tuple[float, float, float]:
    """Bone fraction far beside the body on each side, and the share inside the image."""
    b, a = np.meshgrid(column.offsets_mm, column.offsets_mm, indexing="ij")
    wall = body.posterior_wall_mm
    lateral = np.abs(a) - body.half_width_mm
    box = ((lateral >= p.wing_lateral_mm[0]) & (lateral <= p.wing_lateral_mm[1])
           & (b >= p.wing_posterior[0] * wall) & (b <= p.wing_posterior[1] * wall))
    rows = (column.s_mm >= lo) & (column.s_mm <= hi)
    if not rows.any():
        return 0.0, 0.0, 0.0
    planes = column.planes[rows]
    out = []
    for side in (-1.0, 1.0):
        values = planes[:, box & (np.sign(a) == side)]
        out.append(float(np.mean(np.nan_to_num(values, nan=-1000.0) >= p.bone_hu, axis=1).max()))
    coverage = float(np.mean(np.isfinite(planes[:, box])))
    return out[0], out[1], coverage


def _sacrum(column: Column, vertebrae: Sequence[_Vertebra], body: Body,
            p: LevelParams) -> int | None:
    """Index in ``vertebrae`` of the sacrum (S1) when it is certain, else None."""
    for i in range(len(vertebrae) - 1):
        below, above = vertebrae[i], vertebrae[i + 1]
        if below.hi - below.lo < p.wing_depth_mm * 0.6:
            continue
        wl, wr, cov = _wing_fractions(column, below.hi - p.wing_depth_mm, below.hi, body, p)
        if min(wl, wr) < p.sacrum_fraction or cov < p.min_coverage:
            continue
        # The alae rise beside the lower end of L5: only its upper half must be clear.
        fl, fr, cov_above = _wing_fractions(column, (above.lo + above.hi) / 2, above.hi,
                                            body, p)
        if max(fl, fr) > p.free_fraction or cov_above < p.min_coverage or not above.closed:
            logger.debug("sacrum-like bone at s=%.0f..%.0f mm but the vertebra above is "
                         "not clear of it (%.2f, %.2f, coverage %.2f)",
                         below.lo, below.hi, fl, fr, cov_above)
            return None
        logger.debug("sacrum at s=%.0f..%.0f mm (wing bone %.2f, %.2f)", below.lo,
                     below.hi, wl, wr)
        return i
    logger.debug("no sacrum in the field of view: levels stay unnamed")
    return None


def _name(vertebrae: Sequence[_Vertebra], sacrum: int, span: tuple[float, float],
          height: float, p: LevelParams) -> str | None:
    """The name of the vertebra holding ``span``, counted up from the sacrum."""
    centre = (span[0] + span[1]) / 2
    hits = [i for i, v in enumerate(vertebrae) if v.lo <= centre <= v.hi]
    if len(hits) != 1 or hits[0] <= sacrum:
        logger.debug("treated body at s=%.0f mm is not a vertebra above the sacrum", centre)
        return None
    k = hits[0]
    lo, hi = p.pitch_range
    for v in vertebrae[sacrum + 1:k + 1]:
        pitch = v.hi - v.lo
        if not (v.closed and lo * height <= pitch <= hi * height):
            logger.debug("vertebra at s=%.0f..%.0f mm has no clear discs or a pitch of "
                         "%.0f mm against a body height of %.0f mm: counting stops",
                         v.lo, v.hi, pitch, height)
            return None
    index = NAMES.index("L5") - (k - sacrum - 1)
    return NAMES[index] if index >= 0 else None
