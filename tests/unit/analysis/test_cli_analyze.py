"""``vfnode analyze PATH [--json] [--series UID]`` on files written to disk."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from node.analysis.types import Flag, Parameters, SeriesResult
from node.cli.analyze import format_table
from node.cli.main import main

from . import synth
from .dicomseries import ct_series, write_series


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    seg = synth.make_segment(seed=5)
    datasets = ct_series(seg.hu, seg.affine, unsigned=True)
    folder = tmp_path_factory.mktemp("study")
    write_series(datasets, folder / "ct")
    return folder, str(datasets[0].SeriesInstanceUID)


def test_json_record_per_series(study: tuple[Path, str],
                                capsys: pytest.CaptureFixture[str]) -> None:
    folder, uid = study
    assert main(["--log-level", "WARNING", "analyze", str(folder), "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    assert len(records) == 1
    record = records[0]
    assert record["series_instance_uid"] == uid
    assert len(record["levels"]) == 1
    assert set(record["levels"][0]) >= {"vbv_ml", "cdv_ml", "vf_pct", "score", "group",
                                         "extravertebral_ml", "leakage", "centroid_mm"}


def test_json_on_stdout_stays_json_with_info_logging(study: tuple[Path, str]) -> None:
    # The log (INFO: "analysed series=...") goes to stderr: ``analyze --json | jq`` works.
    folder, uid = study
    run = subprocess.run([sys.executable, "-m", "node.cli.main", "--log-level", "INFO",
                          "analyze", str(folder), "--json"],
                         capture_output=True, text=True, timeout=300, check=True)
    assert [json.loads(line)["series_instance_uid"] for line in run.stdout.splitlines()] == [uid]
    assert "analysed series=" in run.stderr


def test_table_and_forced_series(study: tuple[Path, str],
                                 capsys: pytest.CaptureFixture[str]) -> None:
    folder, uid = study
    assert main(["--log-level", "WARNING", "analyze", str(folder), "--series", uid]) == 0
    out = capsys.readouterr().out
    assert "VF %" in out and uid in out


def test_unusable_input_exits_non_zero_with_one_line(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "note.txt").write_text("not dicom")
    assert main(["--log-level", "WARNING", "analyze", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert "must hold DICOM files" in err and "\n" not in err


def test_unknown_series_is_refused(study: tuple[Path, str],
                                   capsys: pytest.CaptureFixture[str]) -> None:
    folder, _ = study
    assert main(["--log-level", "WARNING", "analyze", str(folder), "--series", "9.9"]) == 1
    assert "Series 9.9 must be under" in capsys.readouterr().err


@pytest.mark.parametrize(("flag", "said"), [
    (Flag.NO_CEMENT_FOUND, "no cement found"),
    (Flag.NO_BODY_AROUND_CEMENT, "cement found, but no vertebral body around it"),
])
def test_the_table_tells_no_cement_from_no_body(flag: Flag, said: str) -> None:
    result = SeriesResult(study_instance_uid="1.2", series_instance_uid="1.2.3",
                          software_version="t", parameters=Parameters(), flags=(flag,),
                          levels=())
    assert f"no treated level ({said})" in format_table(result)
