"""Cement between a body's own endplates: the body's cement, never a disc leak.

The centrum is a prism between two endplates: a line along its axis enters it once,
through one endplate, and leaves it once, through the other. Where cement fills the
body up to its shell, a body finder may stop short in the blur of the cement's edge and
leave a notch that such a line crosses twice; the cement in the notch then lies outside
the body although both endplates are beyond it, and would count as a leak into the disc.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from node.analysis.bodies import Body, with_new_mask

BoolArray = npt.NDArray[np.bool_]


def with_enclosed_cement(body: Body, cement: BoolArray, shape: tuple[int, ...]) -> Body:
    """The body with the cement that lies between its ends along its axis taken in.

    Parameters
    ----------
    body : Body
        A vertebral body found in a volume.
    cement : (slices, rows, columns) bool
        Cement of the whole volume.
    shape : tuple of int
        Shape of the volume.

    Notes
    -----
    The lines run along the axis of the voxel grid closest to the body's superior axis
    (the slice axis of an axial series): a body tilted by a few tens of degrees or less
    is crossed once by such a line wherever its finder left no notch. Only cement fills a
    notch: a notch of bone is the finder's to answer for, and filling it would move the
    body's volume.
    """
    between = _between_ends(body.mask, axis=body.axis_on_grid)
    taken = between & cement[body.box] & ~body.mask
    if not taken.any():
        return body
    return with_new_mask(body, body.mask | taken, shape)


def _between_ends(mask: BoolArray, *, axis: int) -> BoolArray:
    """Each line of ``mask`` along ``axis`` set from its first to its last True."""
    after_first = np.logical_or.accumulate(mask, axis=axis)
    before_last = np.flip(np.logical_or.accumulate(np.flip(mask, axis=axis), axis=axis),
                          axis=axis)
    return np.asarray(after_first & before_last, dtype=bool)
