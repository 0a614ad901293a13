"""Large pixels: where the cement's blur outgrows the painted halo, the finder floods again."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from node.analysis.flood import FloodParams
from node.phantom.truth import load_truth
from tests.unit.analysis.setcases import levels_found, written_case


@pytest.fixture(scope="module")
def two_levels_on_large_pixels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 0.9 mm pixels and 2 mm slices: with the 1.2 mm halo alone neither body is found.
    return written_case(tmp_path_factory, "shifted", 24)


def _vf(folder: Path, params: FloodParams) -> list[float]:
    return [level.vf_pct for level in levels_found(folder, params)]


def test_both_bodies_are_found_by_flooding_again(two_levels_on_large_pixels: Path) -> None:
    truth = [level.vf_pct for level in load_truth(two_levels_on_large_pixels).result.levels]
    found = _vf(two_levels_on_large_pixels, FloodParams())
    assert len(found) == len(truth) == 2
    assert np.allclose(sorted(found), sorted(truth), atol=2.0)


def test_without_the_second_flooding_the_no_body_rescue_finds_them(
        two_levels_on_large_pixels: Path) -> None:
    # Without the retry neither seed gives a body, and the seed that gave none is flooded
    # with 2 mm painted over (flood.HELD_RESCUE_MIN_ML); before that rescue both were lost.
    truth = [level.vf_pct for level in load_truth(two_levels_on_large_pixels).result.levels]
    found = _vf(two_levels_on_large_pixels, FloodParams(retry_halo_pixels=0.0))
    assert len(found) == 2
    assert np.allclose(sorted(found), sorted(truth), atol=2.0)
