"""Which of two floodings of one seed gives the body."""

from __future__ import annotations

import logging

import numpy as np
import numpy.typing as npt

from node.analysis.bodies import MOSTLY_CEMENT, Body, BoolArray, cement_fraction, edge_contrast_hu
from node.analysis.flood.params import RETRY_ADDED_CEMENT, RETRY_EDGE_TIE, RETRY_GROWN, RETRY_LOST

logger = logging.getLogger(__name__)


def _better_body(first: Body | None, again: Body | None, hu: npt.NDArray[np.int16],
                 cement: BoolArray) -> Body | None:
    """The body of the first flooding or of the one with more painted over.

    A body that is mostly cement is the cement's own edge, where a flooding stopped;
    between two that are not, the one on the sharper edge (``edge_contrast_hu``) is on
    the cortical shell.
    """
    if again is None or first is None:
        return first or again
    first_cement = cement_fraction(first, cement) > MOSTLY_CEMENT
    again_cement = cement_fraction(again, cement) > MOSTLY_CEMENT
    if first_cement or again_cement:
        choice = first if again_cement else again
    else:
        choice = (again if edge_contrast_hu(again, hu, cement)
                  > edge_contrast_hu(first, hu, cement) else first)
    if choice is again:
        logger.debug("the flooding with more cement painted over gives the body")
    return choice


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
