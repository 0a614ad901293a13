"""The vertebral column straightened along its bodies (a curved planar reformation).

From one known vertebral body the column is followed cranially and caudally: planes
perpendicular to the local column axis are sampled from the volume and the axis is
re-centred on the bone of the body cross-section in each plane. Discs, whose bone is
sparse, are crossed by keeping the current direction. The stack of planes is the
column in its own frame (``s`` along the axis, then posterior, then left), in which
discs, ribs and the sacrum are looked for (:mod:`node.analysis.levels`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage

FloatArray = npt.NDArray[np.float64]
F32Array = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class TrackParams:
    """Sampling and tracking of the column (mm, HU)."""

    step_mm: float = 1.0              # along the axis: the thinnest disc is ~3 mm
    pixel_mm: float = 1.5             # in each plane
    radius_mm: float = 66.0           # half the plane: body plus rib necks on each side
    max_length_mm: float = 420.0      # each way from the seed
    bone_hu: float = 150.0            # marrow of an osteoporotic body is near this
    min_bone_fraction: float = 0.25   # of the body disc, to re-centre on a plane
    gain: float = 0.4                 # of the offset applied per plane
    max_shift_mm: float = 1.0         # per plane: the column bends, it does not jump
    smooth_mm: float = 8.0            # of the centre path (the body's texture is noise)
    lost_mm: float = 30.0             # no body bone over this length: column ended


@dataclass(frozen=True, slots=True, eq=False)
class Column:
    """The straightened column.

    Attributes
    ----------
    planes : (n, m, m) float32
        HU on each plane, axes (posterior, left); NaN outside the volume.
    centres : (n, 3) float
        Plane centres, patient LPS, mm, caudal first.
    s_mm : (n,) float
        Arc length of each plane from the seed body's centre, cranial positive, mm.
    seed_index : int
        The plane through the seed body's centre.
    offsets_mm : (m,) float
        In-plane coordinate of each row / column, mm.
    caudal_edge, cranial_edge : bool
        The track stopped because it left the volume (True) rather than because the
        column ended inside it (False).
    """

    planes: F32Array
    centres: FloatArray
    s_mm: FloatArray
    seed_index: int
    offsets_mm: FloatArray
    caudal_edge: bool
    cranial_edge: bool

    def index_at(self, s_mm: float) -> int:
        """The plane nearest to arc length ``s_mm``."""
        return int(np.argmin(np.abs(self.s_mm - s_mm)))


@dataclass(slots=True)
class _State:
    point: FloatArray
    superior: FloatArray
    posterior: FloatArray


def _orthonormal(superior: FloatArray, posterior: FloatArray) -> tuple[FloatArray, FloatArray,
                                                                          FloatArray]:
    u = superior / np.linalg.norm(superior)
    v = posterior - (posterior @ u) * u
    v = v / np.linalg.norm(v)
    return u, v, np.cross(v, u)   # left = posterior x superior in LPS


class _Sampler:
    """Samples planes of the volume (trilinear, NaN outside)."""

    def __init__(self, hu: npt.NDArray[np.int16], affine: FloatArray, params: TrackParams):
        self.hu = hu
        self.inverse = np.linalg.inv(affine)
        self.params = params
        half = round(params.radius_mm / params.pixel_mm)
        self.offsets = np.arange(-half, half + 1, dtype=np.float64) * params.pixel_mm
        b, a = np.meshgrid(self.offsets, self.offsets, indexing="ij")
        self.post_grid, self.left_grid = b.ravel(), a.ravel()

    def inside(self, point: FloatArray) -> bool:
        idx = self.inverse[:3, :3] @ point + self.inverse[:3, 3]
        return bool(np.all(idx >= -0.5) and np.all(idx <= np.asarray(self.hu.shape) - 0.5))

    def plane(self, state: _State) -> F32Array:
        _, v, w = _orthonormal(state.superior, state.posterior)
        pts = state.point[:, None] + np.outer(v, self.post_grid) + np.outer(w, self.left_grid)
        idx = self.inverse[:3, :3] @ pts + self.inverse[:3, 3:4]
        out = ndimage.map_coordinates(self.hu, idx, order=1, mode="constant", cval=np.nan,
                                      output=np.float32)
        m = self.offsets.size
        return np.asarray(out.reshape(m, m), dtype=np.float32)


def _body_offset(plane: F32Array, offsets: FloatArray, half_width: float, wall: float,
                 params: TrackParams) -> tuple[float, float] | None:
    """Offset (posterior, left) of the body's bone from the plane centre, or None."""
    b, a = np.meshgrid(offsets, offsets, indexing="ij")
    # Symmetric about the centre along the posterior axis: pedicles stay out, no bias.
    disc = (a * a + b * b <= half_width ** 2) & (np.abs(b) <= 0.8 * wall)
    bone = disc & (np.nan_to_num(plane, nan=-1000.0) >= params.bone_hu)
    if np.count_nonzero(bone) < params.min_bone_fraction * np.count_nonzero(disc):
        return None
    return float(b[bone].mean()), float(a[bone].mean())


def _centre_path(sampler: _Sampler, seed: FloatArray, half_width: float, wall: float
                 ) -> tuple[FloatArray, bool, bool]:
    """Body centres on axial planes, 1 mm apart in patient z, through the seed.

    Axial planes keep the search stable: a spine is within ~30 degrees of patient z, so
    the body's bone centroid on an axial plane lies on the column axis, and a centre
    estimate never feeds back into the plane's orientation.
    """
    up, up_edge = _axial_walk(sampler, seed, 1.0, half_width, wall)
    down, down_edge = _axial_walk(sampler, seed, -1.0, half_width, wall)
    return np.stack([*down[::-1], seed, *up]), down_edge, up_edge


def _axial_walk(sampler: _Sampler, seed: FloatArray, direction: float, half_width: float,
                wall: float) -> tuple[list[FloatArray], bool]:
    """Centres from the seed along ``direction`` (+1 cranial) until the column ends."""
    p = sampler.params
    z_axis, y_axis = np.array([0.0, 0.0, 1.0]), np.array([0.0, 1.0, 0.0])
    centre = np.asarray(seed, dtype=np.float64).copy()
    out: list[FloatArray] = []
    lost = 0.0
    for _ in range(int(p.max_length_mm / p.step_mm)):
        ahead = centre + direction * p.step_mm * z_axis
        if not sampler.inside(ahead):
            return _trim(out, lost, p), True
        shift = _body_offset(sampler.plane(_State(ahead, z_axis, y_axis)), sampler.offsets,
                             half_width, wall, p)
        if shift is None:
            lost += p.step_mm
            if lost > p.lost_mm:
                return _trim(out, lost, p), False
        else:
            lost = 0.0
            move = p.gain * np.asarray(shift)
            move *= min(1.0, p.max_shift_mm / max(float(np.linalg.norm(move)), 1e-9))
            ahead = ahead + np.array([move[1], move[0], 0.0])   # (left=x, posterior=y)
        out.append(ahead)
        centre = ahead
    return _trim(out, lost, p), False


def _trim(centres: list[FloatArray], lost: float, p: TrackParams) -> list[FloatArray]:
    """Drop the planes past the last one that showed body bone."""
    n = len(centres) - round(lost / p.step_mm)
    return centres[:max(n, 0)]


def _smooth_axis(path: FloatArray, p: TrackParams) -> tuple[FloatArray, FloatArray]:
    """Smoothed centres and unit tangents (cranial) of an axial centre path."""
    sigma = p.smooth_mm / p.step_mm
    smooth = path.copy()
    if len(path) > 3:
        smooth[:, :2] = ndimage.gaussian_filter1d(path[:, :2], sigma, axis=0, mode="nearest")
    tangent = np.gradient(smooth, axis=0) if len(path) > 1 else np.array([[0.0, 0.0, 1.0]])
    tangent = tangent / np.linalg.norm(tangent, axis=1, keepdims=True)
    return smooth, tangent


def straighten(hu: npt.NDArray[np.int16], affine: FloatArray, centre_mm: FloatArray,
               superior: FloatArray, posterior: FloatArray, *, half_width_mm: float,
               posterior_wall_mm: float, params: TrackParams | None = None) -> Column:
    """Follow the column both ways from one body and stack the planes.

    Parameters
    ----------
    hu : (slices, rows, columns) int16
    affine : (4, 4) float
        Index to patient LPS, mm.
    centre_mm, superior, posterior : (3,) float
        The seed body's centre and axes, patient LPS.
    half_width_mm, posterior_wall_mm : float
        The seed body's half width and centre-to-posterior-wall distance, mm.
    """
    p = params or TrackParams()
    sampler = _Sampler(hu, affine, p)
    seed = np.asarray(centre_mm, dtype=np.float64)
    path, caudal_edge, cranial_edge = _centre_path(sampler, seed, half_width_mm,
                                                   posterior_wall_mm)
    seed_index = int(np.argmin(np.abs(path[:, 2] - seed[2])))
    centres, tangents = _smooth_axis(path, p)
    back = np.asarray(posterior, dtype=np.float64)
    planes = [sampler.plane(_State(c, t, back)) for c, t in zip(centres, tangents, strict=True)]
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(centres, axis=0), axis=1))])
    return Column(planes=np.stack(planes), centres=centres, s_mm=arc - arc[seed_index],
                  seed_index=seed_index, offsets_mm=sampler.offsets,
                  caudal_edge=caudal_edge, cranial_edge=cranial_edge)
