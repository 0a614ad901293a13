"""Synthetic cases and their result objects (the fixtures of conftest.py use these)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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
