"""The admin commands on a small real SQLite registry: import, list, show, export, cut-off."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from node.cohort.synthetic import clinical_csv, synthetic_cohort
from node.config import Settings
from node.registry import Registry
from node.registry.deidentify import Deidentifier
from node.registry.synthetic import populate

from .cli_harness import SECRET, settings_for, vfnode


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = settings_for(tmp_path_factory.mktemp("cli"))
    with Registry(settings.registry_url) as registry:
        populate(registry, synthetic_cohort()[:40], earlier_runs=2)
    return settings


def test_import_clinical_reports_every_bad_line_and_imports_nothing(
        filled: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "clinical.csv"
    path.write_text("accession_number,bmd_t_score,operation_minutes\n"
                    "ACC00001,-9.5,40\nACC00002,-3.0,0\nACC00003,-3.0,45\n")
    with Registry(filled.registry_url) as registry:
        before = (registry.cases(), len(registry.audit_events()))
    assert vfnode(["registry", "import-clinical", str(path)], filled) == 1
    out = capsys.readouterr().out
    assert "2 error(s), nothing imported" in out
    assert "│    2 │" in out and "│    3 │" in out and "within [-8, 4]. Found -9.5" in out
    with Registry(filled.registry_url) as registry:
        assert (registry.cases(), len(registry.audit_events())) == before


def test_import_clinical_accepts_a_good_file(filled: Settings, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "clinical.csv"
    path.write_text(clinical_csv(synthetic_cohort()[:40]))
    assert vfnode(["registry", "import-clinical", str(path)], filled) == 0
    assert "imported 40 row(s): 0 new, 40 updated" in capsys.readouterr().out


def test_cases_list_filters(filled: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    with Registry(filled.registry_url) as registry:
        rows = registry.cases()
    expected = [r for r in rows if r.group == "B" and r.vf_pct < 28.58 and r.leakage]
    assert vfnode(["cases", "list", "--group", "B", "--below-cutoff", "--leakage", "yes"],
                  filled) == 0
    out = capsys.readouterr().out
    assert f"{len(expected)} case(s)" in out
    for r in expected:
        assert r.accession_number in out
    start = sorted(r.study_date for r in rows if r.study_date)[10]
    assert vfnode(["cases", "list", "--from", start.isoformat(), "--where", "level!=L1"],
                  filled) == 0
    count = sum(1 for r in rows if r.study_date and r.study_date >= start and r.level != "L1")
    assert f"{count} case(s)" in capsys.readouterr().out


def test_cases_list_refuses_a_bad_condition(filled: Settings,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert vfnode(["cases", "list", "--where", "colour=red"], filled) == 1
    assert "A condition must look like KEY OP VALUE" in capsys.readouterr().err


def test_cases_show_an_old_run(filled: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert vfnode(["cases", "show", "1"], filled) == 0
    out = capsys.readouterr().out
    assert "Analysis 1 (superseded by 2)" in out and "other run of this series: 2" in out
    assert vfnode(["cases", "show", "9999"], filled) == 1
    assert "An analysis with ID 9999 must exist" in capsys.readouterr().err


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def test_export_deidentified_csv(filled: Settings, tmp_path: Path) -> None:
    plain, deid = tmp_path / "plain.csv", tmp_path / "deid.csv"
    assert vfnode(["export", "--out", str(plain)], filled) == 0
    assert vfnode(["export", "--out", str(deid), "--deidentify"], filled) == 0
    a, b = read_csv(plain), read_csv(deid)
    assert len(a) == len(b) == 40
    assert "patient_name" in a[0] and "patient_name" not in b[0]
    keyed = Deidentifier(SECRET)
    shifts = set()
    for before, after in zip(a, b, strict=True):
        assert after["patient_id"] == keyed.pseudonym("patient_id", before["patient_id"])
        assert after["patient_id"] != before["patient_id"]
        assert after["study_instance_uid"].startswith("2.25.")
        assert after["vf_pct"] == before["vf_pct"]
        shift = (dt.date.fromisoformat(after["study_date"])
                 - dt.date.fromisoformat(before["study_date"])).days
        assert shift == keyed.shift_days(before["patient_id"]) and shift != 0
        shifts.add(shift)
    assert len(shifts) > 30  # per patient, not one shift for all
    text = deid.read_text()
    assert "Synthetic^" not in text and "SYN00" not in text and "ACC00" not in text


def test_export_parquet_and_the_secret_is_required(filled: Settings, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "cases.parquet"
    assert vfnode(["export", "--format", "parquet", "--out", str(path)], filled) == 0
    table = pq.read_table(path)
    assert table.num_rows == 40 and "vf_pct" in table.column_names
    weak = settings_for(tmp_path, secret="short")
    assert vfnode(["export", "--out", str(tmp_path / "x.csv"), "--deidentify"], weak) == 1
    assert '"registry.site_secret" must hold at least 16 characters' in capsys.readouterr().err


def test_cohort_cutoff_prints_site_and_configured(filled: Settings,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert vfnode(["cohort", "cutoff", "--bootstrap", "200"], filled) == 0
    out = capsys.readouterr().out
    assert "site optimum (Youden)" in out and "configured (analysis.vf_cutoff_pct)" in out
    assert "28.58" in out and "95% CI" in out


def test_cohort_with_too_few_cases_says_so(filled: Settings, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert vfnode(["cohort", "report", "--out", str(tmp_path / "r"), "--where", "group=B"],
                  filled) == 1
    err = capsys.readouterr().err
    assert "needs at least 5 cases in each group" in err and "Found A = 0" in err
    assert "Traceback" not in err
