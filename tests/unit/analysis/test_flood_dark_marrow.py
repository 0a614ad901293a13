"""Marrow as dark as muscle: the muscle's region must not flood the body from inside."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.analysis.bodies import FirstPlausible
from node.analysis.flood import FloodBodySource, FloodParams
from node.analysis.pipeline import analyze_volume
from node.analysis.select import select_series
from node.analysis.shellfill import ShellBodySource
from node.analysis.types import LevelResult, Parameters
from node.analysis.volume import load_volume
from node.cli.analyze import read_datasets
from node.phantom.case import write_case
from node.phantom.sets import named_set
from node.phantom.truth import load_truth


@pytest.fixture(scope="module")
def dark_marrow(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # dev-11: marrow ~60-100 HU behind a faint lateral cortex, psoas beside it at ~50 HU,
    # and a disc leak through the upper endplate.
    entry = named_set("dev")[11]
    folder = tmp_path_factory.mktemp("dev") / entry.case_id
    write_case(folder, entry.family, entry.seed, case_id=entry.case_id,
               overrides=entry.overrides)
    return folder


def _levels(folder: Path, params: FloodParams) -> list[LevelResult]:
    volume = load_volume(select_series(read_datasets(folder)).datasets)
    source = FirstPlausible([FloodBodySource(params), ShellBodySource()])
    return list(analyze_volume(volume, Parameters(), software_version="test",
                               body_source=source).result.levels)


def test_the_body_is_flooded_again_clear_of_the_muscle(dark_marrow: Path) -> None:
    (truth,) = load_truth(dark_marrow).result.levels
    (found,) = _levels(dark_marrow, FloodParams())
    assert abs(found.vf_pct - truth.vf_pct) <= 1.0
    assert found.leakage and truth.leakage


def test_with_the_muscle_marked_near_the_cement_the_body_is_lost(dark_marrow: Path) -> None:
    (truth,) = load_truth(dark_marrow).result.levels
    (found,) = _levels(dark_marrow, FloodParams(soft_clear_mm=0.0))
    assert abs(found.vf_pct - truth.vf_pct) > 2.0
