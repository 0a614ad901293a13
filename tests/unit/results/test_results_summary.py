"""The summary key image: an RGB Secondary Capture in the CT's study with outlines and text."""

from __future__ import annotations

import numpy as np
from pydicom.uid import SecondaryCaptureImageStorage
from results_cases import Built

from node.results._summary_text import summary_lines
from node.results.build import make_context
from node.results.context import Device
from node.results.seg import BODY_COLOURS, CEMENT_COLOUR, EXTRAVERTEBRAL_COLOUR
from node.results.summary import HEIGHT_PX, WIDTH_PX


def pixels_near(image: np.ndarray, colour: tuple[int, int, int], tolerance: int = 40) -> int:
    distance = np.abs(image.astype(np.int16) - np.asarray(colour, dtype=np.int16)).max(axis=2)
    return int(np.count_nonzero(distance <= tolerance))


def test_summary_is_an_rgb_secondary_capture_of_the_study(any_case: Built) -> None:
    image, ct = any_case.objects["OT"], any_case.sources[0]
    assert image.SOPClassUID == SecondaryCaptureImageStorage
    assert image.PhotometricInterpretation == "RGB"
    assert (image.Rows, image.Columns, image.SamplesPerPixel) == (HEIGHT_PX, WIDTH_PX, 3)
    assert image.StudyInstanceUID == ct.StudyInstanceUID
    assert image.PatientID == ct.PatientID and str(image.PatientName) == "Müller^Jörg"
    assert image.SeriesDescription == "vfnode VF% summary (CT series 3)"
    assert image.SeriesNumber == 9902
    assert image.BurnedInAnnotation == "NO"
    assert image.pixel_array.shape == (HEIGHT_PX, WIDTH_PX, 3)


def test_outlines_are_drawn_in_their_colours(two_levels: Built, no_cement: Built) -> None:
    drawn = two_levels.objects["OT"].pixel_array
    for colour in (BODY_COLOURS[0], BODY_COLOURS[1], CEMENT_COLOUR, EXTRAVERTEBRAL_COLOUR):
        assert pixels_near(drawn, colour) > 200, colour
    plain = no_cement.objects["OT"].pixel_array
    assert pixels_near(plain, CEMENT_COLOUR) < pixels_near(drawn, CEMENT_COLOUR) / 4


def test_printed_text_holds_every_number_and_finding(two_levels: Built) -> None:
    context = make_context(two_levels.analysis, two_levels.sources, device=Device(), options={})
    text = "\n".join(line.text for line in summary_lines(context))
    for level in two_levels.analysis.result.levels:
        assert f"VF% {level.vf_pct:.2f} %" in text
        assert f"VBV {level.vbv_ml:.2f} ml    CDV {level.cdv_ml:.2f} ml" in text
        assert f"= {level.score.total}/10  -> group {level.group.value}" in text
    assert "-> extensive distribution expected" in text
    assert "-> limited distribution expected" in text
    assert "Leakage: YES" in text and "    canal 0.08 ml" in text
    assert "cut-off 28.58 %" in text


def test_no_cement_summary_says_so(no_cement: Built) -> None:
    context = make_context(no_cement.analysis, no_cement.sources, device=Device(), options={})
    text = "\n".join(line.text for line in summary_lines(context))
    assert "No cement found in this series." in text
