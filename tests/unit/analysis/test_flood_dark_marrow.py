"""Marrow as dark as muscle: the muscle's region must not flood the body from inside."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.analysis.flood import FloodParams
from node.phantom.truth import load_truth
from tests.unit.analysis.setcases import levels_found, written_case


@pytest.fixture(scope="module")
def dark_marrow(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # dev-11: marrow ~60-100 HU behind a faint lateral cortex, psoas beside it at ~50 HU,
    # and a disc leak through the upper endplate.
    return written_case(tmp_path_factory, "dev", 11)


def test_the_body_is_flooded_again_clear_of_the_muscle(dark_marrow: Path) -> None:
    (truth,) = load_truth(dark_marrow).result.levels
    (found,) = levels_found(dark_marrow, FloodParams())
    assert abs(found.vf_pct - truth.vf_pct) <= 1.0
    assert found.leakage and truth.leakage


def test_with_the_muscle_marked_near_the_cement_the_body_is_lost(dark_marrow: Path) -> None:
    (truth,) = load_truth(dark_marrow).result.levels
    (found,) = levels_found(dark_marrow, FloodParams(soft_clear_mm=0.0))
    assert abs(found.vf_pct - truth.vf_pct) > 2.0
