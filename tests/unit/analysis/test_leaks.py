"""Extravertebral cement by location: the needle tract reaches up to the posterior wall;
a disc leak lies above or below the body, not beside it."""

from __future__ import annotations

import numpy as np

from node.analysis.bodies import Body, body_from_mask
from node.analysis.leaks import TRACT_FRONT_MM, classify_leaks
from node.analysis.types import LEAK_SITE_CODES, LeakSite

SHAPE = (40, 80, 70)
# Patient axes on the grid: slices +z (head), rows +y (posterior), columns +x (left).
AFFINE = np.array([[0.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0],
                   [0.0, 0.0, 0.0, 1.0]])
WALL_ROW = 45                                   # posterior-most row of the body
TRACT = (slice(18, 21), slice(None), slice(48, 51))   # lateral: through the left pedicle


def _body(dent_rows: int = 0) -> Body:
    """A box body; ``dent_rows`` in front of its wall left out where the tract enters."""
    mask = np.zeros(SHAPE, dtype=bool)
    mask[10:30, 15:WALL_ROW + 1, 15:55] = True
    if dent_rows:
        mask[TRACT[0], WALL_ROW + 1 - dent_rows:WALL_ROW + 1, TRACT[2]] = False
    box = (slice(0, SHAPE[0]), slice(0, SHAPE[1]), slice(0, SHAPE[2]))
    return body_from_mask(mask, box, AFFINE, SHAPE)


def _sites(cement: np.ndarray, body: Body) -> np.ndarray:
    return classify_leaks(cement, [body], AFFINE, search_mm=20.0).sites


def test_tract_cement_just_in_front_of_the_wall_is_tract() -> None:
    # The finder stopped 3 mm short of the wall where the tract enters the body: the
    # tract's cement runs from the pedicle (behind the wall) into that dent.
    body = _body(dent_rows=3)
    cement = np.zeros(SHAPE, dtype=bool)
    cement[TRACT[0], WALL_ROW - 2:WALL_ROW + 12, TRACT[2]] = True
    outside = cement & ~body.full_mask(SHAPE)
    assert np.all(_sites(cement, body)[outside] == LEAK_SITE_CODES[LeakSite.NEEDLE_TRACT])


def test_disc_leak_near_the_wall_stays_disc() -> None:
    cement = np.zeros(SHAPE, dtype=bool)
    front = WALL_ROW - int(TRACT_FRONT_MM) + 1
    cement[30:34, front:WALL_ROW + 1, 30:40] = True   # above the body, by the wall
    assert np.all(_sites(cement, _body())[cement] == LEAK_SITE_CODES[LeakSite.DISC])


def test_cement_beside_the_wall_at_mid_height_is_paravertebral() -> None:
    # Within the footprint's margin (1.5 mm) but beside the body, not above or below it.
    cement = np.zeros(SHAPE, dtype=bool)
    cement[15:25, 13:15, 30:40] = True                # against the anterior wall
    cement[15:25, 20:30, 55:57] = True                # against the left wall
    assert np.all(_sites(cement, _body())[cement]
                  == LEAK_SITE_CODES[LeakSite.PARAVERTEBRAL])


def test_cement_beside_a_slanted_wall_is_paravertebral() -> None:
    # The side walls slant in toward the bottom (a waisted body), so the footprint of
    # the whole body reaches over cement lying beside the walls' lower part. The columns
    # there end on the wall, not on the endplate: that cement lies beside the body, not
    # below it (before: read as a disc leak).
    mask = np.zeros(SHAPE, dtype=bool)
    mask[10:30, 15:WALL_ROW + 1, 21:49] = True
    for step in range(1, 7):
        mask[10 + 3 * step:30, 15:WALL_ROW + 1, [21 - step, 48 + step]] = True
    body = body_from_mask(mask, (slice(0, SHAPE[0]), slice(0, SHAPE[1]), slice(0, SHAPE[2])),
                          AFFINE, SHAPE)
    beside = np.zeros(SHAPE, dtype=bool)
    beside[10:15, 25:35, 15:20] = True
    beside &= ~mask
    disc = np.zeros(SHAPE, dtype=bool)
    disc[6:9, 25:35, 30:40] = True                 # below the plate: a disc leak
    sites = _sites(beside | disc, body)
    assert np.all(sites[beside] == LEAK_SITE_CODES[LeakSite.PARAVERTEBRAL])
    assert np.all(sites[disc] == LEAK_SITE_CODES[LeakSite.DISC])
