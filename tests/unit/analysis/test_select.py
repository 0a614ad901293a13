"""Series selection: the thinnest axial CT, bone kernel preferred; reasons for the others."""

from __future__ import annotations

import numpy as np
from pydicom.uid import generate_uid

from node.analysis.select import select_series

from .dicomseries import ct_series


def _series(n: int, dz: float, *, description: str = "BONE", kernel: str = "B70f",
            study: str, number: int = 2) -> list:
    affine = np.eye(4)
    affine[:3, :3] = [[0, 0, 0.7], [0, 0.7, 0], [dz, 0, 0]]
    datasets = ct_series(np.zeros((n, 4, 4), np.int16), affine, study_uid=study,
                         description=description)
    for ds in datasets:
        ds.ConvolutionKernel = kernel
        ds.SeriesNumber = number
    return datasets


def test_thinnest_bone_series_is_chosen_and_every_other_has_a_reason() -> None:
    study = generate_uid()
    thin_bone = _series(30, 0.625, study=study, number=3)
    thin_soft = _series(30, 0.625, description="ABDOMEN", kernel="B30f", study=study)
    thick = _series(24, 2.5, study=study, number=4)
    few = _series(10, 0.5, study=study, number=5)
    scout = _series(25, 1.0, study=study, number=1)
    for ds in scout:
        ds.ImageType = ["ORIGINAL", "PRIMARY", "LOCALIZER"]
    dose = _series(25, 1.0, study=study, number=9)
    for ds in dose:
        ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"  # secondary capture
    everything = thin_soft + thick + few + scout + dose + thin_bone
    selection = select_series(everything)
    assert selection.chosen == thin_bone[0].SeriesInstanceUID
    assert len(selection.datasets) == 30
    reasons = dict(selection.skipped)
    assert "soft-tissue kernel" in reasons[thin_soft[0].SeriesInstanceUID]
    assert "thicker slices (2.5 mm)" in reasons[thick[0].SeriesInstanceUID]
    assert "too few slices (10 < 20)" in reasons[few[0].SeriesInstanceUID]
    assert reasons[scout[0].SeriesInstanceUID].startswith("localizer")
    assert "not a CT image" in reasons[dose[0].SeriesInstanceUID]


def test_no_candidate_gives_no_choice_and_the_reasons() -> None:
    study = generate_uid()
    few = _series(5, 1.0, study=study)
    selection = select_series(few)
    assert selection.chosen is None
    assert selection.skipped == [(few[0].SeriesInstanceUID, "too few slices (5 < 20)")]
