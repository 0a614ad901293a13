"""What the analysis computes with, checked before it runs.

The spool stores an instance as it was sent once its UIDs and pixel data length hold
(``storage.header``), so a stored series can still carry nonsense in the values the
analysis turns into numbers, or pixel data that does not decode. Such a series is an
outcome ("not analysable: <why>") rather than a failed job: the reason names the
attribute and the instance, and the other series of the study are still analysed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydicom import Dataset
from pydicom.multival import MultiValue
from pydicom.valuerep import DA, TM

# Header values the analysis turns into numbers, and how many each must hold.
NUMERIC_VALUES: dict[str, int] = {
    "PixelSpacing": 2, "ImagePositionPatient": 3, "ImageOrientationPatient": 6,
    "SliceThickness": 1, "RescaleSlope": 1, "RescaleIntercept": 1,
}
# Geometry that must be in every instance of a series, all three, or not at all (the
# analysis judges a series without it; with part of it, slices cannot be put in order).
ALL_OR_NONE = ("PixelSpacing", "ImagePositionPatient", "ImageOrientationPatient")
# Patient and study attributes highdicom copies from a source instance into the SR and
# SEG: Type 2 in a CT image (present, perhaps empty), and dates and times must parse.
COPIED_TO_RESULTS = ("PatientID", "PatientName", "PatientBirthDate", "PatientSex",
                     "AccessionNumber", "StudyID", "StudyDate", "StudyTime")
_PARSERS = {"DA": DA, "TM": TM}


def _numbers_problem(ds: Dataset, keyword: str, count: int) -> str | None:
    try:
        value = ds[keyword].value
        values = list(value) if isinstance(value, MultiValue | list | tuple) else [value]
        ok = len(values) == count and all(math.isfinite(float(v)) for v in values)
    except (TypeError, ValueError, OverflowError):
        ok = False
    if ok:
        return None
    try:
        found = ds[keyword].repval
    except Exception:  # a raw value pydicom cannot even show
        found = "an unreadable value"
    return (f'"{keyword}" of instance {ds.get("SOPInstanceUID", "?")} must hold {count} '
            f"finite number{'s' if count > 1 else ''}. Found {found}.")


def _copied_problem(ds: Dataset, keyword: str) -> str | None:
    uid = ds.get("SOPInstanceUID", "?")
    if keyword not in ds:
        return (f'"{keyword}" of instance {uid} must be present (Type 2; the results copy '
                "it). Found none.")
    try:
        elem = ds[keyword]
        parser = _PARSERS.get(str(elem.VR))
        if parser is not None and elem.value not in (None, ""):
            parser(str(elem.value))
        return None
    except (TypeError, ValueError, OverflowError) as exc:
        return f'"{keyword}" of instance {uid} must be a valid value. Found: {exc}'


def header_problem(datasets: Sequence[Dataset]) -> str | None:
    """Why the headers of one series cannot be measured on, or None.

    Parameters
    ----------
    datasets : the instances of one series (headers suffice).
    """
    having = {keyword: sum(1 for ds in datasets if keyword in ds) for keyword in ALL_OR_NONE}
    if set(having.values()) - {0} and set(having.values()) != {len(datasets)}:
        found = ", ".join(f"{keyword} in {n}" for keyword, n in having.items())
        return (f"{', '.join(ALL_OR_NONE)} must be in every instance of the series or in "
                f"none. Found {found} of {len(datasets)}.")
    for ds in datasets:
        for keyword, count in NUMERIC_VALUES.items():
            problem = _numbers_problem(ds, keyword, count) if keyword in ds else None
            if problem is not None:
                return problem
        for keyword in COPIED_TO_RESULTS:
            problem = _copied_problem(ds, keyword)
            if problem is not None:
                return problem
    return None


def series_problems(headers: Sequence[Dataset]) -> dict[str, str]:
    """Series Instance UID -> why its headers cannot be measured on, for a study."""
    by_series: dict[str, list[Dataset]] = {}
    for ds in headers:
        by_series.setdefault(str(ds.get("SeriesInstanceUID", "")), []).append(ds)
    found = {uid: header_problem(items) for uid, items in by_series.items()}
    return {uid: why for uid, why in found.items() if why is not None}


def pixel_problem(datasets: Sequence[Dataset]) -> str | None:
    """Why the pixel data of an instance does not decode, or None.

    Decoding here costs nothing extra: pydicom keeps the array on the dataset
    (``Dataset.pixel_array`` is cached), and the analysis reads that same array.
    """
    for ds in datasets:
        try:
            ds.pixel_array  # noqa: B018 - decoded for the check, cached for the analysis
        except Exception as exc:  # any decoding failure is a property of the data sent
            return (f"the pixel data of instance {ds.get('SOPInstanceUID', '?')} must "
                    f"decode. Found {type(exc).__name__}: {str(exc)[:300]}")
    return None
