"""Parts of the watershed body finder that can be checked on small synthetic arrays."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from node.analysis.bodies import Body, body_from_mask, edge_contrast_hu
from node.analysis.flood.discs import _bright_disc_before, _neighbour_marrow
from node.analysis.flood.grid import _Grid, _Native
from node.analysis.flood.masks import _flooded_from, _near, _opened
from node.analysis.flood.params import AZIMUTH_BINS, NEIGHBOUR_MARROW_MM, POLAR_BINS
from node.analysis.flood.plates import _endplate_plane, _Plates, _robust_plane
from node.analysis.flood.rays import _at_cement_edge, _cleaned, _directions, _first_exit, _on_rays
from node.analysis.flood.retries import _better_body
from node.analysis.flood.wall import _same_wall
from node.analysis.frame import BodyFrame


def _blobs(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = ndimage.gaussian_filter(rng.standard_normal((40, 50, 45)), 3.0)
    mask = noise > 0.08
    mask[:, :, :5] = False            # a margin on one side only: boxes must clip
    return mask


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("radius", [1.0, 2.5, 4.0])
def test_near_and_opened_on_the_box_equal_the_whole_grid(seed: int, radius: float) -> None:
    mask = _blobs(seed)
    near = ndimage.distance_transform_edt(~mask) <= radius
    core = ndimage.distance_transform_edt(mask) > radius
    opened = (ndimage.distance_transform_edt(~core) <= radius) & mask
    np.testing.assert_array_equal(_near(mask, radius), near)
    np.testing.assert_array_equal(_opened(mask, radius), opened)


def _grid_and_frame() -> tuple[_Grid, BodyFrame]:
    grid = _Grid(origin=np.array([-30.0, -30.0, -30.0]), step=0.5, shape=(121, 121, 121))
    frame = BodyFrame(origin=np.zeros(3), superior=np.array([0.0, 0.0, 1.0]),
                      left=np.array([1.0, 0.0, 0.0]), posterior=np.array([0.0, 1.0, 0.0]))
    return grid, frame


@pytest.mark.parametrize(("gap_mm", "followed"), [(1.5, True), (5.0, False)])
def test_first_exit_crosses_short_gaps_only(gap_mm: float, followed: bool) -> None:
    """Cement pieces inside one body lie closer than the disc between two bodies."""
    grid, frame = _grid_and_frame()
    pts = grid.points(np.ones(grid.shape, dtype=bool)).reshape(*grid.shape, 3)
    radius = np.linalg.norm(pts, axis=-1)
    body = radius <= 10.0
    shell = (radius >= 10.0 + gap_mm) & (radius <= 14.0 + gap_mm)   # cement beyond the gap
    start = np.full((POLAR_BINS, AZIMUTH_BINS), 10.0)
    exit_mm = _first_exit(_on_rays(body | shell, grid, frame), start)
    expected = 14.0 + gap_mm if followed else 10.0
    assert np.median(exit_mm) == pytest.approx(expected, abs=0.75)


@pytest.mark.parametrize(("gap_mm", "same"), [(0.0, True), (2.5, True), (4.0, False)])
def test_a_seed_next_to_a_found_body_belongs_to_it(gap_mm: float, same: bool) -> None:
    """Cement reaching a body's shell is that body's; the next body is farther away."""
    from node.analysis.pipeline import _near_body

    mask = np.zeros((20, 30, 30), dtype=bool)
    mask[5:15, 5:25, 5:25] = True
    box = (slice(5, 25), slice(0, 30), slice(0, 30))   # slice 5 of the volume onward
    local = np.array([[0, 0, 0.5, 0], [0, 0.5, 0, 0], [2.0, 0, 0, 10.0], [0, 0, 0, 1.0]])
    body = body_from_mask(mask, box, local, (40, 30, 30))   # 2 mm slices, 0.5 mm pixels
    seed = np.array([15.0, 15.0, 24.0 + gap_mm / 0.5])   # beyond the last column, in-plane
    assert _near_body(body, seed, 3.0) is same


def test_flooding_without_the_markers_interior_labels_as_the_whole_watershed() -> None:
    from skimage.segmentation import watershed

    rng = np.random.default_rng(7)
    elevation = ndimage.gaussian_filter(rng.random((40, 40, 40)), 2).astype(np.float32)
    markers = np.zeros(elevation.shape, dtype=np.int32)
    markers[:, :, :6] = 2                          # a thick certain outside
    markers[[0, -1]] = 2
    markers[18:23, 18:23, 18:23] = 1               # the seed, with an interior of its own
    floodable = rng.random(elevation.shape) > 0.1
    floodable[markers > 0] = True
    whole = watershed(elevation, markers, mask=floodable)
    np.testing.assert_array_equal(_flooded_from(elevation, markers, floodable), whole)



def _cement_below_the_plate(cement_top_mm: float, blur_mm: float = 0.6) -> _Native:
    """Marrow with cement up to ``cement_top_mm`` under its upper endplate (a 0.5 mm
    plate at z = 8 mm, 700 HU) and a disc beyond, blurred like a scan (``blur_mm``)."""
    step = 0.5
    z = (np.arange(81) - 40) * step
    column = np.where(z <= 8.5, 120.0, 90.0)            # marrow, then disc
    column[(z > 8.0) & (z <= 8.5)] = 700.0
    column[(z >= 0.0) & (z <= cement_top_mm)] = 2500.0
    values = np.broadcast_to(column[:, None, None], (81, 81, 81)).astype(np.float32)
    to_index = np.zeros((4, 4))                          # LPS mm -> (k, j, i), centred
    to_index[0, 2] = to_index[1, 1] = to_index[2, 0] = 1.0 / step
    to_index[:3, 3] = 40.0
    to_index[3, 3] = 1.0
    return _Native(values=ndimage.gaussian_filter(values, blur_mm / step),
                         to_index=to_index)


_POLAR_DEG = (np.arange(POLAR_BINS) + 0.5) * 180.0 / POLAR_BINS


def _snapped(cement_top_mm: float, surface_mm: float, rays: np.ndarray, blur_mm: float
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The radii before and after ``_at_cement_edge`` on ``rays`` (polar bins) found at
    ``surface_mm`` above the seed (2.5 mm out in the disc when the cement reaches the
    plate), 20 mm elsewhere; and the height the moved rays end at."""
    _, frame = _grid_and_frame()
    native = _cement_below_the_plate(cement_top_mm, blur_mm)
    polar = np.radians(_POLAR_DEG)
    radius = np.full((POLAR_BINS, AZIMUTH_BINS), 20.0)
    found_mm = 11.0 if cement_top_mm >= 8.5 else surface_mm
    radius[rays] = found_mm / np.cos(polar[rays])[:, None]
    after = _at_cement_edge(radius, native, frame, marrow=120.0)
    return radius, after, after[rays] * np.cos(polar[rays])[:, None]


@pytest.mark.parametrize(("cement_top_mm", "surface_mm"), [(8.5, 8.5), (6.5, 9.0)])
def test_a_surface_run_on_beyond_cement_at_the_endplate_comes_back(
        cement_top_mm: float, surface_mm: float) -> None:
    # Cement up to the plate hides it: the surface found 2.5 mm out in the disc comes
    # back to the cement's edge. Cement 1.5 mm short of the plate leaves the plate's
    # wall visible beyond it: the surface stays. Sideways nothing moves.
    up = _POLAR_DEG < 18.0
    radius, after, top = _snapped(cement_top_mm, surface_mm, up, blur_mm=0.6)
    assert np.median(top) == pytest.approx(surface_mm, abs=0.5)
    np.testing.assert_array_equal(after[~up], radius[~up])


@pytest.mark.parametrize(("cement_top_mm", "surface_mm"), [(8.5, 8.5), (6.0, 9.0)])
def test_a_ray_leaving_the_cement_obliquely_reads_its_blur_as_no_wall(
        cement_top_mm: float, surface_mm: float) -> None:
    # Toward the plate's rim (50 degrees off the axis) the cement's blur falls off over
    # 2.5 mm along the ray: that tail is no wall, and the surface 2.5 mm out in the disc
    # comes back. A plate 2 mm beyond the cement rises above the tail: the surface stays.
    rim = np.abs(_POLAR_DEG - 50.0) <= 2.0
    _, _, top = _snapped(cement_top_mm, surface_mm, rim, blur_mm=0.8)
    # The half-level is read on the 4 mm before the surface, where so oblique a ray has
    # not yet reached the cement's core: the edge comes out a little beyond the cement.
    assert np.median(top) == pytest.approx(surface_mm, abs=0.75)


@pytest.mark.parametrize("tilt_deg", [0.0, 12.0, -20.0])
def test_the_first_wall_is_found_again_from_a_moved_and_tilted_centre(tilt_deg: float) -> None:
    first = BodyFrame(origin=np.array([0.0, -7.0, 0.0]), superior=np.array([0.0, 0.0, 1.0]),
                      left=np.array([1.0, 0.0, 0.0]), posterior=np.array([0.0, 1.0, 0.0]))
    t = np.radians(tilt_deg)
    post = np.array([0.0, np.cos(t), np.sin(t)])
    left = np.array([1.0, 0.0, 0.0])
    new = BodyFrame(origin=np.array([1.0, -1.0, 2.0]), superior=np.cross(left, post),
                    left=left, posterior=post)
    d = _same_wall(first, 18.0, new)
    point = new.origin + d * new.posterior
    # On the first wall's plane: 18 mm behind the first centre along its posterior axis.
    assert (point - first.origin) @ first.posterior == pytest.approx(18.0)
    assert d == pytest.approx(12.0 / np.cos(t))


def _column_of_bodies(stretches: list[tuple[float, float]], painted_mm: float
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """A grid whose columns follow ``stretches`` (HU up to each height above the seed,
    mm; the same below), blurred like a thick-slice scan, cement painted around the seed."""
    step = 0.7
    shape = (121, 31, 31)
    centre = np.asarray(shape) // 2
    z_mm = np.abs(np.arange(shape[0]) - centre[0]) * step
    profile = np.full(shape[0], stretches[-1][1])
    for top, hu in reversed(stretches):
        profile[z_mm <= top] = hu
    profile = ndimage.gaussian_filter1d(profile, 1.2 / step)
    smooth = np.broadcast_to(profile[:, None, None], shape).astype(np.float32).copy()
    painted = np.zeros(shape, dtype=bool)
    painted[z_mm <= painted_mm] = True
    return smooth, painted, centre, step


def _slab_mm(slab: np.ndarray, centre: np.ndarray, step: float) -> tuple[float, float]:
    ks = np.flatnonzero(slab.any(axis=(1, 2)))
    return float((ks.min() - centre[0]) * step), float((ks.max() - centre[0]) * step)


@pytest.mark.parametrize("blur_hu", [None, 260.0])
def test_the_next_bodys_marrow_beyond_a_bright_band_is_marked(blur_hu: float | None) -> None:
    # Own marrow to 12 mm, a band (two plates and a thin disc on thick slices) to 17 mm,
    # the next body's marrow beyond. A bright rim where the painted cement ends (its blur
    # on thick slices) is no band.
    rim = [(9.5, blur_hu)] if blur_hu else []
    smooth, painted, centre, step = _column_of_bodies(
        [(8.0, 150.0), *rim, (12.0, 150.0), (17.0, 235.0), (60.0, 110.0)], painted_mm=8.0)
    for direction in (1, -1):
        band = _neighbour_marrow(smooth, painted, centre, 150.0, step, direction)
        assert band is not None and band.plane is not None
        lo, hi = sorted(abs(v) for v in _slab_mm(band.marrow, centre, step))
        assert lo > 17.0 + 1.0 and hi < 17.0 + 2.0 * NEIGHBOUR_MARROW_MM + 2.0


def test_no_next_body_is_marked_without_a_band() -> None:
    smooth, painted, centre, step = _column_of_bodies([(8.0, 150.0), (60.0, 140.0)], 8.0)
    assert _neighbour_marrow(smooth, painted, centre, 140.0, step, 1) is None


def _plate_hits(near_share: float, near_clear: bool, seed: int = 0, *, slice_mm: float = 1.0,
                beyond: float = 6.0, painted_over: bool = True
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, _Plates]:
    """Endplate hits below a seed (direction -1) on a 40 x 40 lattice of columns: the
    body's own plate, slanted, where it shows; ``beyond`` voxels farther, the next body's
    plate where cement painted over the own one hides it (the middle of the body). On
    thick slices a plate's hits sit on the slice centres (grid steps of 1 mm)."""
    rng = np.random.default_rng(seed)
    ys, xs = (a.ravel() for a in np.mgrid[0:40, 0:40])
    own = 30.0 + 0.1 * ys + rng.normal(0, 0.4, ys.size)
    middle = np.hypot(ys - 19.5, xs - 19.5)
    hidden = middle < np.quantile(middle, 1.0 - near_share)
    k = slice_mm * np.rint(np.where(hidden, own - beyond, own) / slice_mm)
    painted = np.zeros((60, 40, 40), dtype=bool)
    for y, x, level in zip(ys[hidden], xs[hidden], np.rint(own[hidden]).astype(int),
                           strict=True):
        painted[level - 1:level + 8, y, x] = painted_over
    clear = ~_near(painted, 3.0) if near_clear else np.zeros_like(painted)
    return k, ys, xs, _plates(painted, clear, slice_mm)


def _plates(painted: np.ndarray, clear: np.ndarray, slice_mm: float) -> _Plates:
    """Plates read (none: the hits are given) beside ``painted`` cement."""
    return _Plates(found={}, painted=painted, clear=clear, slice_mm=slice_mm,
                         smooth=np.zeros(painted.shape, dtype=np.float32), marrow=0.0,
                         step=1.0)


def _is_own_plate(plane: np.ndarray | None) -> bool:
    return plane is not None and abs(plane[0] - 30.0) < 1.0 and abs(plane[1] - 0.1) < 0.03


@pytest.mark.parametrize("near_share", [0.35, 0.45])
def test_the_nearer_plate_is_the_bodys_where_cement_hides_it_in_the_middle(
        near_share: float) -> None:
    k, ys, xs, plates = _plate_hits(near_share, near_clear=True)
    assert not _is_own_plate(_robust_plane(k, ys, xs, 2.0 / 0.9))
    assert _is_own_plate(_endplate_plane(k, ys, xs, plates, -1, 0.9))


def test_a_nearer_plate_seen_only_beside_the_cement_is_its_blur() -> None:
    k, ys, xs, plates = _plate_hits(0.45, near_clear=False)
    assert not _is_own_plate(_endplate_plane(k, ys, xs, plates, -1, 0.9))


def test_a_nearer_plate_over_no_cement_is_no_hidden_plate() -> None:
    # A plate depressed by the fracture: the outer rim still shows the plate beyond.
    k, ys, xs, plates = _plate_hits(0.45, near_clear=True)
    unpainted = _plates(np.zeros_like(plates.painted), np.ones_like(plates.clear), 1.0)
    assert not _is_own_plate(_endplate_plane(k, ys, xs, unpainted, -1, 0.9))


def test_no_nearer_plate_on_too_few_columns() -> None:
    k, ys, xs, plates = _plate_hits(0.2, near_clear=True)
    assert not _is_own_plate(_endplate_plane(k, ys, xs, plates, -1, 0.9))


def test_the_nearer_plate_is_the_bodys_on_thick_slices_too() -> None:
    # 3 mm slices (shifted-19): the hits step by a slice, so at a slice's tolerance one
    # slanted plane seems to hold them all; the painted cement over the columns whose
    # first plate lies a disc farther still tells that the nearer plate is the body's.
    k, ys, xs, plates = _plate_hits(0.45, near_clear=True, slice_mm=3.0, beyond=7.0)
    assert _robust_plane(k, ys, xs, 2.0) is None
    assert _robust_plane(k, ys, xs, 3.0) is not None
    assert _is_own_plate(_endplate_plane(k, ys, xs, plates, -1, 1.0))


def test_steps_on_thick_slices_without_cement_are_no_hidden_plate() -> None:
    k, ys, xs, plates = _plate_hits(0.45, near_clear=True, slice_mm=3.0, beyond=7.0,
                                    painted_over=False)
    assert _endplate_plane(k, ys, xs, plates, -1, 1.0) is None


def _leaning_box_radii(lean: float) -> np.ndarray:
    """Star table of a box 30 x 24 x 20 mm (left, posterior, superior) around the origin
    whose front and back walls lean ``lean`` mm back per mm up: a parallelogram seen from
    the side, its superior-posterior and inferior-anterior corners acute."""
    _, frame = _grid_and_frame()
    directions = _directions(frame)
    planes = [((0.0, 0.0, 1.0), 10.0), ((0.0, 0.0, -1.0), 10.0), ((1.0, 0.0, 0.0), 15.0),
              ((-1.0, 0.0, 0.0), 15.0), ((0.0, 1.0, -lean), 12.0), ((0.0, -1.0, lean), 12.0)]
    radius = np.full(directions.shape[:2], np.inf)
    for normal, distance in planes:
        toward = directions @ np.array(normal)
        radius = np.minimum(radius, np.where(toward > 1e-9,
                                             distance / np.maximum(toward, 1e-9), np.inf))
    return radius


@pytest.mark.parametrize("lean", [0.0, 0.4])
def test_cleaning_that_keeps_corners_still_removes_spikes_and_dents(lean: float) -> None:
    """The median of the star map clips a box's corners (the engine's bodies leaned back
    for it); on a wall the quadratic guard keeps them, and a spike or a dent still goes."""
    radius = _leaning_box_radii(lean)
    on_wall = np.ones(radius.shape, dtype=bool)
    assert np.max(radius - _cleaned(radius)) > 2.5
    np.testing.assert_allclose(_cleaned(radius, on_wall=on_wall), radius, atol=1e-9)
    for bump_mm in (8.0, -4.0):
        bumped = radius.copy()
        bumped[28:30, 40:42] += bump_mm
        cleaned = _cleaned(bumped, on_wall=on_wall)
        assert np.max(np.abs(cleaned - radius)) < 0.6


def _column(before: list[float], step: float = 0.7) -> np.ndarray:
    """A column from the seed's side: ``before`` then a plate and a disc of 8 mm."""
    disc = [140.0] * round(8.0 / step)
    return np.asarray(before + [176.0] * 2 + disc, dtype=np.float32)


@pytest.mark.parametrize(("before", "marrow", "clear", "bright"), [
    ([60.0] * 12, 60.0, True, True),                        # dark marrow, then the disc
    ([60.0] * 12, 60.0, False, False),                      # ...but near cement: its blur
    ([400.0, 300.0, 220.0, 180.0] * 3, 60.0, True, False),  # cement's blur, no marrow
    ([150.0] * 12, 150.0, True, False),                     # marrow as bright as the disc
])
def test_a_disc_brighter_than_the_marrow_is_told_from_blur(before: list[float], marrow: float,
                                                           clear: bool, bright: bool) -> None:
    values = _column(before)
    clear_mask = np.full(len(values), clear)
    assert _bright_disc_before(values, clear_mask, marrow, 0.7) is bright


def _held_and_whole(cement_from_row: int, back_shell_hu: int, whole_from_row: int = 0
                    ) -> tuple[Body, Body, np.ndarray, np.ndarray]:
    """A box body (1 mm voxels, 500 HU shell, 100 HU marrow) with cement in its front part,
    the body flooded only up to 2 mm behind the cement, and the whole body (from
    ``whole_from_row``) with the back of its shell at ``back_shell_hu``."""
    shape = (40, 60, 60)
    z, y, x = np.indices(shape)
    inside = (abs(z - 20) <= 12) & (abs(y - 30) <= 15) & (abs(x - 30) <= 18)
    shell = inside & ~ndimage.binary_erosion(inside)
    hu = np.full(shape, 40, dtype=np.int16)
    hu[inside] = 100
    hu[shell] = np.where(y[shell] > 34, back_shell_hu, 500)
    cement = (abs(z - 20) <= 9) & (y >= cement_from_row) & (y <= 32) & (abs(x - 30) <= 12)
    hu[cement] = 2000
    box = (slice(0, 40), slice(0, 60), slice(0, 60))
    held = body_from_mask(inside & (y <= 34), box, np.eye(4), shape)
    whole = body_from_mask(inside & (y >= whole_from_row), box, np.eye(4), shape)
    return held, whole, hu, cement


@pytest.mark.parametrize(("cement_from_row", "back_shell_hu", "whole_from_row", "grown"), [
    (18, 380, 0, True),     # held (39 % cement), the whole body's edge 4 % less sharp
    (18, 250, 0, False),    # ...19 % less sharp: not the same shell
    (26, 340, 0, False),    # 18 % cement: no hold, the sharper edge decides
    (18, 380, 17, False),   # the retry loses 10 % of the first body
])
def test_a_body_held_at_its_cement_gives_way_to_the_whole_one(
        cement_from_row: int, back_shell_hu: int, whole_from_row: int, grown: bool) -> None:
    held, whole, hu, cement = _held_and_whole(cement_from_row, back_shell_hu, whole_from_row)
    assert edge_contrast_hu(whole, hu, cement) < edge_contrast_hu(held, hu, cement)
    assert (_better_body(held, whole, hu, cement) is whole) == grown
