"""The result record of ``shared/spec/measurement.md`` as typed, frozen dataclasses.

Field names and units follow the spec exactly; ``to_json``/``from_json`` round-trip the
JSON object that ``vfnode analyze --json`` prints and the registry stores.
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from typing import Any


class Group(enum.StrEnum):
    """Distribution group of the paper: A limited (score 0-7), B extensive (8-10)."""

    A = "A"
    B = "B"

    @classmethod
    def from_total(cls, total: int) -> Group:
        return cls.B if total >= 8 else cls.A


class Flag(enum.StrEnum):
    """Series-level flags reported beside the numbers."""

    COARSE = "coarse"
    NO_CEMENT_FOUND = "no_cement_found"
    # Cement enough for a treated level, but no vertebral body found around it: not
    # "no cement", which a reader would take for an untreated spine.
    NO_BODY_AROUND_CEMENT = "no_body_around_cement"
    BODY_TOUCHES_FOV_EDGE = "body_touches_fov_edge"
    METAL_SUSPECTED = "metal_suspected"


# Each flag in words for a reader (the summary image, the CLI tables).
FLAG_TEXT = {
    Flag.COARSE: "coarse slices (> 1.25 mm): volumes less precise",
    Flag.NO_CEMENT_FOUND: "no cement found",
    Flag.NO_BODY_AROUND_CEMENT: "cement found, but no vertebral body around it",
    Flag.BODY_TOUCHES_FOV_EDGE: "a vertebral body touches the field of view edge",
    Flag.METAL_SUSPECTED: "metal suspected (objects above 3000 HU)",
}


def no_level_reason(flags: Collection[str]) -> str:
    """Why a series has no treated level (``flags`` as Flags or their values): "no
    cement" would tell a reader the spine was untreated when cement was found but no
    body around it."""
    nobody = Flag.NO_BODY_AROUND_CEMENT in flags
    return FLAG_TEXT[Flag.NO_BODY_AROUND_CEMENT if nobody else Flag.NO_CEMENT_FOUND]


class LeakSite(enum.StrEnum):
    """Where extravertebral cement lies relative to its vertebral body."""

    DISC = "disc"
    CANAL = "canal"
    NEEDLE_TRACT = "needle_tract"
    PARAVERTEBRAL = "paravertebral"


@dataclass(frozen=True, slots=True)
class Parameters:
    """Thresholds of the measurement; defaults are the spec's."""

    cement_hu_min: float = 1000.0
    bone_hu_min: float = 226.0
    vf_cutoff_pct: float = 28.58
    zone_fill_fraction: float = 0.5
    min_cement_ml: float = 0.1
    leak_min_ml: float = 0.05
    leak_search_mm: float = 20.0
    metal_hu_min: float = 3000.0
    coarse_slice_mm: float = 1.25

    def __post_init__(self) -> None:
        if not 0.0 < self.zone_fill_fraction <= 1.0:
            raise ValueError(
                f'"zone_fill_fraction" must be within (0, 1]. Found {self.zone_fill_fraction}.'
            )
        if self.cement_hu_min <= self.bone_hu_min:
            raise ValueError(
                '"cement_hu_min" must be above "bone_hu_min". '
                f"Found {self.cement_hu_min} <= {self.bone_hu_min}."
            )
        for name in ("min_cement_ml", "leak_min_ml", "leak_search_mm", "vf_cutoff_pct"):
            if getattr(self, name) < 0:
                raise ValueError(f'"{name}" must be >= 0. Found {getattr(self, name)}.')

    def to_json(self) -> dict[str, float]:
        """The six thresholds the result record lists under ``parameters``."""
        keys = ("cement_hu_min", "bone_hu_min", "vf_cutoff_pct", "zone_fill_fraction",
                "min_cement_ml", "leak_min_ml")
        return {k: getattr(self, k) for k in keys}


@dataclass(frozen=True, slots=True)
class Extravertebral:
    """Extravertebral cement near one body, by location, in ml."""

    disc: float = 0.0
    canal: float = 0.0
    needle_tract: float = 0.0
    paravertebral: float = 0.0

    def __post_init__(self) -> None:
        for site in LeakSite:
            value = getattr(self, site.value)
            if value < 0:
                raise ValueError(f'"{site.value}" must be >= 0 ml. Found {value}.')

    @property
    def total(self) -> float:
        return self.disc + self.canal + self.needle_tract + self.paravertebral

    def outside_needle_tract(self) -> float:
        return self.total - self.needle_tract

    def to_json(self) -> dict[str, float]:
        out = {site.value: round(getattr(self, site.value), 4) for site in LeakSite}
        out["total"] = round(self.total, 4)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Extravertebral:
        return cls(**{site.value: float(data.get(site.value, 0.0)) for site in LeakSite})


@dataclass(frozen=True, slots=True)
class Score:
    """Distribution score: coronal 0-3 + sagittal 0-3 + axial 0-4 = total 0-10."""

    coronal: int
    sagittal: int
    axial: int

    def __post_init__(self) -> None:
        for name, top in (("coronal", 3), ("sagittal", 3), ("axial", 4)):
            value = getattr(self, name)
            if not 0 <= value <= top:
                raise ValueError(f'"{name}" score must be within 0..{top}. Found {value}.')

    @property
    def total(self) -> int:
        return self.coronal + self.sagittal + self.axial

    def to_json(self) -> dict[str, int]:
        return {"coronal": self.coronal, "sagittal": self.sagittal, "axial": self.axial,
                "total": self.total}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Score:
        return cls(int(data["coronal"]), int(data["sagittal"]), int(data["axial"]))


@dataclass(frozen=True, slots=True)
class LevelResult:
    """Measurements of one treated vertebra.

    Attributes
    ----------
    level : str | None
        Anatomical level such as ``"L1"``, None when it cannot be named.
    centroid_mm : tuple of float
        Vertebral body centroid, patient LPS, mm.
    vbv_ml, cdv_ml : float
        Vertebral body volume and cement inside it, ml.
    vf_pct : float
        ``100 * cdv_ml / vbv_ml``.
    """

    level: str | None
    centroid_mm: tuple[float, float, float]
    vbv_ml: float
    cdv_ml: float
    vf_pct: float
    extensive_expected: bool
    extravertebral_ml: Extravertebral
    leakage: bool
    score: Score

    def __post_init__(self) -> None:
        if self.vbv_ml <= 0:
            raise ValueError(f'"vbv_ml" must be > 0. Found {self.vbv_ml}.')
        if not 0.0 <= self.vf_pct <= 100.0:
            raise ValueError(f'"vf_pct" must be within 0..100. Found {self.vf_pct}.')
        if self.cdv_ml < 0:
            raise ValueError(f'"cdv_ml" must be >= 0. Found {self.cdv_ml}.')

    @property
    def group(self) -> Group:
        return Group.from_total(self.score.total)

    def to_json(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "centroid_mm": [round(float(c), 2) for c in self.centroid_mm],
            "vbv_ml": round(self.vbv_ml, 3),
            "cdv_ml": round(self.cdv_ml, 3),
            "vf_pct": round(self.vf_pct, 2),
            "extensive_expected": self.extensive_expected,
            "extravertebral_ml": self.extravertebral_ml.to_json(),
            "leakage": self.leakage,
            "score": self.score.to_json(),
            "group": self.group.value,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LevelResult:
        x, y, z = (float(c) for c in data["centroid_mm"])
        result = cls(
            level=data.get("level"),
            centroid_mm=(x, y, z),
            vbv_ml=float(data["vbv_ml"]),
            cdv_ml=float(data["cdv_ml"]),
            vf_pct=float(data["vf_pct"]),
            extensive_expected=bool(data["extensive_expected"]),
            extravertebral_ml=Extravertebral.from_json(data["extravertebral_ml"]),
            leakage=bool(data["leakage"]),
            score=Score.from_json(data["score"]),
        )
        if "group" in data and Group(data["group"]) is not result.group:
            raise ValueError(
                f'"group" must match the score total {result.score.total}. Found {data["group"]}.'
            )
        return result


@dataclass(frozen=True, slots=True)
class SeriesResult:
    """The result record of one analysed series."""

    study_instance_uid: str
    series_instance_uid: str
    software_version: str
    parameters: Parameters
    flags: tuple[Flag, ...] = ()
    levels: tuple[LevelResult, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {
            "study_instance_uid": self.study_instance_uid,
            "series_instance_uid": self.series_instance_uid,
            "software_version": self.software_version,
            "parameters": self.parameters.to_json(),
            "flags": [f.value for f in self.flags],
            "levels": [lv.to_json() for lv in self.levels],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SeriesResult:
        return cls(
            study_instance_uid=str(data["study_instance_uid"]),
            series_instance_uid=str(data["series_instance_uid"]),
            software_version=str(data["software_version"]),
            parameters=Parameters(**data.get("parameters", {})),
            flags=tuple(Flag(f) for f in data.get("flags", [])),
            levels=tuple(LevelResult.from_json(lv) for lv in data.get("levels", [])),
        )


def params_dict(params: Parameters) -> dict[str, Any]:
    """Every threshold, including those the record does not list (for provenance)."""
    return asdict(params)


@dataclass(frozen=True, slots=True, eq=False)
class Analysis:
    """A series result together with the masks it was measured on (for SEG/SR/key images).

    Attributes
    ----------
    result : SeriesResult
        The result record.
    affine : (4, 4) float
        Maps (slice, row, column, 1) array indices to patient LPS, mm.
    slice_sop_instance_uids : tuple of str
        SOP Instance UID of the CT image at each index along axis 0 of the masks.
    body_labels : (slices, rows, columns) int16
        ``i`` marks the vertebral body of ``result.levels[i - 1]``; 0 elsewhere.
    cement : (slices, rows, columns) bool
        All cement found (inside bodies and outside).
    extravertebral_labels : (slices, rows, columns) int16
        ``i`` marks extravertebral cement attributed to ``result.levels[i - 1]``.
    leak_sites : (slices, rows, columns) uint8
        Location of extravertebral cement: 0 none, then ``LEAK_SITE_CODES``.
    """

    result: SeriesResult
    affine: Any
    slice_sop_instance_uids: tuple[str, ...]
    body_labels: Any
    cement: Any
    extravertebral_labels: Any
    leak_sites: Any


# Integer codes of LeakSite in label volumes (truth_masks.npz, Analysis.leak_sites).
LEAK_SITE_CODES: dict[LeakSite, int] = {
    LeakSite.DISC: 1,
    LeakSite.CANAL: 2,
    LeakSite.NEEDLE_TRACT: 3,
    LeakSite.PARAVERTEBRAL: 4,
}
