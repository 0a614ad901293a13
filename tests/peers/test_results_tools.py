"""The result objects through independent DICOM tools: dicom3tools, dcmtk and dcmqi.

Cases: the synthetic CT of the unit tests (one level, two levels with a canal leak, no
cement) and small phantoms of ``node.phantom`` (two levels, a canal leak, no cement),
written from their exact truth masks and records.

* ``dciodvfy`` reports no error for the SR, the SEG and the summary image;
* ``dsrdump`` prints the SR;
* dcmqi's ``tid1500reader`` turns the SR into JSON whose values equal the result record;
* dcmqi's ``segimage2itkimage`` converts the SEG into masks equal to the analysis masks.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nibabel
import numpy as np
import pytest

from node.analysis.types import Analysis, LeakSite
from node.results import codes as vf_codes
from node.results.build import write_results
from tests.unit.results.phantom_case import phantom_case
from tests.unit.results.readback import on_grid
from tests.unit.results.synthetic_ct import CASES, make_case

pytestmark = pytest.mark.peer

BIN = Path(sys.executable).parent
LPS_FROM_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(BIN))
    if found is None:
        pytest.fail(f"{name} must be installed (scripts/install --test). Found none on PATH.")
    return found


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=120,
                          check=False)


PHANTOMS = ("two_levels", "canal_leak", "no_cement")


@pytest.fixture(scope="module",
                params=[f"synthetic:{c}" for c in CASES] + [f"phantom:{p}" for p in PHANTOMS])
def written(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    source, kind = request.param.split(":")
    folder = tmp_path_factory.mktemp(f"{source}-{kind}")
    if source == "phantom":
        analysis, sources = phantom_case(folder / "case", kind)
    else:
        analysis, sources = make_case(kind)
    paths = write_results(analysis, sources, folder / "out", volumetric_sr_groups=False)
    return analysis, {p.name.split("_")[0]: p for p in paths}


def names(analysis: Analysis) -> list[str]:
    """The vertebra names the objects use: the level, else "Vertebra i"."""
    return [lv.level or f"Vertebra {i}" for i, lv in enumerate(analysis.result.levels, 1)]


def test_dciodvfy_finds_no_error(written) -> None:
    _, files = written
    for modality, path in files.items():
        out = run(tool("dciodvfy"), path)
        lines = (out.stdout + out.stderr).splitlines()
        errors = [line for line in lines if line.startswith("Error")]
        assert errors == [], f"{modality}: {errors}"
        warnings = {line for line in lines if line.startswith("Warning")}
        # The only warning: dicom3tools does not know the private scheme designator.
        assert warnings <= {"Warning - Unrecognized defined term <99VFNODE> for value 1 of "
                            "attribute <Coding Scheme Designator>"}, f"{modality}: {warnings}"


def test_dsrdump_prints_the_sr(written) -> None:
    analysis, files = written
    out = run(tool("dsrdump"), files["SR"])
    assert out.returncode == 0, out.stderr
    assert "Imaging Measurement Report" in out.stdout
    for level in analysis.result.levels:
        assert f'"Cement volume fraction (VF%)")="{level.to_json()["vf_pct"]}"' in out.stdout
    if not analysis.result.levels:
        assert '"No cement found in this series"' in out.stdout


def _by_tracking(document: dict) -> dict[str, dict]:
    return {m["TrackingIdentifier"]: m for m in document["Measurements"]}


def test_tid1500reader_json_equals_the_record(written, tmp_path: Path) -> None:
    analysis, files = written
    target = tmp_path / "sr.json"
    out = run(tool("tid1500reader"), "--inputDICOM", files["SR"], "--outputMetadata", target)
    assert out.returncode == 0, out.stderr
    groups = _by_tracking(json.loads(target.read_text()))
    for name, level in zip(names(analysis), analysis.result.levels, strict=True):
        record = level.to_json()
        group = groups[f"{name} vertebral body"]
        assert group["FindingSite"]["CodeValue"] == vf_codes.vertebra(level.level).value
        found = {m["quantity"]["CodeValue"]: (float(m["value"]), m["units"]["CodeValue"])
                 for m in group["measurementItems"]}
        expected = {"VBV": (record["vbv_ml"], "ml"), "CDV": (record["cdv_ml"], "ml"),
                    "VF": (record["vf_pct"], "%"), "VFCUTOFF": (28.58, "%"),
                    "EXTRAVOL": (record["extravertebral_ml"]["total"], "ml"),
                    "SCORE-COR": (record["score"]["coronal"], "{score}"),
                    "SCORE-SAG": (record["score"]["sagittal"], "{score}"),
                    "SCORE-AX": (record["score"]["axial"], "{score}"),
                    "SCORE-TOTAL": (record["score"]["total"], "{score}")}
        expected |= {vf_codes.EXTRAVERTEBRAL_BY_SITE[s].value:
                     (record["extravertebral_ml"][s.value], "ml")
                     for s in LeakSite if record["extravertebral_ml"][s.value] > 0}
        assert found == expected
        evaluations = {(e["conceptCode"]["CodeValue"], e["conceptValue"]["CodeValue"])
                       for e in group["qualitativeEvaluations"]}
        assert ("EXPDIST", "EXTENSIVE" if record["extensive_expected"] else "LIMITED") \
            in evaluations
        assert ("LEAK", "52101004" if record["leakage"] else "272519000") in evaluations
        assert ("GROUP", f"GROUP-{record['group']}") in evaluations
    if not analysis.result.levels:
        group = groups["No cement found in this series"]
        assert [m["value"] for m in group["measurementItems"]] in (["0"], ["0.0"])


def test_segimage2itkimage_masks_equal_the_analysis_masks(written, tmp_path: Path) -> None:
    analysis, files = written
    if "SEG" not in files:
        assert analysis.result.levels == ()
        return
    out = run(tool("segimage2itkimage"), "--inputDICOM", files["SEG"], "--outputDirectory",
              tmp_path, "-t", "nifti", "-p", "seg")
    assert out.returncode == 0, out.stderr
    meta = json.loads((tmp_path / "seg-meta.json").read_text())
    grid, shape = np.asarray(analysis.affine), np.asarray(analysis.cement).shape
    bodies = np.asarray(analysis.body_labels)
    compared = 0
    for number, attributes in enumerate(meta["segmentAttributes"], start=1):
        label = attributes[0]["SegmentLabel"]
        image = nibabel.load(tmp_path / f"seg-{number}.nii.gz")
        mask = on_grid(np.asarray(image.dataobj) > 0, LPS_FROM_RAS @ image.affine, grid, shape)
        index = 1 + next(i for i, name in enumerate(names(analysis)) if label.startswith(name))
        expected = {"vertebral body": bodies == index,
                    "cement in body": (bodies == index) & np.asarray(analysis.cement),
                    "extravertebral cement": np.asarray(analysis.extravertebral_labels) == index,
                    }[label.split(" ", 1)[1]]
        assert np.array_equal(mask, expected), label
        compared += 1
    assert compared == len(analysis.result.levels) * 2 + int(
        np.asarray(analysis.extravertebral_labels).any())
