"""A body flooded through its discs into its neighbours, cut back at the discs.

Where a disc hardly differs from the marrow and its endplates are faint (young marrow
over a thin disc, thick slices, bipedicular cement whose halos open both plates),
neither the disc markers nor the endplate cut of the body finder see it, and the
flooding runs on into the next bodies: one "body" one and a half to three vertebrae
tall. Along the body's axis the disc still shows on the mean density of the body's core
(read beside the cement): as a dip between the bone on either side (a disc darker than
the marrow, or brighter than dark marrow between bright plates), or, where the slices
blur both plates over a thin disc, as a band brighter than the marrow on either side.
A vertebral body is less tall than about its width and than ``max_height_mm``; only a
taller one is looked at, and it is cut at the disc nearest the seed on each side.

The body finder uses this as a rescue, when none of its floodings gave a body
(``flood.FloodBodySource.body_at``): real marrow has dips of its own (the band of the
basivertebral veins), and on every flooding the cut lost a real thoracic body.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

BoolArray = npt.NDArray[np.bool_]
F32 = npt.NDArray[np.float32]
FloatArray = npt.NDArray[np.float64]

TALLEST = 1.0              # a vertebral body is less tall than this times its width
CORE_RADIUS_MM = 10.0      # the core of the body around its axis: marrow and plates, no shell
DIP_HU = 20.0              # a disc stands out this much from what lies on either side...
DIP_REACH_MM = 6.0         # ...within this distance
EXTREMUM_MM = 2.5          # ...and is the darkest (or brightest) this near
DIP_FROM_SEED_MM = 4.0     # a disc lies half the shortest (fractured) body from the seed
PAINT_CLEAR_MM = 3.0       # ...and this far from the painted cement on the seed's side
MIN_CORE_VOXELS = 20


def split_at_discs(body: BoolArray, smooth: F32, painted: BoolArray,
                   offsets: tuple[FloatArray, FloatArray, FloatArray], seed: FloatArray,
                   superior: FloatArray, left: FloatArray, marrow: float, step: float,
                   max_height_mm: float) -> BoolArray:
    """``body`` cut at the disc nearest the seed on each side when it is taller than
    TALLEST times its width or than ``max_height_mm``; else unchanged.

    Parameters
    ----------
    body : (k, j, i) bool
        The flooded body on an isotropic grid.
    smooth : (k, j, i) float32
        The CT on that grid, smoothed, cement painted over.
    painted : (k, j, i) bool
        The cement and its blur: the profile is read beside it.
    offsets : x, y, z
        Of the grid points from the body's centre, mm, broadcasting over (k, j, i).
    seed : (3,) float
        The seed from the body's centre, mm.
    superior, left : (3,) float
        The body's axes.
    marrow : float
        The marrow's HU: a dip to the marrow's level is marrow between bright bone
        (cement's blur, a sclerotic rim, the plate), no disc.
    step : float
        The grid's step, mm.
    max_height_mm : float
        The tallest vertebral body.
    """
    if not body.any():
        return body
    x, y, z = offsets
    along = np.broadcast_to(x * superior[0] + y * superior[1] + z * superior[2], body.shape)
    across = x * left[0] + y * left[1] + z * left[2]
    width = float(np.ptp(np.broadcast_to(across, body.shape)[body]))
    tallest = min(TALLEST * width, max_height_mm)
    if float(np.ptp(along[body])) <= tallest:
        return body
    # The core's height: a leak or a piece of a neighbour beside the body is no height.
    core = body & (x ** 2 + y ** 2 + z ** 2 - along ** 2 <= CORE_RADIUS_MM ** 2)
    position = np.rint(along / step).astype(np.int64)
    lowest = int(position[body].min())
    counts = np.bincount(position[core] - lowest, minlength=int(position[body].max()) - lowest + 1)
    at_seed = round(float(np.dot(seed, superior)) / step) - lowest
    if _run_around(counts >= MIN_CORE_VOXELS, at_seed) * step <= tallest:
        return body
    beside = core & ~painted
    counts = np.bincount(position[beside] - lowest, minlength=len(counts))
    sums = np.bincount(position[beside] - lowest, weights=smooth[beside], minlength=len(counts))
    profile = np.where(counts >= MIN_CORE_VOXELS, sums / np.maximum(counts, 1), np.nan)
    keep = body
    for direction in (1, -1):
        cut = _plate_face(profile, at_seed, direction, marrow, step)
        if cut is not None:
            keep = keep & ((along / step - (cut + lowest)) * direction < 0)
    return np.asarray(keep, dtype=bool)


def _run_around(held: BoolArray, at: int) -> int:
    """Length of the run of ``held`` through index ``at`` (0 when ``at`` is not held)."""
    if not 0 <= at < len(held) or not held[at]:
        return 0
    lo, hi = at, at
    while lo > 0 and held[lo - 1]:
        lo -= 1
    while hi < len(held) - 1 and held[hi + 1]:
        hi += 1
    return hi - lo + 1


def _plate_face(profile: FloatArray, seed: int, direction: int, marrow: float, step: float
                ) -> float | None:
    """Where the body ends before the nearest disc from ``seed`` in ``direction`` (index,
    fractional), or None without a disc: where the profile falls from the plate to
    half-way down to a dark disc, or the middle of a bright band."""
    found = _nearest_disc(profile, seed, direction, marrow, step)
    if found is None:
        return None
    disc, band = found
    if band:
        return float(disc)
    reach = max(round(DIP_REACH_MM / step), 1)
    inner = np.arange(disc - direction, disc - direction * (reach + 1), -direction)
    inner = inner[(inner >= 0) & (inner < len(profile))]
    values = profile[inner]
    peak = int(np.nanargmax(values))
    level = 0.5 * (values[peak] + profile[disc])
    for j in range(peak, 0, -1):
        # From the plate's peak outward (toward the disc) to the first value below level.
        if values[j - 1] < level:
            t = (values[j] - level) / (values[j] - values[j - 1])
            return float(inner[j] + direction * t)
    return float(disc)


def _nearest_disc(profile: FloatArray, seed: int, direction: int, marrow: float, step: float
                  ) -> tuple[int, bool] | None:
    """Index of the first disc of ``profile`` from ``seed`` in ``direction``, and whether
    it shows as a band.

    A disc is a dip (darker than the bone on either side, or brighter than dark marrow
    between bright plates) or, where the slices blur both plates over a thin disc, a
    band brighter than the marrow with the next body's marrow beyond it (not the soft
    tissue beyond a body's own plate): the extreme within EXTREMUM_MM, DIP_HU deep (or
    high) against each side within DIP_REACH_MM, and DIP_HU off the marrow.
    """
    reach = max(round(DIP_REACH_MM / step), 1)
    window = max(round(EXTREMUM_MM / step), 1)
    clear = max(round(PAINT_CLEAR_MM / step), 1)
    start = seed + direction * max(round(DIP_FROM_SEED_MM / step), 1)
    n = len(profile)
    for j in range(max(start, 0), n) if direction > 0 else range(min(start, n - 1), -1, -1):
        if np.isnan(profile[j]) or abs(profile[j] - marrow) < DIP_HU:
            continue
        near_seed = profile[max(j - clear, 0):j] if direction > 0 else profile[j + 1:j + 1 + clear]
        if np.isnan(near_seed).any():
            # The cement's blur beyond its paint rises and falls like a band.
            continue
        band = bool(profile[j] > marrow)
        # A band is a dip of the negated profile.
        v = -profile if band else profile
        before, after = v[max(j - reach, 0):j], v[j + 1:j + 1 + reach]
        if np.isnan(before).all() or np.isnan(after).all():
            continue
        # Beyond a band, the darkest is the next body's marrow (-v: the profile).
        beyond = after if direction > 0 else before
        next_body = not band or -np.nanmax(beyond) >= marrow - DIP_HU
        if (next_body and v[j] <= np.nanmin(v[max(j - window, 0):j + window + 1])
                and np.nanmax(before) - v[j] >= DIP_HU and np.nanmax(after) - v[j] >= DIP_HU):
            return j, band
    return None
