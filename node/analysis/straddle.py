"""Cement that straddles a body's surface: the rest of a mass the body finder cut through.

Where cement fills a body up to its shell, the shell vanishes in the blur of the cement's
edge and a body finder may stop a few millimetres short of the wall, cutting the cement
mass in two. The outer part then looks like a leak. It differs from one in two ways: it
touches the body mostly through cement (the cut runs through the mass; a leak meets the
body at the cortex, except at its breach), and it reaches no farther out than the
finder's error (a leak spreads into the tissue beyond). Such pieces are taken into the
body.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from node.analysis.bodies import Body, grown_box, with_new_mask

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]

# At least this fraction of the piece's contact with the body is cement inside it...
MIN_CEMENT_CONTACT = 0.6
# ...and no part of it lies farther than this from the body (dents left by the flooding
# reach 3-5 mm; leaks that touch the body through cement reach 6-20 mm out).
MAX_REACH_MM = 6.0


def with_straddling_cement(body: Body, cement: BoolArray, affine: FloatArray,
                           others: Sequence[Body] = ()) -> Body:
    """The body with the cement pieces that straddle its surface taken in.

    Parameters
    ----------
    body : Body
        A vertebral body found in the volume.
    cement : (slices, rows, columns) bool
        Cement of the whole volume.
    affine : (4, 4) float
        Index to patient LPS, mm.
    others : sequence of Body
        The other bodies of the volume (their voxels are never taken in).
    """
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    box = grown_box(body.box, np.ceil(MAX_REACH_MM / spacing).astype(int) + 1, cement.shape)
    inner = body.mask_in(box)
    cem = cement[box]
    pieces = _straddling(inner, cem & ~inner & ~_in_any(others, box), cem, spacing)
    if not pieces.any():
        return body
    local = affine.copy()
    local[:3, 3] = affine[:3, :3] @ [s.start for s in box] + affine[:3, 3]
    return with_new_mask(body, inner | pieces, cement.shape, box=box, box_affine=local)


def _in_any(bodies: Sequence[Body], box: tuple[slice, slice, slice]) -> BoolArray:
    out = np.zeros(tuple(s.stop - s.start for s in box), dtype=bool)
    for body in bodies:
        out |= body.mask_in(box)
    return out


def _straddling(inner: BoolArray, outside: BoolArray, cement: BoolArray,
                spacing: FloatArray) -> BoolArray:
    """The pieces of ``outside`` cement that touch ``inner`` mostly through cement and
    stay within MAX_REACH_MM of it."""
    labels, n = ndimage.label(outside, structure=np.ones((3, 3, 3), dtype=bool))
    if n == 0:
        return outside
    face = ndimage.generate_binary_structure(3, 1)
    by_cement = np.bincount(labels[ndimage.binary_dilation(inner & cement, face)],
                            minlength=n + 1)
    by_bone = np.bincount(labels[ndimage.binary_dilation(inner & ~cement, face)],
                          minlength=n + 1)
    reach = ndimage.maximum(ndimage.distance_transform_edt(~inner, sampling=spacing),
                            labels, index=np.arange(n + 1))
    contact = by_cement + by_bone
    keep = ((contact > 0) & (by_cement >= MIN_CEMENT_CONTACT * contact)
            & (np.asarray(reach) <= MAX_REACH_MM))
    keep[0] = False
    return np.asarray(keep[labels], dtype=bool)

