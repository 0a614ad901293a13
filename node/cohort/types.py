"""The cohort's input: one case per treated vertebra, with the paper's Table 1 factors."""

from __future__ import annotations

from dataclasses import dataclass

SEGMENTS = ("T1–T10", "T11–L2", "L3–L5")


@dataclass(frozen=True, slots=True)
class CohortCase:
    """One case of the cohort analysis.

    Attributes
    ----------
    case_id : str
        Shown in no table; used to trace a case back to the registry.
    score_total : int
        Distribution score 0-10; group B when >= 8.
    sex : str | None
        ``"M"`` or ``"F"``; anything else counts as unknown.
    segment : str | None
        One of ``SEGMENTS``.
    cdv_ml, vbv_ml, vf_pct : float
        Cement dispersion volume (ml), vertebral body volume (ml), VF% (%).
    """

    case_id: str
    score_total: int
    sex: str | None
    age_years: float | None
    bmi: float | None
    bmd_t_score: float | None
    segment: str | None
    leakage: bool | None
    operation_minutes: float | None
    cdv_ml: float
    vbv_ml: float
    vf_pct: float

    def __post_init__(self) -> None:
        if not 0 <= self.score_total <= 10:
            raise ValueError(f'"score_total" must be within 0..10. Found {self.score_total}.')
        if self.segment is not None and self.segment not in SEGMENTS:
            raise ValueError(f'"segment" must be one of {SEGMENTS}. Found "{self.segment}".')

    @property
    def group_b(self) -> bool:
        """Extensive distribution (score 8-10)."""
        return self.score_total >= 8
