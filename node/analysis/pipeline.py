"""One series in, the result record and its masks out (spec: the whole measurement).

Steps: volume (int16 HU + affine) -> cement and metal -> the vertebral body around each
large cement piece (a treated level holds >= ``min_cement_ml`` of cement deep inside),
its endplates placed between thick slices, the cement between its endplates and the
cement straddling its surface taken in, disc leak blobs flooded around cut off ->
extravertebral cement by location -> numbers per level (``measure_level``) -> flags.
Everything heavy works on boxes around the cement and the bodies, never on float copies
of the whole volume.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from scipy import ndimage

from node.analysis.bodies import Body, BodySource, FirstPlausible
from node.analysis.cement import CementFinding, find_cement
from node.analysis.discleak import with_disc_leaks_cut
from node.analysis.enclosed import with_enclosed_cement
from node.analysis.endplates import with_endplates_between_slices
from node.analysis.flood import FloodBodySource
from node.analysis.leaks import classify_leaks
from node.analysis.levels import name_levels
from node.analysis.measure import measure_level, voxel_volume_ml
from node.analysis.shellfill import ShellBodySource
from node.analysis.straddle import with_straddling_cement
from node.analysis.types import (
    Analysis,
    Extravertebral,
    Flag,
    LevelResult,
    Parameters,
    SeriesResult,
)
from node.analysis.volume import CtVolume, load_volume
from node.analysis.wallleak import with_wall_leaks_cut

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
# Two seeds whose bodies share this fraction of the smaller one are the same vertebra.
SAME_BODY_OVERLAP = 0.3
TREATED_DEPTH_MM = 3.0
# A seed this close to a body found already is cement of that body (a piece that reaches
# its shell) or a leak from it; the next body is a disc and two endplates away.
SAME_BODY_MM = 3.0
# Each body being looked for holds a few hundred MB of grids.
MAX_WORKERS = 4
# The axial score of a found body leaves out its end slices, slivers of the plate's rim
# (``distribution_score``): on the exact masks of 96 phantom levels this fraction never
# changed the score; on the engine's bodies it moved 4 of 224 levels, all toward the truth.
AXIAL_MIN_CROSS_SECTION = 0.1


@dataclass(slots=True)
class Timings:
    """Seconds spent in each step of one analysis (for the benchmark)."""

    read: float = 0.0
    segment: float = 0.0
    measure: float = 0.0
    steps: dict[str, float] = field(default_factory=dict)


def analyze_series(datasets: Sequence[Dataset], params: Parameters, *,
                   software_version: str, body_source: BodySource | None = None,
                   timings: Timings | None = None, workers: int | None = None) -> Analysis:
    """Analyse one CT series: the result record with the masks it was measured on.

    Parameters
    ----------
    datasets : sequence of pydicom Dataset
        Every image of one axial CT series, any order.
    params : Parameters
        Thresholds of the spec.
    software_version : str
        Reported in the result record.
    body_source : BodySource, optional
        Vertebral body finder; by default :class:`FloodBodySource`, and
        :class:`ShellBodySource` where its body is mostly cement.
    timings : Timings, optional
        Filled with the time of each step when given.
    workers : int, optional
        Bodies looked for at once (threads); by default one per CPU, at most
        ``MAX_WORKERS``. The result does not depend on it.

    Raises
    ------
    UnusableSeriesError
        The series cannot be read as one axial CT volume.
    """
    start = time.perf_counter()
    volume = load_volume(datasets)
    if timings is not None:
        timings.read = time.perf_counter() - start
    return analyze_volume(volume, params, software_version=software_version,
                          body_source=body_source, timings=timings, workers=workers)


def analyze_volume(volume: CtVolume, params: Parameters, *, software_version: str,
                   body_source: BodySource | None = None,
                   timings: Timings | None = None, workers: int | None = None) -> Analysis:
    """Analyse a loaded volume (see :func:`analyze_series`)."""
    source = body_source or FirstPlausible([FloodBodySource(), ShellBodySource()])
    t0 = time.perf_counter()
    cement = find_cement(volume.hu, volume.affine, params)
    bodies = _finished(_treated_bodies(volume, cement, source, params,
                                       workers or min(os.cpu_count() or 1, MAX_WORKERS)),
                       volume, cement, params)
    leaks = classify_leaks(cement.mask, bodies, volume.affine, search_mm=params.leak_search_mm)
    t1 = time.perf_counter()
    names = name_levels(volume, bodies)
    levels = [_measure(body, cement, leaks.per_body[i], params, names[i])
              for i, body in enumerate(bodies)]
    body_labels = np.zeros(volume.shape, dtype=np.int16)
    for i, body in enumerate(bodies):
        view = body_labels[body.box]
        view[body.mask & (view == 0)] = i + 1
    result = SeriesResult(
        study_instance_uid=volume.study_instance_uid,
        series_instance_uid=volume.series_instance_uid,
        software_version=software_version, parameters=params,
        flags=_flags(volume, cement, bodies, params), levels=tuple(levels),
    )
    if timings is not None:
        timings.segment = t1 - t0
        timings.measure = time.perf_counter() - t1
    logger.info("analysed series=%s levels=%d flags=%s", volume.series_instance_uid,
                len(levels), ",".join(f.value for f in result.flags) or "-")
    return Analysis(result=result, affine=volume.affine,
                    slice_sop_instance_uids=volume.sop_instance_uids, body_labels=body_labels,
                    cement=cement.mask, extravertebral_labels=leaks.labels,
                    leak_sites=leaks.sites)


def _treated_bodies(volume: CtVolume, cement: CementFinding, source: BodySource,
                    params: Parameters, workers: int) -> list[Body]:
    """The body around each large cement piece that holds enough cement, cranial first.

    Seeds are taken largest first; a seed next to a body found already is that body's.
    The bodies of the next ``workers`` seeds that no body holds yet are looked for at
    once (the finders release the GIL in their array work); a body whose seed turns out
    to lie next to one found for an earlier seed of the same round is dropped, so the
    result is the one-at-a-time result.
    """
    voxel_ml = voxel_volume_ml(volume.affine)
    workers = max(workers, 1)
    found: list[Body] = []
    pending = list(cement.seeds)

    def find(seed: FloatArray) -> Body | None:
        return source.body_at(volume.hu, volume.affine, seed, cement=cement.mask)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        run = pool.map if workers > 1 else map   # one worker: in this thread (profilers)
        while pending:
            pending = [s for s in pending if not _held(found, s)]
            batch, pending = pending[:workers], pending[workers:]
            for seed, body in zip(batch, run(find, batch), strict=True):
                if body is None:
                    logger.debug("no vertebral body around cement at index %s",
                                 np.round(seed, 1))
                elif _new_treated_body(body, seed, found, cement, voxel_ml, params):
                    found.append(body)
    found.sort(key=lambda b: -float(b.centre_mm[2]))
    return found


def _held(found: Sequence[Body], seed: FloatArray) -> bool:
    """Whether a body found already holds the seed (its cement or a leak from it)."""
    return any(_near_body(body, seed, SAME_BODY_MM) for body in found)


def _new_treated_body(body: Body, seed: FloatArray, found: Sequence[Body],
                      cement: CementFinding, voxel_ml: float, params: Parameters) -> bool:
    """Whether the body found around ``seed`` is a treated body not found before (its
    seed may have come to lie next to one found in the same round)."""
    if _held(found, seed):
        return False
    if _inner_cement_ml(body, cement, voxel_ml) < params.min_cement_ml:
        return False
    return not any(_overlap(body, other) >= SAME_BODY_OVERLAP for other in found)


def _finished(found: list[Body], volume: CtVolume, cement: CementFinding,
              params: Parameters) -> list[Body]:
    """The finder's bodies with their endplates placed, the cement between them and
    straddling their surface taken in, and the bulges flooded over wall and disc leaks
    cut off.

    A disc leak's own flooding, trimmed at its plates, is a slab with no cement deep
    inside: no treated body (its cement is a leak of the body beside it).
    """
    placed = [_with_endplates_and_enclosed_cement(body, volume, cement) for body in found]
    voxel_ml = voxel_volume_ml(volume.affine)
    treated = [body for body in placed
               if _inner_cement_ml(body, cement, voxel_ml) >= params.min_cement_ml]
    return [with_disc_leaks_cut(with_wall_leaks_cut(body, cement.mask, volume.shape),
                                cement.mask, volume.shape)
            for body in _with_straddling_cement(treated, cement.mask, volume.affine)]


def _with_endplates_and_enclosed_cement(body: Body, volume: CtVolume,
                                        cement: CementFinding) -> Body:
    """The finder's body with its endplates placed between thick slices, then the cement
    lying between them taken in."""
    placed = with_endplates_between_slices(body, volume.hu, volume.affine, volume.shape)
    return with_enclosed_cement(placed, cement.mask, volume.shape)


def _with_straddling_cement(bodies: list[Body], cement: npt.NDArray[np.bool_],
                            affine: FloatArray) -> list[Body]:
    """Each body with the cement straddling its surface taken in (never another body's)."""
    return [with_straddling_cement(body, cement, affine, bodies[:i] + bodies[i + 1:])
            for i, body in enumerate(bodies)]


def _inner_cement_ml(body: Body, cement: CementFinding, voxel_ml: float) -> float:
    """Cement at least TREATED_DEPTH_MM inside the body's surface, ml.

    A leak from the next level lies against this body's endplate or wall (a disc leak
    may even be taken into it): it treats no body. Cement injected into a body reaches
    its interior. The distance transform reaches the centre of the first voxel outside;
    the surface lies up to half a voxel nearer (half a slice on thick slices, where the
    end slice would otherwise count as 3 mm deep).
    """
    spacing = np.linalg.norm(body.box_affine[:3, :3], axis=0)
    to_outside = ndimage.distance_transform_edt(np.pad(body.mask, 1),
                                                sampling=spacing)[1:-1, 1:-1, 1:-1]
    deep = to_outside - 0.5 * float(spacing.max()) >= TREATED_DEPTH_MM
    return float(np.count_nonzero(deep & cement.mask[body.box])) * voxel_ml


def _near_body(body: Body, seed: FloatArray, radius_mm: float) -> bool:
    """Whether the body has a voxel within ``radius_mm`` of the seed (voxel index)."""
    spacing = np.linalg.norm(body.box_affine[:3, :3], axis=0)
    reach = np.ceil(radius_mm / spacing).astype(int)
    idx = np.rint(seed).astype(int) - [s.start for s in body.box]
    lo = np.maximum(idx - reach, 0)
    hi = np.minimum(idx + reach + 1, body.mask.shape)
    if np.any(hi <= lo):
        return False
    sub = body.mask[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
    offsets = np.indices(sub.shape) + (lo - idx)[:, None, None, None]
    dist2 = np.tensordot(spacing ** 2, offsets.astype(np.float64) ** 2, axes=1)
    return bool(np.any(sub & (dist2 <= radius_mm ** 2)))


def _overlap(a: Body, b: Body) -> float:
    """Shared voxels over the smaller body."""
    lo = [max(x.start, y.start) for x, y in zip(a.box, b.box, strict=True)]
    hi = [min(x.stop, y.stop) for x, y in zip(a.box, b.box, strict=True)]
    if any(h <= l_ for l_, h in zip(lo, hi, strict=True)):
        return 0.0
    sa = tuple(slice(l_ - x.start, h - x.start) for l_, h, x in zip(lo, hi, a.box, strict=True))
    sb = tuple(slice(l_ - x.start, h - x.start) for l_, h, x in zip(lo, hi, b.box, strict=True))
    shared = np.count_nonzero(a.mask[sa] & b.mask[sb])
    return shared / max(min(a.voxel_count, b.voxel_count), 1)


def _measure(body: Body, cement: CementFinding, extravertebral: Extravertebral,
             params: Parameters, level: str | None) -> LevelResult:
    """``measure_level`` on the body's own box (same numbers, a fraction of the work)."""
    return measure_level(body.mask, cement.mask[body.box], body.box_affine,
                         extravertebral=extravertebral, params=params, level=level,
                         silhouette_mask=cement.silhouette[body.box],
                         min_cross_section=AXIAL_MIN_CROSS_SECTION)


def _flags(volume: CtVolume, cement: CementFinding, bodies: Sequence[Body],
           params: Parameters) -> tuple[Flag, ...]:
    flags: list[Flag] = []
    if volume.spacing_mm[0] > params.coarse_slice_mm + 1e-6:
        flags.append(Flag.COARSE)
    if not bodies:
        flags.append(Flag.NO_BODY_AROUND_CEMENT if cement.seeds else Flag.NO_CEMENT_FOUND)
    if any(body.touches_fov_edge for body in bodies):
        flags.append(Flag.BODY_TOUCHES_FOV_EDGE)
    if cement.metal_found:
        flags.append(Flag.METAL_SUSPECTED)
    return tuple(flags)
