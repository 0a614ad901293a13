"""Cases of the named phantom sets for tests, and the levels the pipeline finds in them
with a given flooding."""

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


def written_case(factory: pytest.TempPathFactory, set_name: str, index: int) -> Path:
    """Case ``index`` of the named set, written to a fresh folder."""
    entry = named_set(set_name)[index]
    folder = factory.mktemp(set_name) / entry.case_id
    write_case(folder, entry.family, entry.seed, case_id=entry.case_id,
               overrides=entry.overrides)
    return folder


def written_unnamed_case(factory: pytest.TempPathFactory, family: str, seed: int, *,
                         slice_mm: float, feet_first: bool, storage: str,
                         oblique_deg: tuple[float, float, float] | None = None) -> Path:
    """A case of the dev design drawn with a seed of no named set, written to a fresh
    folder (cases found on an unseen batch, kept as tests)."""
    case_id = f"{family}_{seed}"
    folder = factory.mktemp(case_id) / case_id
    overrides: tuple[tuple[str, object], ...] = (
        ("slice_mm", slice_mm), ("feet_first", feet_first), ("storage", storage))
    if oblique_deg is not None:
        overrides += (("oblique_deg", oblique_deg),)
    write_case(folder, family, seed, case_id=case_id, overrides=overrides)
    return folder


def levels_found(folder: Path, params: FloodParams) -> list[LevelResult]:
    """The treated levels of the case, its bodies flooded with ``params``."""
    volume = load_volume(select_series(read_datasets(folder)).datasets)
    source = FirstPlausible([FloodBodySource(params), ShellBodySource()])
    return list(analyze_volume(volume, Parameters(), software_version="test",
                               body_source=source).result.levels)
