"""Cases: one row per treated vertebra, joined with its patient, study and clinical data."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from node.cohort.types import SEGMENTS, CohortCase
from node.registry.models import (
    Analysis,
    ClinicalData,
    Patient,
    Series,
    Study,
    VertebraResult,
)


def segment_of(level: str | None) -> str | None:
    """The paper's fracture segment of a level: T1–T10, T11–L2, L3–L5 (None otherwise)."""
    if not level or len(level) < 2 or not level[1:].isdigit():
        return None
    region, number = level[0].upper(), int(level[1:])
    if region == "T":
        return SEGMENTS[0] if number <= 10 else SEGMENTS[1]
    if region == "L":
        return SEGMENTS[1] if number <= 2 else SEGMENTS[2]
    return None


@dataclass(frozen=True, slots=True)
class CaseRow:
    """A treated vertebra of one analysis with everything known about its patient.

    ``leakage`` is the clinical observation when one was imported, else the CT finding;
    ``bmi`` is the imported value, else weight / size² from the DICOM header.
    """

    analysis_id: int
    vertebra_id: int
    position: int
    level: str | None
    created_at: dt.datetime
    superseded: bool
    software_version: str
    flags: tuple[str, ...]
    patient_id: str
    patient_name: str
    sex: str | None
    birth_date: dt.date | None
    age_years: float | None
    weight_kg: float | None
    size_m: float | None
    study_instance_uid: str
    accession_number: str
    study_date: dt.date | None
    series_instance_uid: str
    series_description: str
    vbv_ml: float
    cdv_ml: float
    vf_pct: float
    extensive_expected: bool
    extra_disc_ml: float
    extra_canal_ml: float
    extra_needle_tract_ml: float
    extra_paravertebral_ml: float
    extra_total_ml: float
    leakage_ct: bool
    score_coronal: int
    score_sagittal: int
    score_axial: int
    score_total: int
    group: str
    bmd_t_score: float | None
    fracture_level: str | None
    operation_minutes: float | None
    bmi_clinical: float | None
    leakage_observed: bool | None
    approach: str | None
    cement_injected_ml: float | None

    @property
    def bmi(self) -> float | None:
        if self.bmi_clinical is not None:
            return self.bmi_clinical
        if self.weight_kg and self.size_m:
            return self.weight_kg / self.size_m**2
        return None

    @property
    def bmi_source(self) -> str | None:
        if self.bmi_clinical is not None:
            return "clinical"
        return "dicom" if self.bmi is not None else None

    @property
    def leakage(self) -> bool:
        return self.leakage_ct if self.leakage_observed is None else self.leakage_observed

    @property
    def segment(self) -> str | None:
        return segment_of(self.level or self.fracture_level)

    def to_dict(self) -> dict[str, Any]:
        """Every field plus the derived ``bmi``, ``bmi_source``, ``leakage``, ``segment``."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["flags"] = ";".join(self.flags)
        out.update(bmi=self.bmi, bmi_source=self.bmi_source, leakage=self.leakage,
                   segment=self.segment)
        return out


def load_cases(session: Session, *, include_superseded: bool = False,
               analysis_id: int | None = None) -> list[CaseRow]:
    """Cases of the current analyses; superseded runs too when asked; or one analysis."""
    query = (
        select(VertebraResult, Analysis, Series, Study, Patient, ClinicalData)
        .join(Analysis, VertebraResult.analysis_pk == Analysis.id)
        .join(Series, Analysis.series_pk == Series.id)
        .join(Study, Series.study_pk == Study.id)
        .join(Patient, Study.patient_pk == Patient.id)
        .outerjoin(ClinicalData, ClinicalData.study_pk == Study.id)
        .order_by(Study.study_date, Analysis.id, VertebraResult.position)
    )
    if not include_superseded and analysis_id is None:
        query = query.where(Analysis.superseded.is_(False))
    if analysis_id is not None:
        query = query.where(Analysis.id == analysis_id)
    return [_row(*r) for r in session.execute(query).all()]


def _row(v: VertebraResult, a: Analysis, se: Series, st: Study, p: Patient,
         c: ClinicalData | None) -> CaseRow:
    return CaseRow(
        analysis_id=a.id, vertebra_id=v.id, position=v.position, level=v.level,
        created_at=a.created_at, superseded=a.superseded,
        software_version=a.software_version, flags=tuple(a.flags),
        patient_id=p.patient_id, patient_name=p.patient_name, sex=p.sex,
        birth_date=p.birth_date, age_years=st.patient_age_years,
        weight_kg=st.patient_weight_kg, size_m=st.patient_size_m,
        study_instance_uid=st.study_instance_uid, accession_number=st.accession_number,
        study_date=st.study_date, series_instance_uid=se.series_instance_uid,
        series_description=se.series_description,
        vbv_ml=v.vbv_ml, cdv_ml=v.cdv_ml, vf_pct=v.vf_pct,
        extensive_expected=v.extensive_expected, extra_disc_ml=v.extra_disc_ml,
        extra_canal_ml=v.extra_canal_ml, extra_needle_tract_ml=v.extra_needle_tract_ml,
        extra_paravertebral_ml=v.extra_paravertebral_ml, extra_total_ml=v.extra_total_ml,
        leakage_ct=v.leakage, score_coronal=v.score_coronal,
        score_sagittal=v.score_sagittal, score_axial=v.score_axial,
        score_total=v.score_total, group=v.group,
        bmd_t_score=c.bmd_t_score if c else None,
        fracture_level=c.fracture_level if c else None,
        operation_minutes=c.operation_minutes if c else None,
        bmi_clinical=c.bmi if c else None,
        leakage_observed=c.leakage_observed if c else None,
        approach=c.approach if c else None,
        cement_injected_ml=c.cement_injected_ml if c else None,
    )


def index_levels(rows: list[CaseRow]) -> list[CaseRow]:
    """Keep, per analysis, the vertebra the clinical fracture level names, when one does.

    The paper analyses one treated level per patient. When the clinical data name the
    fracture level and the analysis found that level, the other treated levels of that
    analysis are left out; otherwise every treated level stays a case of its own.
    """
    named = {(r.analysis_id) for r in rows
             if r.fracture_level is not None and r.level == r.fracture_level}
    return [r for r in rows if r.analysis_id not in named or r.level == r.fracture_level]


def cohort_cases(rows: list[CaseRow]) -> list[CohortCase]:
    """The cohort analysis's input: one case per index level of each current analysis."""
    return [
        CohortCase(
            case_id=f"{r.analysis_id}:{r.position}", score_total=r.score_total, sex=r.sex,
            age_years=r.age_years, bmi=r.bmi, bmd_t_score=r.bmd_t_score, segment=r.segment,
            leakage=r.leakage, operation_minutes=r.operation_minutes, cdv_ml=r.cdv_ml,
            vbv_ml=r.vbv_ml, vf_pct=r.vf_pct)
        for r in index_levels([r for r in rows if not r.superseded])
    ]
