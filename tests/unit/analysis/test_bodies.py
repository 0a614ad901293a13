"""The body record and what is read off it: the edge contrast that tells a body on its
cortical shell from one a flooding carried through it."""

from __future__ import annotations

import numpy as np
import pytest

from node.analysis.bodies import Body, body_from_mask, edge_contrast_hu

SPACING = (2.0, 0.9, 0.9)   # slice, row, column (mm)
SHAPE = (20, 90, 90)


def _affine() -> np.ndarray:
    out = np.eye(4)
    out[:3, :3] = [[0, 0, SPACING[2]], [0, SPACING[1], 0], [SPACING[0], 0, 0]]
    return out


def _radius_mm() -> np.ndarray:
    _, y, x = np.indices(SHAPE)
    return np.hypot((y - 45) * SPACING[1], (x - 45) * SPACING[2])


def _body(radius_mm: float) -> Body:
    mask = np.zeros(SHAPE, dtype=bool)
    mask[3:17] = _radius_mm()[3:17] <= radius_mm
    box = (slice(0, SHAPE[0]), slice(0, SHAPE[1]), slice(0, SHAPE[2]))
    return body_from_mask(mask, box, _affine(), SHAPE)


@pytest.fixture(scope="module")
def cylinder() -> np.ndarray:
    """Marrow (150 HU) in a 1.5 mm shell (700 HU) out to 16 mm, in soft tissue (40 HU)."""
    r = _radius_mm()
    hu = np.where(r <= 14.5, 150, np.where(r <= 16.0, 700, 40))
    rng = np.random.default_rng(0)
    return np.asarray(hu + rng.normal(0, 20, SHAPE), dtype=np.int16)


def test_the_surface_on_the_shell_has_the_sharpest_edge(cylinder) -> None:
    no_cement = np.zeros(SHAPE, dtype=bool)
    on_shell = edge_contrast_hu(_body(16.0), cylinder, no_cement)
    assert on_shell > 400
    # Carried 4 mm out into the soft tissue, or stopped 3 mm short in the marrow.
    assert edge_contrast_hu(_body(20.0), cylinder, no_cement) < on_shell - 300
    assert edge_contrast_hu(_body(12.0), cylinder, no_cement) < 0


def test_the_cement_is_not_read_as_the_shell(cylinder) -> None:
    # A plug from the marrow through the shell to just inside the surface of a body
    # carried 8 mm out: its 2500 HU, were they read, would sharpen that edge by ~100 HU.
    _, y, x = np.indices(SHAPE)
    cement = np.hypot((y - 45) * SPACING[1], (x - 66) * SPACING[2]) <= 5.0
    with_plug = np.where(cement, 2500, cylinder).astype(np.int16)
    too_large = _body(24.0)
    without = edge_contrast_hu(too_large, cylinder, np.zeros(SHAPE, dtype=bool))
    assert edge_contrast_hu(too_large, with_plug, cement) == pytest.approx(without, abs=25)


def test_a_body_all_near_cement_has_no_edge_to_read() -> None:
    hu = np.full(SHAPE, 2500, dtype=np.int16)
    assert edge_contrast_hu(_body(16.0), hu, np.ones(SHAPE, dtype=bool)) == float("-inf")


def test_slices_next_to_the_cement_are_not_read(cylinder) -> None:
    # Cement filling four slices out to the shell; the slice profile brightens the two
    # slices on either side (2 mm slices: 2 and 4 mm from the cement).
    cement = np.zeros(SHAPE, dtype=bool)
    cement[8:12] = _radius_mm()[8:12] <= 16.0
    blurred = cylinder.astype(np.int32)
    blurred[cement] = 2500
    footprint = _radius_mm()[0] <= 16.0
    for z, gain in ((7, 800), (12, 800), (6, 300), (13, 300)):
        blurred[z][footprint] += gain
    body = _body(16.0)
    read = edge_contrast_hu(body, blurred.astype(np.int16), cement)
    assert read == pytest.approx(edge_contrast_hu(body, cylinder, cement), abs=20)
