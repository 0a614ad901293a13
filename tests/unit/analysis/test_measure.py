"""The measurement definitions on hand-built objects whose answers are known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from node.analysis.frame import body_frame
from node.analysis.measure import measure_level
from node.analysis.types import Extravertebral, Group, Parameters

PARAMS = Parameters()


def box(shape: tuple[int, int, int] = (18, 30, 30)) -> np.ndarray:
    """A (slices, rows, columns) grid holding a box body with a 2-voxel margin."""
    grid = np.zeros(tuple(n + 4 for n in shape), dtype=bool)
    grid[2:-2, 2:-2, 2:-2] = True
    return grid


def axial_affine(spacing: tuple[float, float, float] = (1.0, 1.0, 1.0),
                 feet_first_slices: int = 0) -> np.ndarray:
    """(slice, row, column) -> LPS for an axial head-first (or feet-first) series."""
    dz, dy, dx = spacing
    affine = np.eye(4)
    affine[:3, :3] = np.array([[0, 0, dx], [0, dy, 0], [dz, 0, 0]], dtype=float)
    if feet_first_slices:  # slice 0 is the most cranial one
        affine[2, 0] = -dz
        affine[2, 3] = (feet_first_slices - 1) * dz
    return affine


def measure(body: np.ndarray, cement: np.ndarray, affine: np.ndarray,
            extra: Extravertebral | None = None):
    return measure_level(body, cement, affine, extravertebral=extra or Extravertebral(),
                         params=PARAMS)


def test_box_half_filled_from_below() -> None:
    body = box()
    cement = body.copy()
    cement[2 + 9:] = False  # cement in the lower 9 of 18 slices (slice index grows to +z)
    result = measure(body, cement, axial_affine())
    assert result.vbv_ml == pytest.approx(18 * 30 * 30 / 1000)
    assert result.cdv_ml == pytest.approx(9 * 30 * 30 / 1000)
    assert result.vf_pct == pytest.approx(50.0)
    # Coronal: every left-right zone is half covered (0.5 counts); sagittal: lower zone
    # full, middle zone 3 of 6 slices, upper empty; axial: a full slice fills 4 quadrants.
    assert (result.score.coronal, result.score.sagittal, result.score.axial) == (3, 2, 4)
    assert result.score.total == 9
    assert result.group is Group.B
    assert result.extensive_expected


def test_cement_only_in_left_third() -> None:
    body = box()
    cement = np.zeros_like(body)
    cement[2:-2, 2:-2, 2 + 20:2 + 30] = True  # columns grow toward patient left (+x)
    result = measure(body, cement, axial_affine())
    assert result.vf_pct == pytest.approx(100 / 3)
    # Coronal: only the left zone; sagittal: the projection along l is fully covered;
    # axial: both left quadrants are 10/15 covered.
    assert (result.score.coronal, result.score.sagittal, result.score.axial) == (1, 3, 2)
    assert result.group is Group.A


def test_below_half_coverage_does_not_count() -> None:
    body = box()
    cement = np.zeros_like(body)
    cement[2:-2, 2:-2, 2 + 16:2 + 30] = True  # 14 of the 15 left columns...
    cement[2:-2, 2 + 8:-2, 2 + 16:2 + 30] = False  # ...in only 8 of 30 rows
    result = measure(body, cement, axial_affine())
    # Axial: 8/15 rows x 14/15 columns of a quadrant is < 0.5. The frontal projection
    # hides depth, so the left zone (columns 20-29) still reads full; the lateral
    # projection sees 8 of 30 rows in every zone.
    assert result.score.axial == 0
    assert result.score.coronal == 1
    assert result.score.sagittal == 0


def test_feet_first_and_anisotropic_grid_give_the_same_numbers() -> None:
    body = box()
    cement = body.copy()
    cement[2 + 9:] = False
    head_first = measure(body, cement, axial_affine())
    # Reversing the slice order on a feet-first grid describes the same object.
    feet_first = measure(body[::-1], cement[::-1], axial_affine(feet_first_slices=body.shape[0]))
    assert feet_first.score == head_first.score
    assert feet_first.vbv_ml == pytest.approx(head_first.vbv_ml)
    assert feet_first.centroid_mm[2] == pytest.approx(head_first.centroid_mm[2])
    coarse = measure(body, cement, axial_affine(spacing=(2.5, 0.5, 0.5)))
    assert coarse.vbv_ml == pytest.approx(18 * 30 * 30 * 2.5 * 0.25 / 1000)
    assert coarse.score == head_first.score


def test_frame_of_tilted_body_follows_its_principal_axis() -> None:
    # A flat slab tilted 20 degrees about the left axis: superior axis tilts with it.
    grid = np.zeros((80, 80, 80), dtype=bool)
    k, r, c = np.indices(grid.shape).astype(float) - 40
    angle = np.deg2rad(20)
    along_s = k * np.cos(angle) + r * np.sin(angle)
    along_a = -k * np.sin(angle) + r * np.cos(angle)
    grid[(np.abs(along_s) <= 8) & (np.abs(along_a) <= 18) & (np.abs(c) <= 20)] = True
    frame = body_frame(grid, axial_affine())
    expected = np.array([0.0, np.sin(angle), np.cos(angle)])
    assert np.dot(frame.superior, expected) == pytest.approx(1.0, abs=1e-3)
    assert frame.left == pytest.approx(np.array([1.0, 0.0, 0.0]), abs=1e-6)
    assert np.dot(frame.posterior, frame.superior) == pytest.approx(0.0, abs=1e-9)


def test_leakage_ignores_the_needle_tract() -> None:
    body = box()
    cement = body.copy()
    tract_only = measure(body, cement, axial_affine(), Extravertebral(needle_tract=0.3))
    assert not tract_only.leakage
    disc = measure(body, cement, axial_affine(), Extravertebral(disc=0.05))
    assert disc.leakage
    assert disc.extravertebral_ml.total == pytest.approx(0.05)


def test_cutoff_is_inclusive() -> None:
    body = box((10, 10, 10))
    cement = np.zeros_like(body)
    cement.flat[np.flatnonzero(body)[:286]] = True  # 28.6 % of 1000 voxels
    result = measure_level(body, cement, axial_affine(), extravertebral=Extravertebral(),
                           params=Parameters(vf_cutoff_pct=28.6))
    assert result.vf_pct == pytest.approx(28.6)
    assert result.extensive_expected


def test_result_record_round_trips() -> None:
    from node.analysis.types import LevelResult

    body = box()
    result = measure(body, body.copy(), axial_affine(), Extravertebral(disc=0.2))
    again = LevelResult.from_json(result.to_json())
    assert again.to_json() == result.to_json()
    with pytest.raises(ValueError, match=r'"vf_pct" must be within 0\.\.100\. Found 120'):
        LevelResult.from_json({**result.to_json(), "vf_pct": 120})


def test_the_projections_read_the_cement_silhouette_and_the_slices_do_not() -> None:
    body = box()
    cement = np.zeros_like(body)
    cement[2:-2, 2:-2, 2 + 20:2 + 30] = True       # the left third, as above
    cement[2:-2, 2 + 13:-2, 2 + 20:2 + 30] = False  # ...in only 13 of 30 rows
    seen = cement.copy()
    seen[2:-2, 2 + 13:2 + 17, 2 + 20:2 + 30] = True  # its faint edge reaches 17 rows
    result = measure_level(body, cement, axial_affine(), extravertebral=Extravertebral(),
                           params=PARAMS, silhouette_mask=seen)
    plain = measure(body, cement, axial_affine())
    # Lateral projection: 13/30 of every zone without the edge, 17/30 with it. The
    # quadrants of a slice stay on the cement itself (13/15 rows, 10/15 columns).
    assert (plain.score.coronal, plain.score.sagittal, plain.score.axial) == (1, 0, 1)
    assert (result.score.coronal, result.score.sagittal, result.score.axial) == (1, 3, 1)
    assert result.cdv_ml == plain.cdv_ml


def test_a_sliver_of_plate_at_the_bodys_end_is_scored_only_by_the_spec() -> None:
    body = box()
    cement = np.zeros_like(body)
    cement[2:-2, 2:2 + 15, 2 + 15:2 + 30] = True  # one quadrant (anterior left)
    body[1, 14:20, 14:20] = True  # a 6 x 6 rim of plate below the box, all cement
    cement[1, 14:20, 14:20] = True
    spec = measure(body, cement, axial_affine())
    found = measure_level(body, cement, axial_affine(), extravertebral=Extravertebral(),
                          params=PARAMS, min_cross_section=0.1)
    # The sliver (36 voxels against 900 across) fills its four quadrants.
    assert spec.score.axial == 4
    assert found.score.axial == 1
    assert (found.score.coronal, found.score.sagittal) == (spec.score.coronal,
                                                           spec.score.sagittal)
