"""Cement apart from the seed's that breaks through the shell must not open the wall."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.analysis.flood import FloodParams
from node.phantom.truth import load_truth
from tests.unit.analysis.setcases import levels_found, written_case


@pytest.fixture(scope="module")
def canal_leak(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # fresh-20: 0.44 mm pixels, cement at the posterior wall apart from the seed's mass,
    # with a leak into the canal behind it. Its painted halo let the outside flood 12 of
    # the body's 23 ml; the seed kept little more than its cement, and the shell
    # finder's body was taken (VF 27.0 against 23.8).
    return written_case(tmp_path_factory, "fresh", 20)


def test_the_body_is_flooded_again_with_the_other_cement_shut(canal_leak: Path) -> None:
    (truth,) = load_truth(canal_leak).result.levels
    (found,) = levels_found(canal_leak, FloodParams())
    assert abs(found.vf_pct - truth.vf_pct) <= 1.0
    assert abs(found.vbv_ml - truth.vbv_ml) <= 0.05 * truth.vbv_ml
    assert found.extravertebral_ml.canal >= 0.1
