"""A cement blur wider than the painted halo holds the flooding at the cement: the body,
still mostly cement, is flooded again with a wider halo painted over."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.analysis.flood import FloodParams
from node.phantom.truth import load_truth
from tests.unit.analysis.setcases import levels_found, written_unnamed_case


@pytest.fixture(scope="module")
def dark_marrow_soft_kernel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Seen on an unseen batch (2026-12-06): an L4 of 31.7 ml, marrow at 63 HU beside
    # muscle at 55 HU, 0.59 mm pixels, 1.25 mm oblique slices. The flooding kept 5.8 ml
    # around the cement (the blur beyond the 1.2 mm halo held it) while the outside came
    # in through the faint plates; the shell finder's box gave VF 21.4 against 14.6.
    return written_unnamed_case(tmp_path_factory, "no_leak", 1002, slice_mm=1.25,
                                feet_first=False, storage="signed0",
                                oblique_deg=(-8.0, 3.0, -5.0))


def test_the_body_held_at_the_cement_is_flooded_again(dark_marrow_soft_kernel: Path
                                                     ) -> None:
    (truth,) = load_truth(dark_marrow_soft_kernel).result.levels
    (found,) = levels_found(dark_marrow_soft_kernel, FloodParams())
    assert abs(found.vf_pct - truth.vf_pct) <= 2.0
    assert abs(found.vbv_ml - truth.vbv_ml) <= 0.1 * truth.vbv_ml
