"""Cement between a body's own endplates belongs to the body, not to the disc."""

from __future__ import annotations

import numpy as np

from node.analysis.bodies import Body, body_from_mask
from node.analysis.enclosed import with_enclosed_cement

SHAPE = (40, 60, 60)
BOX = (slice(5, 35), slice(10, 50), slice(10, 50))


def _body(mask: np.ndarray) -> Body:
    local = np.eye(4)
    local[:3, 3] = [s.start for s in BOX]
    return body_from_mask(mask[BOX], BOX, local, SHAPE)


def _box_with_notch() -> tuple[np.ndarray, np.ndarray]:
    """A box body (axis along the slices) with a notch cut into its anterior face."""
    body = np.zeros(SHAPE, dtype=bool)
    body[10:30, 15:45, 15:45] = True
    notch = np.zeros(SHAPE, dtype=bool)
    notch[17:23, 15:20, 20:30] = True        # enclosed above and below by the body
    body &= ~notch
    return body, notch


def test_cement_in_a_notch_is_taken_in() -> None:
    body_mask, notch = _box_with_notch()
    body = _body(body_mask)
    result = with_enclosed_cement(body, notch, SHAPE)
    assert result.voxel_count == body.voxel_count + int(notch.sum())


def test_a_notch_without_cement_stays_open() -> None:
    body_mask, _ = _box_with_notch()
    body = _body(body_mask)
    cement = np.zeros(SHAPE, dtype=bool)
    cement[12:16, 25:35, 25:35] = True       # cement inside the body only
    assert with_enclosed_cement(body, cement, SHAPE) is body


def test_cement_beyond_an_endplate_is_not_taken() -> None:
    body_mask, _ = _box_with_notch()
    body = _body(body_mask)
    disc = np.zeros(SHAPE, dtype=bool)
    disc[30:33, 25:35, 25:35] = True         # above the upper endplate: a disc leak
    assert with_enclosed_cement(body, disc, SHAPE).voxel_count == body.voxel_count
