"""Which of two floodings of one seed gives the body."""

from __future__ import annotations

import logging

import numpy as np
import numpy.typing as npt

from node.analysis.bodies import MOSTLY_CEMENT, Body, BoolArray, cement_fraction, edge_contrast_hu
from node.analysis.flood.params import (
    HELD_ADDED_CEMENT,
    HELD_EDGE_TIE,
    HELD_LOST,
    HELD_MIN_CEMENT,
    RETRY_ADDED_CEMENT,
    RETRY_EDGE_TIE,
    RETRY_GROWN,
    RETRY_LOST,
)

logger = logging.getLogger(__name__)


def _better_body(first: Body | None, again: Body | None, hu: npt.NDArray[np.int16],
                 cement: BoolArray) -> Body | None:
    """The body of the first flooding or of the one with more painted over.

    A body that is mostly cement is the cement's own edge, where a flooding stopped;
    between two that are not, the one on the sharper edge (``edge_contrast_hu``) is on
    the cortical shell, unless the first may have been held at the cement's blur and the
    other grew past it (``_grown_past_hold``): the edge contrast is read away from the
    cement, which leaves out exactly the held part of a held body's surface, so there
    the whole body only needs to be about as sharp.
    """
    if again is None or first is None:
        return first or again
    first_cement = cement_fraction(first, cement) > MOSTLY_CEMENT
    again_cement = cement_fraction(again, cement) > MOSTLY_CEMENT
    if first_cement or again_cement:
        choice = first if again_cement else again
    else:
        first_edge = edge_contrast_hu(first, hu, cement)
        again_edge = edge_contrast_hu(again, hu, cement)
        grown = (again_edge >= (1.0 - HELD_EDGE_TIE) * first_edge
                 and _grown_past_hold(first, again, cement))
        choice = again if again_edge > first_edge or grown else first
    if choice is again:
        logger.debug("the flooding with more cement painted over gives the body")
    return choice


def _grown_past_hold(first: Body, again: Body, cement: BoolArray) -> bool:
    """Whether ``again`` is ``first`` grown past a hold at the cement's blur: ``first``
    holds enough cement to have been held there, and ``again`` keeps nearly all of it
    and adds a good part to it, hardly any of that cement (noise moves the cement's own
    edge between two floodings a little)."""
    if cement_fraction(first, cement) < HELD_MIN_CEMENT:
        return False
    held = first.mask_in(again.box)
    added = again.mask & ~held
    n_added = np.count_nonzero(added)
    # Counted against the whole of ``first``: any of it outside ``again``'s box is lost too.
    kept = np.count_nonzero(held & again.mask)
    return bool(first.voxel_count - kept <= HELD_LOST * first.voxel_count
                and again.voxel_count >= (1.0 + RETRY_GROWN) * first.voxel_count
                and np.count_nonzero(added & cement[again.box]) <= HELD_ADDED_CEMENT * n_added)


def _grown_within_shell(body: Body, again: Body, hu: npt.NDArray[np.int16],
                        cement: BoolArray) -> bool:
    """Whether ``again``, which adds only marrow to ``body`` (``_adds_only_marrow``), is
    ``body`` grown up to the same shell: it holds the body, adds a good part to it, and
    its surface is about as sharp.

    A flooding held back at the cement's blur along thick slices stops inside the marrow
    beyond the cement, and its in-plane edges are the shell's all the same: which of the
    two is sharper is then a toss-up, but only the larger is the whole body.
    """
    held = body.mask_in(again.box)
    lost = np.count_nonzero(held & ~again.mask)
    if (lost > RETRY_LOST * body.voxel_count
            or again.voxel_count < (1.0 + RETRY_GROWN) * body.voxel_count):
        return False
    return bool(edge_contrast_hu(again, hu, cement)
                >= (1.0 - RETRY_EDGE_TIE) * edge_contrast_hu(body, hu, cement))


def _adds_only_marrow(body: Body, again: Body | None, cement: BoolArray) -> bool:
    """Whether ``again`` adds to ``body`` hardly any cement (a disc leak painted over
    and flooded through is no marrow)."""
    if again is None:
        return False
    added = again.mask & ~body.mask_in(again.box)
    n = np.count_nonzero(added)
    return bool(n > 0 and np.count_nonzero(added & cement[again.box]) <= RETRY_ADDED_CEMENT * n)
