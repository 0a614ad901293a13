"""The ``Registry`` facade: the only way the node and the CLI touch the case database.

```python
from node.registry import Registry
reg = Registry(settings.registry_url)          # creates/migrates the schema on open
analysis_id = reg.record_analysis(result, header, result_sop_instance_uids=[...])
reg.record_delivery(analysis_id, "PACS@10.0.0.5:104", delivered=True)
```
"""

from __future__ import annotations

import getpass
import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pydicom import Dataset
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from node.analysis.types import LevelResult, SeriesResult
from node.registry.cases import CaseRow, load_cases
from node.registry.clinical import ClinicalImportError, ClinicalRow, RowError, parse_clinical_csv
from node.registry.db import make_engine, migrate
from node.registry.headers import HeaderInfo, read_header
from node.registry.models import (
    Analysis,
    AuditEvent,
    ClinicalData,
    Delivery,
    Patient,
    Series,
    Study,
    VertebraResult,
    utcnow,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ImportSummary:
    """What one clinical import changed."""

    audit_id: int
    rows: int
    inserted: int
    updated: int


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    destination: str
    delivered: bool
    detail: str
    at: Any


@dataclass(frozen=True, slots=True)
class AnalysisDetail:
    """One analysis with its vertebrae, deliveries and the other runs of its series."""

    cases: list[CaseRow]
    record: dict[str, Any]
    result_sop_instance_uids: list[str]
    deliveries: list[DeliveryRow]
    superseded_by: int | None
    other_runs: list[tuple[int, Any, bool]]  # (analysis id, created at, superseded)


class Registry:
    """The case registry at a SQLAlchemy URL (SQLite in WAL mode, or PostgreSQL).

    Opening migrates the schema to the newest revision (``alembic upgrade head``).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.revision = migrate(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction, committed on success."""
        with self._sessions.begin() as session:
            yield session

    # -- the node's API -------------------------------------------------------------
    def record_analysis(self, result: SeriesResult, header: Dataset, *,
                        result_sop_instance_uids: list[str]) -> int:
        """Store one analysis run; earlier runs of the same series are marked superseded.

        Parameters
        ----------
        result : SeriesResult
            The result record of the series.
        header : pydicom.Dataset
            One CT dataset of the series (patient, study and series attributes).
        result_sop_instance_uids : list of str
            SOP Instance UIDs of the SR/SEG/key images written for this run.

        Returns
        -------
        int
            The new analysis ID.
        """
        info = read_header(header)
        for name in ("study_instance_uid", "series_instance_uid"):
            if getattr(info, name) != getattr(result, name):
                raise ValueError(f'The header\'s {name} must match the result\'s '
                                 f'"{getattr(result, name)}". Found "{getattr(info, name)}".')
        try:
            return self._record(result, info, list(result_sop_instance_uids))
        except IntegrityError:
            # Another writer created the same patient/study/series at the same moment.
            logger.info("retrying record_analysis series=%s", info.series_instance_uid)
            return self._record(result, info, list(result_sop_instance_uids))

    def _record(self, result: SeriesResult, info: HeaderInfo, uids: list[str]) -> int:
        with self.session() as s:
            series = _upsert_series(s, info)
            # Serialise runs of one series so exactly one stays current (PostgreSQL;
            # SQLite holds one writer at a time anyway and ignores FOR UPDATE).
            s.execute(select(Series.id).where(Series.id == series.id).with_for_update())
            current = s.scalars(select(Analysis).where(Analysis.series_pk == series.id,
                                                       Analysis.superseded.is_(False))).first()
            if uids and current and list(current.result_sop_instance_uids or []) == uids:
                # A job re-run after a crash records the run it already recorded.
                logger.info("analysis already recorded analysis=%s series=%s", current.id,
                            info.series_instance_uid)
                return int(current.id)
            analysis = Analysis(
                series_pk=series.id, created_at=utcnow(),
                software_version=result.software_version,
                parameters=result.parameters.to_json(),
                flags=[f.value for f in result.flags], record=result.to_json(),
                result_sop_instance_uids=uids, superseded=False)
            s.add(analysis)
            s.flush()
            s.execute(update(Analysis)
                      .where(Analysis.series_pk == series.id, Analysis.id != analysis.id,
                             Analysis.superseded.is_(False))
                      .values(superseded=True, superseded_by=analysis.id))
            s.add_all(_vertebra(analysis.id, i, lv) for i, lv in enumerate(result.levels))
            analysis_id = analysis.id
        logger.info("recorded analysis=%s series=%s levels=%d", analysis_id,
                    info.series_instance_uid, len(result.levels))
        return analysis_id

    def record_delivery(self, analysis_id: int, destination: str, *, delivered: bool,
                        detail: str = "") -> None:
        """Record one delivery attempt of an analysis's result objects."""
        with self.session() as s:
            if s.get(Analysis, analysis_id) is None:
                raise ValueError(f'"analysis_id" must name a recorded analysis. '
                                 f"Found {analysis_id}.")
            s.add(Delivery(analysis_pk=analysis_id, destination=destination,
                           delivered=delivered, detail=detail, at=utcnow()))

    # -- reading ------------------------------------------------------------------
    def cases(self, *, include_superseded: bool = False) -> list[CaseRow]:
        """Every treated vertebra of the current analyses (or of all runs)."""
        with self.session() as s:
            return load_cases(s, include_superseded=include_superseded)

    def analysis(self, analysis_id: int) -> AnalysisDetail:
        """One analysis in full; ValueError when it does not exist."""
        with self.session() as s:
            a = s.get(Analysis, analysis_id)
            if a is None:
                raise ValueError(f"An analysis with ID {analysis_id} must exist. Found none.")
            runs = s.execute(select(Analysis.id, Analysis.created_at, Analysis.superseded)
                             .where(Analysis.series_pk == a.series_pk,
                                    Analysis.id != a.id).order_by(Analysis.id)).all()
            return AnalysisDetail(
                cases=load_cases(s, analysis_id=analysis_id), record=dict(a.record),
                result_sop_instance_uids=list(a.result_sop_instance_uids),
                deliveries=[DeliveryRow(d.destination, d.delivered, d.detail, d.at)
                            for d in a.deliveries],
                superseded_by=a.superseded_by,
                other_runs=[(r[0], r[1], r[2]) for r in runs])

    def audit_events(self) -> list[AuditEvent]:
        with self.session() as s:
            return list(s.scalars(select(AuditEvent).order_by(AuditEvent.id)))

    def record_audit(self, action: str, *, rows: int, detail: dict[str, Any]) -> int:
        """Add an audit event (exports and reports); return its ID."""
        with self.session() as s:
            event = AuditEvent(action=action, actor=_actor(), rows=rows, detail=detail,
                               at=utcnow())
            s.add(event)
            s.flush()
            return event.id

    # -- clinical data ------------------------------------------------------------
    def import_clinical(self, text: str, *, source: str = "") -> ImportSummary:
        """Validate the whole clinical CSV, then store it in one transaction.

        Raises
        ------
        ClinicalImportError
            Listing every bad row with its line number; nothing is stored then.
        """
        rows, errors = parse_clinical_csv(text)
        with self.session() as s:
            targets, resolve_errors = _resolve(s, rows)
            errors = sorted(errors + resolve_errors, key=lambda e: e.line)
            if errors:
                raise ClinicalImportError(errors)
            event = AuditEvent(action="import-clinical", actor=_actor(), rows=len(rows),
                               at=utcnow(), detail={
                                   "source": source,
                                   "sha256": hashlib.sha256(text.encode()).hexdigest()})
            s.add(event)
            s.flush()
            inserted = updated = 0
            for row, study_pk in zip(rows, targets, strict=True):
                existing = s.scalar(select(ClinicalData).where(ClinicalData.study_pk == study_pk))
                record = existing or ClinicalData(study_pk=study_pk)
                for name, value in row.values.items():
                    setattr(record, name, value)
                record.import_pk, record.updated_at = event.id, utcnow()
                s.add(record)
                inserted, updated = inserted + (existing is None), updated + (existing is not None)
            event.detail = {**event.detail, "inserted": inserted, "updated": updated}
            audit_id = event.id
        logger.info("clinical import rows=%d inserted=%d updated=%d", len(rows), inserted,
                    updated)
        return ImportSummary(audit_id, len(rows), inserted, updated)


def _resolve(s: Session, rows: list[ClinicalRow]) -> tuple[list[int], list[RowError]]:
    """Find the study of every row: exactly one must match."""
    targets: list[int] = []
    errors: list[RowError] = []
    seen: dict[int, tuple[int, str]] = {}
    for row in rows:
        query = select(Study.id)
        if row.accession_number:
            query = query.where(Study.accession_number == row.accession_number)
        else:
            query = (query.join(Patient, Study.patient_pk == Patient.id)
                     .where(Patient.patient_id == row.patient_id,
                            Study.study_date == row.study_date))
        found = list(s.scalars(query))
        if len(found) != 1:
            what = "none" if not found else f"{len(found)} studies"
            errors.append(RowError(row.line, f"{row.key_text()} must match exactly one "
                                             f"study in the registry. Found {what}."))
            continue
        first = seen.setdefault(found[0], (row.line, row.key_text()))
        if first[0] != row.line and first[1] != row.key_text():  # same key: parser reported
            errors.append(RowError(row.line, f"each study must appear once. Found the study "
                                             f"of line {first[0]} again."))
        targets.append(found[0])
    return targets, errors


def _upsert_series(s: Session, info: HeaderInfo) -> Series:
    patient = s.scalar(select(Patient).where(Patient.patient_id == info.patient_id,
                                             Patient.issuer == info.issuer))
    if patient is None:
        patient = Patient(patient_id=info.patient_id, issuer=info.issuer)
        s.add(patient)
    patient.patient_name = info.patient_name or patient.patient_name or ""
    patient.sex = info.sex or patient.sex
    patient.birth_date = info.birth_date or patient.birth_date
    study = s.scalar(select(Study).where(Study.study_instance_uid == info.study_instance_uid))
    if study is None:
        study = Study(study_instance_uid=info.study_instance_uid, patient=patient)
        s.add(study)
    study.accession_number = info.accession_number or study.accession_number or ""
    study.study_date = info.study_date or study.study_date
    study.study_description = info.study_description or study.study_description or ""
    study.patient_age_years = info.age_years or study.patient_age_years
    study.patient_weight_kg = info.weight_kg or study.patient_weight_kg
    study.patient_size_m = info.size_m or study.patient_size_m
    series = s.scalar(select(Series).where(
        Series.series_instance_uid == info.series_instance_uid))
    if series is None:
        series = Series(series_instance_uid=info.series_instance_uid, study=study)
        s.add(series)
    series.series_number = info.series_number
    series.series_description = info.series_description
    series.modality = info.modality
    s.flush()
    return series


def _vertebra(analysis_pk: int, position: int, lv: LevelResult) -> VertebraResult:
    x, y, z = lv.centroid_mm
    extra = lv.extravertebral_ml
    return VertebraResult(
        analysis_pk=analysis_pk, position=position, level=lv.level,
        centroid_x_mm=float(x), centroid_y_mm=float(y), centroid_z_mm=float(z),
        vbv_ml=lv.vbv_ml, cdv_ml=lv.cdv_ml, vf_pct=lv.vf_pct,
        extensive_expected=lv.extensive_expected, extra_disc_ml=extra.disc,
        extra_canal_ml=extra.canal, extra_needle_tract_ml=extra.needle_tract,
        extra_paravertebral_ml=extra.paravertebral, extra_total_ml=extra.total,
        leakage=lv.leakage, score_coronal=lv.score.coronal,
        score_sagittal=lv.score.sagittal, score_axial=lv.score.axial,
        score_total=lv.score.total, group=lv.group.value)


def _actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""
