"""The patient, study and series attributes the registry reads from one CT header."""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from typing import Any

from pydicom import Dataset

logger = logging.getLogger(__name__)

_AGE = re.compile(r"^(\d{3})([DWMY])$")
_DAYS_PER_UNIT = {"D": 1.0, "W": 7.0, "M": 365.25 / 12.0, "Y": 365.25}


@dataclass(frozen=True, slots=True)
class HeaderInfo:
    """What the registry keeps of a series header (all optional but the UIDs)."""

    patient_id: str
    issuer: str
    patient_name: str
    sex: str | None
    birth_date: dt.date | None
    age_years: float | None
    weight_kg: float | None
    size_m: float | None
    study_instance_uid: str
    accession_number: str
    study_date: dt.date | None
    study_description: str
    series_instance_uid: str
    series_number: int | None
    series_description: str
    modality: str


def read_header(ds: Dataset) -> HeaderInfo:
    """Read the registry's attributes from one dataset of the series.

    Raises
    ------
    ValueError
        When StudyInstanceUID or SeriesInstanceUID is missing.
    """
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID"):
        if not _text(ds, keyword):
            raise ValueError(f"The CT header must have a {keyword}. Found none.")
    study_date = parse_da(_text(ds, "StudyDate"))
    birth_date = parse_da(_text(ds, "PatientBirthDate"))
    return HeaderInfo(
        patient_id=_text(ds, "PatientID"),
        issuer=_text(ds, "IssuerOfPatientID"),
        patient_name=_text(ds, "PatientName"),
        sex=_text(ds, "PatientSex").upper() or None,
        birth_date=birth_date,
        age_years=age_years(_text(ds, "PatientAge"), birth_date, study_date),
        weight_kg=_positive(ds, "PatientWeight"),
        size_m=_size_m(ds),
        study_instance_uid=_text(ds, "StudyInstanceUID"),
        accession_number=_text(ds, "AccessionNumber"),
        study_date=study_date,
        study_description=_text(ds, "StudyDescription")[:64],
        series_instance_uid=_text(ds, "SeriesInstanceUID"),
        series_number=_int(ds, "SeriesNumber"),
        series_description=_text(ds, "SeriesDescription")[:64],
        modality=_text(ds, "Modality"),
    )


def parse_da(text: str) -> dt.date | None:
    """DICOM DA (``YYYYMMDD``) to a date; None when empty or not a valid date."""
    text = text.strip()
    if not text:
        return None
    try:
        return dt.datetime.strptime(text[:8], "%Y%m%d").date()
    except ValueError:
        logger.warning("ignored an invalid DICOM date value=%r", text)
        return None


def age_years(age: str, birth: dt.date | None, on: dt.date | None) -> float | None:
    """Age in years from PatientAge (``071Y``), else from birth date and study date."""
    match = _AGE.match(age.strip())
    if match:
        return round(int(match.group(1)) * _DAYS_PER_UNIT[match.group(2)] / 365.25, 2)
    if birth is not None and on is not None and on >= birth:
        years = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
        return float(years)
    return None


def _text(ds: Dataset, keyword: str) -> str:
    value: Any = ds.get(keyword, "")
    return "" if value is None else str(value).strip()


def _positive(ds: Dataset, keyword: str) -> float | None:
    value: Any = ds.get(keyword)
    try:
        number = float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None
    return number if number is not None and number > 0 else None


def _size_m(ds: Dataset) -> float | None:
    size = _positive(ds, "PatientSize")
    if size is not None and size > 3.0:
        # PatientSize is metres by the standard; some systems write centimetres.
        logger.warning("PatientSize %.1f read as centimetres", size)
        return size / 100.0
    return size


def _int(ds: Dataset, keyword: str) -> int | None:
    value: Any = ds.get(keyword)
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None
