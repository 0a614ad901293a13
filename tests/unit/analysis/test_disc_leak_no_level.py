"""A disc leak's own flooding is no treated level: once its plates are placed it holds no
cement deep inside."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from node.analysis.flood import FloodParams
from node.phantom.truth import load_truth
from tests.unit.analysis.setcases import levels_found, written_unnamed_case


@pytest.fixture(scope="module")
def disc_leak_on_thick_slices(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Seen on an unseen batch (2026-12-06): an L1 with a 0.81 ml disc leak, 0.56 mm
    # pixels, 2.5 mm slices. The leak, a seed of its own, was flooded again with a slice
    # painted over (a 5.7 ml "body" with 0.19 ml of cement 3 mm deep); its plates cut it
    # to 1.7 ml, reported as a second level with VF 41.
    return written_unnamed_case(tmp_path_factory, "disc_leak", 1109, slice_mm=2.5,
                                feet_first=False, storage="unsigned")


def test_the_leak_is_the_levels_disc_leak(disc_leak_on_thick_slices: Path) -> None:
    (truth,) = load_truth(disc_leak_on_thick_slices).result.levels
    (found,) = levels_found(disc_leak_on_thick_slices, FloodParams())
    assert np.linalg.norm(np.subtract(found.centroid_mm, truth.centroid_mm)) <= 15.0
    assert found.extravertebral_ml.disc >= 0.5 * truth.extravertebral_ml.disc
