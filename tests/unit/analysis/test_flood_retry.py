"""Large pixels: where the cement's blur outgrows the painted halo, the finder floods again."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from node.analysis.bodies import FirstPlausible
from node.analysis.flood import FloodBodySource, FloodParams
from node.analysis.pipeline import analyze_volume
from node.analysis.select import select_series
from node.analysis.shellfill import ShellBodySource
from node.analysis.types import Parameters
from node.analysis.volume import load_volume
from node.cli.analyze import read_datasets
from node.phantom.case import write_case
from node.phantom.sets import named_set
from node.phantom.truth import load_truth


@pytest.fixture(scope="module")
def two_levels_on_large_pixels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 0.9 mm pixels and 2 mm slices: with the 1.2 mm halo alone neither body is found.
    entry = named_set("shifted")[24]
    folder = tmp_path_factory.mktemp("shifted") / entry.case_id
    write_case(folder, entry.family, entry.seed, case_id=entry.case_id,
               overrides=entry.overrides)
    return folder


def _vf(folder: Path, params: FloodParams) -> list[float]:
    volume = load_volume(select_series(read_datasets(folder)).datasets)
    source = FirstPlausible([FloodBodySource(params), ShellBodySource()])
    analysis = analyze_volume(volume, Parameters(), software_version="test", body_source=source)
    return [level.vf_pct for level in analysis.result.levels]


def test_both_bodies_are_found_by_flooding_again(two_levels_on_large_pixels: Path) -> None:
    truth = [level.vf_pct for level in load_truth(two_levels_on_large_pixels).result.levels]
    found = _vf(two_levels_on_large_pixels, FloodParams())
    assert len(found) == len(truth) == 2
    assert np.allclose(sorted(found), sorted(truth), atol=2.0)


def test_without_the_second_flooding_they_are_missed(two_levels_on_large_pixels: Path) -> None:
    assert _vf(two_levels_on_large_pixels, FloodParams(retry_halo_pixels=0.0)) == []
