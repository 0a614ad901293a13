"""The registry's tables (SQLAlchemy 2 declarative models).

One row per patient, study, series and analysis run; one row per treated vertebra of each
analysis with every field of the result record; deliveries of the result objects; clinical
data imported from CSV (one row per study); an audit trail of imports and exports.

The schema is created and changed only by the Alembic migrations in
``node/registry/migrations``; a test checks that these models and the migrations agree.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Named constraints so that later migrations can alter them on SQLite (batch mode) too.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Patient(Base):
    """A patient, keyed by Patient ID and its issuer."""

    __tablename__ = "patients"
    __table_args__ = (UniqueConstraint("patient_id", "issuer", name="uq_patients_id_issuer"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[str] = mapped_column(String(64))
    issuer: Mapped[str] = mapped_column(String(64), default="")
    patient_name: Mapped[str] = mapped_column(String(324), default="")
    sex: Mapped[str | None] = mapped_column(String(1), nullable=True)
    birth_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)

    studies: Mapped[list[Study]] = relationship(back_populates="patient")


class Study(Base):
    """A study, with the patient attributes DICOM records per study (age, weight, size)."""

    __tablename__ = "studies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_pk: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    study_instance_uid: Mapped[str] = mapped_column(String(64), unique=True)
    accession_number: Mapped[str] = mapped_column(String(64), default="", index=True)
    study_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    study_description: Mapped[str] = mapped_column(String(64), default="")
    patient_age_years: Mapped[float | None] = mapped_column(Float, nullable=True)
    patient_weight_kg: Mapped[float | None] = mapped_column(Float, nullable=True)
    patient_size_m: Mapped[float | None] = mapped_column(Float, nullable=True)

    patient: Mapped[Patient] = relationship(back_populates="studies")
    series: Mapped[list[Series]] = relationship(back_populates="study")
    clinical: Mapped[ClinicalData | None] = relationship(back_populates="study")


class Series(Base):
    """An analysed CT series."""

    __tablename__ = "series"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_pk: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    series_instance_uid: Mapped[str] = mapped_column(String(64), unique=True)
    series_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    series_description: Mapped[str] = mapped_column(String(64), default="")
    modality: Mapped[str] = mapped_column(String(16), default="")

    study: Mapped[Study] = relationship(back_populates="series")
    analyses: Mapped[list[Analysis]] = relationship(back_populates="series")


class Analysis(Base):
    """One analysis run of a series; a newer run of the same series supersedes it."""

    __tablename__ = "analyses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    series_pk: Mapped[int] = mapped_column(ForeignKey("series.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    software_version: Mapped[str] = mapped_column(String(64))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    flags: Mapped[list[str]] = mapped_column(JSON)
    record: Mapped[dict[str, Any]] = mapped_column(JSON)  # the result record, as printed
    result_sop_instance_uids: Mapped[list[str]] = mapped_column(JSON)
    superseded: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    superseded_by: Mapped[int | None] = mapped_column(
        ForeignKey("analyses.id"), nullable=True)

    series: Mapped[Series] = relationship(back_populates="analyses")
    vertebrae: Mapped[list[VertebraResult]] = relationship(
        back_populates="analysis", order_by="VertebraResult.position",
        cascade="all, delete-orphan")
    deliveries: Mapped[list[Delivery]] = relationship(
        back_populates="analysis", order_by="Delivery.id", cascade="all, delete-orphan")


class VertebraResult(Base):
    """Every field of one ``LevelResult`` of the result record."""

    __tablename__ = "vertebra_results"
    __table_args__ = (UniqueConstraint("analysis_pk", "position",
                                       name="uq_vertebra_results_analysis_position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    analysis_pk: Mapped[int] = mapped_column(
        ForeignKey("analyses.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # 0 = most cranial
    level: Mapped[str | None] = mapped_column(String(8), nullable=True)
    centroid_x_mm: Mapped[float] = mapped_column(Float)
    centroid_y_mm: Mapped[float] = mapped_column(Float)
    centroid_z_mm: Mapped[float] = mapped_column(Float)
    vbv_ml: Mapped[float] = mapped_column(Float)
    cdv_ml: Mapped[float] = mapped_column(Float)
    vf_pct: Mapped[float] = mapped_column(Float)
    extensive_expected: Mapped[bool] = mapped_column(Boolean)
    extra_disc_ml: Mapped[float] = mapped_column(Float)
    extra_canal_ml: Mapped[float] = mapped_column(Float)
    extra_needle_tract_ml: Mapped[float] = mapped_column(Float)
    extra_paravertebral_ml: Mapped[float] = mapped_column(Float)
    extra_total_ml: Mapped[float] = mapped_column(Float)
    leakage: Mapped[bool] = mapped_column(Boolean)
    score_coronal: Mapped[int] = mapped_column(Integer)
    score_sagittal: Mapped[int] = mapped_column(Integer)
    score_axial: Mapped[int] = mapped_column(Integer)
    score_total: Mapped[int] = mapped_column(Integer)
    group: Mapped[str] = mapped_column(String(1))

    analysis: Mapped[Analysis] = relationship(back_populates="vertebrae")


class Delivery(Base):
    """One attempt to deliver an analysis's result objects to a destination."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    analysis_pk: Mapped[int] = mapped_column(
        ForeignKey("analyses.id", ondelete="CASCADE"), index=True)
    destination: Mapped[str] = mapped_column(String(128))
    delivered: Mapped[bool] = mapped_column(Boolean)
    detail: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    analysis: Mapped[Analysis] = relationship(back_populates="deliveries")


class ClinicalData(Base):
    """What the images cannot give, imported from CSV; one row per study."""

    __tablename__ = "clinical_data"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_pk: Mapped[int] = mapped_column(ForeignKey("studies.id"), unique=True)
    bmd_t_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    fracture_level: Mapped[str | None] = mapped_column(String(8), nullable=True)
    operation_minutes: Mapped[float | None] = mapped_column(Float, nullable=True)
    bmi: Mapped[float | None] = mapped_column(Float, nullable=True)
    leakage_observed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    approach: Mapped[str | None] = mapped_column(String(16), nullable=True)
    cement_injected_ml: Mapped[float | None] = mapped_column(Float, nullable=True)
    import_pk: Mapped[int | None] = mapped_column(ForeignKey("audit_events.id"), nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    study: Mapped[Study] = relationship(back_populates="clinical")


class AuditEvent(Base):
    """An import, export or report, with who ran it and what it touched."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    action: Mapped[str] = mapped_column(String(32), index=True)
    actor: Mapped[str] = mapped_column(String(64), default="")
    rows: Mapped[int] = mapped_column(Integer, default=0)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
