"""Synthetic cases and their result objects, built once per test session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pytest
from pydicom import Dataset
from readback import strict_roundtrip
from synthetic_ct import make_case

from node.analysis.types import Analysis
from node.results.build import build_results

CREATED = datetime(2024, 1, 5, 12, 30, 0)


@dataclass
class Built:
    """One case: its analysis, CT datasets and result objects read back from bytes."""

    analysis: Analysis
    sources: list[Dataset]
    objects: dict[str, Dataset]  # by Modality: SR, SEG, OT

    @property
    def by_uid(self) -> dict[str, Dataset]:
        return {str(ds.SOPInstanceUID): ds for ds in self.sources}


def build(kind: str, **options: object) -> Built:
    analysis, sources = make_case(kind)
    made = build_results(analysis, sources, created=CREATED, **options)  # type: ignore[arg-type]
    return Built(analysis, sources, {ds.Modality: strict_roundtrip(ds) for ds in made})


@pytest.fixture(scope="session")
def one_level() -> Built:
    return build("one_level")


@pytest.fixture(scope="session")
def two_levels() -> Built:
    return build("two_levels")


@pytest.fixture(scope="session")
def two_levels_volumetric() -> Built:
    return build("two_levels", volumetric_sr_groups=True)


@pytest.fixture(scope="session")
def no_cement() -> Built:
    return build("no_cement")


@pytest.fixture(scope="session", params=["one_level", "two_levels", "no_cement"])
def any_case(request: pytest.FixtureRequest) -> Built:
    return request.getfixturevalue(request.param)
