"""Disc leaks carried into the body are cut back to the endplate beside them; cement
inside the body below its plate stays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from node.analysis.bodies import body_from_mask
from node.analysis.discleak import with_disc_leaks_cut
from node.analysis.flood import FloodParams
from node.phantom.truth import load_truth
from tests.unit.analysis.setcases import levels_found, written_unnamed_case

SHAPE = (40, 60, 60)
# Slices +z (head), rows +y (posterior), columns +x (left), 1 mm voxels.
AFFINE = np.array([[0.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0],
                   [0.0, 0.0, 0.0, 1.0]])
BOX = (slice(0, SHAPE[0]), slice(0, SHAPE[1]), slice(0, SHAPE[2]))


def _body_and_cement(blob_slices: slice) -> tuple[np.ndarray, np.ndarray]:
    """A box body (slices 10-29) with its main cement in the middle and a blob at
    ``blob_slices`` over one side; the body bulges over the blob when it lies above."""
    body = np.zeros(SHAPE, dtype=bool)
    body[10:30, 10:50, 10:50] = True
    cement = np.zeros(SHAPE, dtype=bool)
    cement[14:24, 20:40, 20:40] = True
    cement[blob_slices, 14:20, 30:38] = True
    body[blob_slices.start - 1:blob_slices.stop + 1, 12:22, 28:40] = True
    return body, cement


def test_a_blob_beyond_the_plate_and_its_bulge_are_cut() -> None:
    body_mask, cement = _body_and_cement(slice(31, 33))
    body = body_from_mask(body_mask, BOX, AFFINE, SHAPE)
    cut = with_disc_leaks_cut(body, cement, SHAPE).full_mask(SHAPE)
    assert not (cut & cement)[30:].any()
    assert cut[10:30, 10:50, 10:50].all()


def test_a_blob_below_the_plate_stays() -> None:
    body_mask, cement = _body_and_cement(slice(26, 28))
    body = body_from_mask(body_mask, BOX, AFFINE, SHAPE)
    assert np.array_equal(with_disc_leaks_cut(body, cement, SHAPE).full_mask(SHAPE),
                          body.full_mask(SHAPE))


@pytest.fixture(scope="module")
def disc_leak_on_thin_slices(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Seen on an unseen batch (2026-12-06): an L1 with 1.24 ml of disc leak in blobs
    # over its upper plate, 0.36 mm pixels, 0.625 mm slices. The body ran on into the
    # disc around the blobs: VF 15.1 against 11.9, score 8 against 2, 0.26 ml of the
    # leak found.
    return written_unnamed_case(tmp_path_factory, "disc_leak", 1110, slice_mm=0.625,
                                feet_first=True, storage="signed")


def test_the_leak_over_the_plate_is_a_leak(disc_leak_on_thin_slices: Path) -> None:
    (truth,) = load_truth(disc_leak_on_thin_slices).result.levels
    (found,) = levels_found(disc_leak_on_thin_slices, FloodParams())
    assert abs(found.vf_pct - truth.vf_pct) <= 1.0
    assert found.extravertebral_ml.disc >= 0.7 * truth.extravertebral_ml.disc
    assert abs(found.score.total - truth.score.total) <= 1


def _cement_through_the_plate(neck: tuple[slice, slice]) -> tuple[np.ndarray, np.ndarray]:
    """The box body of ``_body_and_cement`` (plate at slice 29) whose main cement goes
    on through the plate at ``neck`` (rows, columns) and spreads over it in slices
    31-34; the body bulges over the spread."""
    body = np.zeros(SHAPE, dtype=bool)
    body[10:30, 10:50, 10:50] = True
    body[30:36, 12:48, 12:32] = True
    cement = np.zeros(SHAPE, dtype=bool)
    cement[14:24, 20:40, 20:40] = True
    cement[(slice(23, 32), *neck)] = True
    cement[31:35, 14:46, 14:30] = True
    return body, cement


def test_cement_spread_beyond_the_plate_through_a_hole_is_cut() -> None:
    body_mask, cement = _cement_through_the_plate((slice(28, 32), slice(22, 26)))
    body = body_from_mask(body_mask, BOX, AFFINE, SHAPE)
    cut = with_disc_leaks_cut(body, cement, SHAPE).full_mask(SHAPE)
    assert not (cut & cement)[31:].any()
    assert cut[10:30, 10:50, 10:50].all()


def test_cement_filling_the_body_up_to_a_bulge_stays() -> None:
    # The same spread beyond the plate, but the cement meets the plate as wide as it
    # spreads: the plate is where the body ends there, not where its neighbours end.
    body_mask, cement = _cement_through_the_plate((slice(14, 46), slice(14, 30)))
    body = body_from_mask(body_mask, BOX, AFFINE, SHAPE)
    assert np.array_equal(with_disc_leaks_cut(body, cement, SHAPE).full_mask(SHAPE),
                          body.full_mask(SHAPE))
