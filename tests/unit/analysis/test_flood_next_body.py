"""A disc leak right under the endplate: the flooding runs on into the next body, and the
body's own plate, read beside the leak's paint, ends it."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.analysis.flood import FloodParams
from node.phantom.truth import load_truth
from tests.unit.analysis.setcases import levels_found, written_unnamed_case


@pytest.fixture(scope="module")
def disc_leak_under_the_plate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Seen on an unseen batch (2026-12-06): a T9 of 10.7 ml on 0.625 mm slices with a
    # 1.06 ml disc leak spread under its lower plate. The flooding took in T10 as well
    # (VF 18.5 against 40.2): the plate's hits lay within 3 mm of the leak's paint, too
    # few were 'clear' for its plane to be the body's.
    return written_unnamed_case(tmp_path_factory, "disc_leak", 910, slice_mm=0.625,
                                feet_first=True, storage="signed")


def test_the_next_body_is_cut_off_at_the_plate(disc_leak_under_the_plate: Path) -> None:
    (truth,) = load_truth(disc_leak_under_the_plate).result.levels
    (found,) = levels_found(disc_leak_under_the_plate, FloodParams())
    # The disc around the leak is still taken in (13.6 ml, a known failure mode:
    # docs/accuracy.md), half the leak's cement no longer (discleak: VF 37.8 against
    # 40.2); the next body (19 ml more) is not.
    assert found.vbv_ml <= 1.3 * truth.vbv_ml
    assert abs(found.vf_pct - truth.vf_pct) <= 3.0
