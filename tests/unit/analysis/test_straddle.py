"""Cement straddling a body's surface: taken in when the body finder cut through it."""

from __future__ import annotations

import numpy as np
import pytest

from node.analysis.bodies import Body, body_from_mask
from node.analysis.straddle import MAX_REACH_MM, with_straddling_cement

SHAPE = (40, 60, 60)


def _affine() -> np.ndarray:
    return np.eye(4)   # 1 mm voxels


def _body(mask: np.ndarray) -> Body:
    box = (slice(5, 35), slice(10, 50), slice(10, 50))
    return body_from_mask(mask[box], box, _local(box), SHAPE)


def _local(box: tuple[slice, ...]) -> np.ndarray:
    local = _affine()
    local[:3, 3] = [s.start for s in box]
    return local


def _scene(outside_mm: int, through_cement: bool) -> tuple[np.ndarray, np.ndarray]:
    """A box body (found short of its wall at i = 40) and cement beyond that face."""
    body = np.zeros(SHAPE, dtype=bool)
    body[10:30, 15:45, 15:40] = True
    cement = np.zeros(SHAPE, dtype=bool)
    cement[15:25, 22:38, 40:40 + outside_mm] = True          # the piece outside
    if through_cement:
        cement[15:25, 22:38, 30:40] = True                   # the mass inside it continues
    else:
        cement[15:25, 22:38, 30:37] = True                   # cement inside, bone between
        cement[18:20, 28:30, 37:40] = True                   # ...and a narrow breach
    return body, cement


@pytest.mark.parametrize(("outside_mm", "through_cement", "taken"), [
    (4, True, True),                                 # a cut through one mass: body
    (int(MAX_REACH_MM) + 4, True, False),            # reaches far out: a leak
    (4, False, False),                               # meets the body at its wall: a leak
])
def test_cement_cut_by_the_surface_is_taken_in(outside_mm: int, through_cement: bool,
                                               taken: bool) -> None:
    body_mask, cement = _scene(outside_mm, through_cement)
    body = _body(body_mask)
    result = with_straddling_cement(body, cement, _affine())
    grown = result.voxel_count - body.voxel_count
    piece = 10 * 16 * outside_mm
    assert grown == (piece if taken else 0)


def test_another_bodys_voxels_are_never_taken() -> None:
    body_mask, cement = _scene(4, True)
    taken = np.zeros(SHAPE, dtype=bool)
    taken[:, :, 40:] = True
    box = (slice(0, SHAPE[0]), slice(0, SHAPE[1]), slice(40, SHAPE[2]))
    other = body_from_mask(taken[box], box, _local(box), SHAPE)
    body = _body(body_mask)
    result = with_straddling_cement(body, cement, _affine(), [other])
    assert result.voxel_count == body.voxel_count
