"""A seed that no flooding gave a body, held at a soft kernel's cement blur on thin
slices, is flooded once more with the held body's halo painted over; a disc leak's own
seed is not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from node.analysis.flood import FloodParams
from node.phantom.case import write_case
from node.phantom.truth import load_truth
from tests.unit.analysis.setcases import levels_found


def _written(factory: pytest.TempPathFactory, family: str, seed: int) -> Path:
    folder = factory.mktemp(f"{family}_{seed}") / f"{family}_{seed}"
    write_case(folder, family, seed)
    return folder


@pytest.fixture(scope="module")
def two_levels_held_at_their_cement(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Seen on an unseen batch (2026-12-07): L1 and L2 on 1.25 mm slices. The cement's
    # blur beyond the 1.2 mm halo held every flooding at the cement while the outside took
    # the marrow through the plates: no body, both levels lost.
    return _written(tmp_path_factory, "two_levels", 9218)


@pytest.fixture(scope="module")
def disc_leak_in_a_thin_slice_disc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The same rescue on the seed of this case's 0.5 ml disc leak (pieces of 0.02 ml on
    # the finder's grid) took the disc for a second body (10.9 ml) and lost the leak.
    return _written(tmp_path_factory, "disc_leak", 9108)


def test_both_levels_are_found(two_levels_held_at_their_cement: Path) -> None:
    truth = load_truth(two_levels_held_at_their_cement).result.levels
    found = levels_found(two_levels_held_at_their_cement, FloodParams())
    assert len(found) == len(truth) == 2
    for t, f in zip(sorted(truth, key=lambda x: x.centroid_mm[2]),
                    sorted(found, key=lambda x: x.centroid_mm[2]), strict=True):
        assert np.linalg.norm(np.subtract(f.centroid_mm, t.centroid_mm)) <= 15.0
        assert abs(f.vf_pct - t.vf_pct) <= 2.0


def test_the_disc_leak_is_no_level(disc_leak_in_a_thin_slice_disc: Path) -> None:
    (truth,) = load_truth(disc_leak_in_a_thin_slice_disc).result.levels
    (found,) = levels_found(disc_leak_in_a_thin_slice_disc, FloodParams())
    assert found.extravertebral_ml.disc >= 0.5 * truth.extravertebral_ml.disc
