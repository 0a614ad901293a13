"""The registry suite. Runs here on SQLite; ``tests/peers/test_registry_postgres.py`` runs
the same tests on a real PostgreSQL server by overriding the ``registry_url`` fixture."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from pydicom import Dataset
from sqlalchemy import text

from node.analysis.types import (
    Extravertebral,
    Flag,
    LevelResult,
    Parameters,
    Score,
    SeriesResult,
)
from node.registry import ClinicalImportError, Registry
from node.registry.cases import cohort_cases
from node.registry.models import Base


@pytest.fixture
def registry_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'registry.db'}"


@pytest.fixture
def registry(registry_url: str) -> Iterator[Registry]:
    reg = Registry(registry_url)
    yield reg
    reg.close()


def level(name: str | None, vf: float, score: tuple[int, int, int] = (3, 3, 3), *,
          leak: float = 0.0) -> LevelResult:
    vbv = 26.28
    return LevelResult(
        level=name, centroid_mm=(1.5, -20.25, 310.0), vbv_ml=vbv, cdv_ml=vbv * vf / 100,
        vf_pct=vf, extensive_expected=vf >= 28.58,
        extravertebral_ml=Extravertebral(disc=0.01, canal=0.0, needle_tract=0.12,
                                         paravertebral=leak),
        leakage=leak >= 0.05, score=Score(*score))


def result(i: int, *levels: LevelResult, version: str = "1.0") -> SeriesResult:
    return SeriesResult(f"1.2.3.{i}", f"1.2.3.{i}.1", version, Parameters(),
                        (Flag.COARSE,) if i % 2 else (), tuple(levels))


def header(i: int, *, accession: str | None = None, weight: str = "60",
           size: str = "1.55") -> Dataset:
    ds = Dataset()
    ds.PatientID, ds.PatientName, ds.PatientSex = f"P{i}", f"Doe^Jane{i}", "F"
    ds.PatientAge, ds.PatientWeight, ds.PatientSize = "072Y", weight, size
    ds.StudyInstanceUID, ds.SeriesInstanceUID = f"1.2.3.{i}", f"1.2.3.{i}.1"
    ds.StudyDate, ds.AccessionNumber = f"202001{i % 28 + 1:02d}", accession or f"A{i}"
    ds.SeriesDescription, ds.SeriesNumber, ds.Modality = "Spine", "3", "CT"
    return ds


def test_opening_creates_the_schema_at_head_and_models_match_migrations(
        registry: Registry, registry_url: str) -> None:
    assert registry.revision == "0001"
    with registry.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []
    Registry(registry_url).close()  # reopening is a no-op upgrade


def test_sqlite_runs_in_wal_mode(registry: Registry) -> None:
    if registry.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    with registry.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_every_field_of_the_result_record_is_stored(registry: Registry) -> None:
    res = result(1, level("T12", 31.5, (3, 2, 4), leak=0.2), level("L1", 12.25, (1, 1, 2)))
    analysis_id = registry.record_analysis(res, header(1), result_sop_instance_uids=["9.9"])
    detail = registry.analysis(analysis_id)
    assert detail.record == res.to_json()
    assert detail.result_sop_instance_uids == ["9.9"]
    rebuilt = [LevelResult(
        level=r.level, centroid_mm=(1.5, -20.25, 310.0), vbv_ml=r.vbv_ml, cdv_ml=r.cdv_ml,
        vf_pct=r.vf_pct, extensive_expected=r.extensive_expected,
        extravertebral_ml=Extravertebral(r.extra_disc_ml, r.extra_canal_ml,
                                         r.extra_needle_tract_ml, r.extra_paravertebral_ml),
        leakage=r.leakage_ct, score=Score(r.score_coronal, r.score_sagittal, r.score_axial))
        for r in detail.cases]
    assert tuple(rebuilt) == res.levels
    first = detail.cases[0]
    assert (first.group, first.score_total, first.extra_total_ml) == ("B", 9, pytest.approx(0.33))
    assert (first.patient_id, first.sex, first.age_years, first.accession_number) == (
        "P1", "F", 72.0, "A1")
    assert first.bmi == pytest.approx(60 / 1.55**2)
    assert first.bmi_source == "dicom"
    assert first.flags == ("coarse",)


def test_a_new_run_supersedes_the_old_one_which_is_kept(registry: Registry) -> None:
    old = registry.record_analysis(result(2, level("L2", 20.0)), header(2),
                                   result_sop_instance_uids=[])
    new = registry.record_analysis(result(2, level("L2", 22.0), version="1.1"), header(2),
                                   result_sop_instance_uids=[])
    assert [r.analysis_id for r in registry.cases()] == [new]
    every = registry.cases(include_superseded=True)
    assert sorted((r.analysis_id, r.superseded) for r in every) == [(old, True), (new, False)]
    assert registry.analysis(old).superseded_by == new
    assert registry.analysis(new).other_runs[0][0] == old


def test_recording_the_same_results_twice_keeps_one_run(registry: Registry) -> None:
    # A job re-run after kill -9 between the registry commit and the node's own bookkeeping.
    uids = ["1.2.3.8.9.1", "1.2.3.8.9.2"]
    first = registry.record_analysis(result(8, level("L2", 20.0)), header(8),
                                     result_sop_instance_uids=uids)
    again = registry.record_analysis(result(8, level("L2", 20.0)), header(8),
                                     result_sop_instance_uids=uids)
    assert again == first
    assert len(registry.cases(include_superseded=True)) == 1


def test_a_series_without_cement_is_recorded_without_cases(registry: Registry) -> None:
    empty = SeriesResult("1.2.3.5", "1.2.3.5.1", "1.0", Parameters(), (Flag.NO_CEMENT_FOUND,))
    analysis_id = registry.record_analysis(empty, header(5), result_sop_instance_uids=[])
    assert registry.analysis(analysis_id).record["flags"] == ["no_cement_found"]
    assert registry.cases() == []


def test_header_must_belong_to_the_result(registry: Registry) -> None:
    with pytest.raises(ValueError, match=r"series_instance_uid must match .*1\.2\.3\.7\.1"):
        registry.record_analysis(result(7, level("L1", 20.0)), _other_series(7),
                                 result_sop_instance_uids=[])


def _other_series(i: int) -> Dataset:
    ds = header(i)
    ds.SeriesInstanceUID = "9.9.9"
    return ds


def test_deliveries_are_recorded(registry: Registry) -> None:
    analysis_id = registry.record_analysis(result(3, level("L3", 25.0)), header(3),
                                           result_sop_instance_uids=["1", "2"])
    registry.record_delivery(analysis_id, "PACS@127.0.0.1:104", delivered=False,
                             detail="association rejected")
    registry.record_delivery(analysis_id, "PACS@127.0.0.1:104", delivered=True)
    deliveries = registry.analysis(analysis_id).deliveries
    assert [(d.delivered, d.detail) for d in deliveries] == [
        (False, "association rejected"), (True, "")]
    with pytest.raises(ValueError, match=r'"analysis_id" must name a recorded analysis. '
                                         r"Found 999"):
        registry.record_delivery(999, "PACS@x:1", delivered=True)


def fill(registry: Registry, n: int = 4) -> None:
    for i in range(10, 10 + n):
        registry.record_analysis(result(i, level("L1", 20.0 + i)), header(i),
                                 result_sop_instance_uids=[])


def test_clinical_import_joins_by_accession_or_patient_and_date(registry: Registry) -> None:
    fill(registry)
    summary = registry.import_clinical(
        "accession_number,patient_id,study_date,bmd_t_score,fracture_level,"
        "operation_minutes,bmi,cement_leakage,approach,cement_injected_ml\n"
        "A10,,,-3.2,L1,45,,yes,bi,6.5\n"
        ",P11,2020-01-12,-2.9,L1,40,24.5,no,uni,4\n", source="t.csv")
    assert (summary.rows, summary.inserted, summary.updated) == (2, 2, 0)
    rows = {r.accession_number: r for r in registry.cases()}
    a10, a11 = rows["A10"], rows["A11"]
    assert (a10.bmd_t_score, a10.operation_minutes, a10.approach) == (-3.2, 45.0,
                                                                      "bipedicular")
    assert a10.leakage_ct is False and a10.leakage is True      # clinical observation wins
    assert a10.bmi_source == "dicom" and a11.bmi == 24.5 and a11.bmi_source == "clinical"
    assert rows["A12"].bmd_t_score is None
    # a file with fewer columns updates only those columns
    again = registry.import_clinical("accession_number,bmd_t_score\nA10,-3.5\n")
    assert (again.inserted, again.updated) == (0, 1)
    a10 = next(r for r in registry.cases() if r.accession_number == "A10")
    assert (a10.bmd_t_score, a10.operation_minutes) == (-3.5, 45.0)
    assert [e.action for e in registry.audit_events()] == ["import-clinical"] * 2


def test_a_bad_clinical_file_imports_nothing_and_names_every_bad_line(
        registry: Registry) -> None:
    fill(registry)
    bad = ("accession_number,bmd_t_score,fracture_level,cement_leakage,approach\n"
           "A10,-3.1,L1,yes,bi\n"
           "A11,abc,L1,no,bi\n"
           "A12,-3.0,Z9,maybe,bi\n"
           "NOPE,-3.0,L1,no,bi\n"
           "A13,-3.0,L1,no,both\n"
           "A10,-3.0,L1,no,bi\n")
    with pytest.raises(ClinicalImportError, match="nothing was imported") as caught:
        registry.import_clinical(bad)
    found = [(e.line, e.reason.split(" ")[0]) for e in caught.value.errors]
    assert found == [(3, '"bmd_t_score"'), (4, '"fracture_level"'), (4, '"cement_leakage"'),
                     (5, 'accession'), (6, '"approach"'), (7, "each")]
    assert all(r.bmd_t_score is None for r in registry.cases())
    assert registry.audit_events() == []


def test_clinical_header_errors_are_on_line_one(registry: Registry) -> None:
    with pytest.raises(ClinicalImportError, match=r'line 1: column "weight" must be one of'):
        registry.import_clinical("accession_number,weight\nA1,70\n")
    with pytest.raises(ClinicalImportError, match=r'line 1: the header must have '
                                                  r'"accession_number"'):
        registry.import_clinical("bmd_t_score\n-3\n")


def test_cohort_uses_the_clinical_fracture_level_of_a_multilevel_analysis(
        registry: Registry) -> None:
    registry.record_analysis(result(20, level("T12", 30.0), level("L1", 18.0, (1, 1, 1))),
                             header(20), result_sop_instance_uids=[])
    registry.record_analysis(result(21, level("L2", 31.0), level("L3", 33.0)), header(21),
                             result_sop_instance_uids=[])
    registry.import_clinical("accession_number,fracture_level\nA20,L1\n")
    cases = cohort_cases(registry.cases())
    assert sorted((c.case_id.split(":")[1], c.vf_pct, c.segment) for c in cases) == [
        ("0", 31.0, "T11–L2"), ("1", 18.0, "T11–L2"), ("1", 33.0, "L3–L5")]


def test_concurrent_runs_of_one_series_leave_exactly_one_current(registry_url: str) -> None:
    Registry(registry_url).close()
    errors: list[BaseException] = []

    def record(k: int) -> None:
        try:
            with Registry(registry_url) as reg:
                for j in range(3):
                    reg.record_analysis(result(30, level("L4", 20.0 + k + j / 10)),
                                        header(30), result_sop_instance_uids=[])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=record, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Registry(registry_url) as reg:
        assert len(reg.cases()) == 1
        assert len(reg.cases(include_superseded=True)) == 12
