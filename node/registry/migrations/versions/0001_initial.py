"""Initial schema: patients, studies, series, analyses, vertebra results, deliveries,
clinical data and the audit trail.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-24 20:06:10.201336
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_action"), ["action"], unique=False)

    op.create_table(
        "patients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("issuer", sa.String(length=64), nullable=False),
        sa.Column("patient_name", sa.String(length=324), nullable=False),
        sa.Column("sex", sa.String(length=1), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patients")),
        sa.UniqueConstraint("patient_id", "issuer", name="uq_patients_id_issuer"),
    )
    op.create_table(
        "studies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_pk", sa.Integer(), nullable=False),
        sa.Column("study_instance_uid", sa.String(length=64), nullable=False),
        sa.Column("accession_number", sa.String(length=64), nullable=False),
        sa.Column("study_date", sa.Date(), nullable=True),
        sa.Column("study_description", sa.String(length=64), nullable=False),
        sa.Column("patient_age_years", sa.Float(), nullable=True),
        sa.Column("patient_weight_kg", sa.Float(), nullable=True),
        sa.Column("patient_size_m", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_pk"], ["patients.id"], name=op.f("fk_studies_patient_pk_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_studies")),
        sa.UniqueConstraint("study_instance_uid", name=op.f("uq_studies_study_instance_uid")),
    )
    with op.batch_alter_table("studies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_studies_accession_number"), ["accession_number"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_studies_patient_pk"), ["patient_pk"], unique=False)

    op.create_table(
        "clinical_data",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_pk", sa.Integer(), nullable=False),
        sa.Column("bmd_t_score", sa.Float(), nullable=True),
        sa.Column("fracture_level", sa.String(length=8), nullable=True),
        sa.Column("operation_minutes", sa.Float(), nullable=True),
        sa.Column("bmi", sa.Float(), nullable=True),
        sa.Column("leakage_observed", sa.Boolean(), nullable=True),
        sa.Column("approach", sa.String(length=16), nullable=True),
        sa.Column("cement_injected_ml", sa.Float(), nullable=True),
        sa.Column("import_pk", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_pk"], ["audit_events.id"], name=op.f("fk_clinical_data_import_pk_audit_events")
        ),
        sa.ForeignKeyConstraint(
            ["study_pk"], ["studies.id"], name=op.f("fk_clinical_data_study_pk_studies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinical_data")),
        sa.UniqueConstraint("study_pk", name=op.f("uq_clinical_data_study_pk")),
    )
    op.create_table(
        "series",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_pk", sa.Integer(), nullable=False),
        sa.Column("series_instance_uid", sa.String(length=64), nullable=False),
        sa.Column("series_number", sa.Integer(), nullable=True),
        sa.Column("series_description", sa.String(length=64), nullable=False),
        sa.Column("modality", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["study_pk"], ["studies.id"], name=op.f("fk_series_study_pk_studies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_series")),
        sa.UniqueConstraint("series_instance_uid", name=op.f("uq_series_series_instance_uid")),
    )
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_series_study_pk"), ["study_pk"], unique=False)

    op.create_table(
        "analyses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("series_pk", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("software_version", sa.String(length=64), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("result_sop_instance_uids", sa.JSON(), nullable=False),
        sa.Column("superseded", sa.Boolean(), nullable=False),
        sa.Column("superseded_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["series_pk"], ["series.id"], name=op.f("fk_analyses_series_pk_series")
        ),
        sa.ForeignKeyConstraint(
            ["superseded_by"], ["analyses.id"], name=op.f("fk_analyses_superseded_by_analyses")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analyses")),
    )
    with op.batch_alter_table("analyses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_analyses_series_pk"), ["series_pk"], unique=False)
        batch_op.create_index(batch_op.f("ix_analyses_superseded"), ["superseded"], unique=False)

    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("analysis_pk", sa.Integer(), nullable=False),
        sa.Column("destination", sa.String(length=128), nullable=False),
        sa.Column("delivered", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["analysis_pk"],
            ["analyses.id"],
            name=op.f("fk_deliveries_analysis_pk_analyses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_deliveries_analysis_pk"), ["analysis_pk"], unique=False
        )

    op.create_table(
        "vertebra_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("analysis_pk", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=True),
        sa.Column("centroid_x_mm", sa.Float(), nullable=False),
        sa.Column("centroid_y_mm", sa.Float(), nullable=False),
        sa.Column("centroid_z_mm", sa.Float(), nullable=False),
        sa.Column("vbv_ml", sa.Float(), nullable=False),
        sa.Column("cdv_ml", sa.Float(), nullable=False),
        sa.Column("vf_pct", sa.Float(), nullable=False),
        sa.Column("extensive_expected", sa.Boolean(), nullable=False),
        sa.Column("extra_disc_ml", sa.Float(), nullable=False),
        sa.Column("extra_canal_ml", sa.Float(), nullable=False),
        sa.Column("extra_needle_tract_ml", sa.Float(), nullable=False),
        sa.Column("extra_paravertebral_ml", sa.Float(), nullable=False),
        sa.Column("extra_total_ml", sa.Float(), nullable=False),
        sa.Column("leakage", sa.Boolean(), nullable=False),
        sa.Column("score_coronal", sa.Integer(), nullable=False),
        sa.Column("score_sagittal", sa.Integer(), nullable=False),
        sa.Column("score_axial", sa.Integer(), nullable=False),
        sa.Column("score_total", sa.Integer(), nullable=False),
        sa.Column("group", sa.String(length=1), nullable=False),
        sa.ForeignKeyConstraint(
            ["analysis_pk"],
            ["analyses.id"],
            name=op.f("fk_vertebra_results_analysis_pk_analyses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vertebra_results")),
        sa.UniqueConstraint(
            "analysis_pk", "position", name="uq_vertebra_results_analysis_position"
        ),
    )
    with op.batch_alter_table("vertebra_results", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_vertebra_results_analysis_pk"), ["analysis_pk"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("vertebra_results", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vertebra_results_analysis_pk"))

    op.drop_table("vertebra_results")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deliveries_analysis_pk"))

    op.drop_table("deliveries")
    with op.batch_alter_table("analyses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_analyses_superseded"))
        batch_op.drop_index(batch_op.f("ix_analyses_series_pk"))

    op.drop_table("analyses")
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_series_study_pk"))

    op.drop_table("series")
    op.drop_table("clinical_data")
    with op.batch_alter_table("studies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_studies_patient_pk"))
        batch_op.drop_index(batch_op.f("ix_studies_accession_number"))

    op.drop_table("studies")
    op.drop_table("patients")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_action"))

    op.drop_table("audit_events")
