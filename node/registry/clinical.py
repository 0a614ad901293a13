"""Parsing and validating the clinical CSV, before anything touches the database.

The file's header names its columns (case-insensitive, any order). Each row names its
study by ``accession_number``, or by ``patient_id`` and ``study_date`` together. The value
columns are optional; a column absent from the file leaves the stored value unchanged, an
empty cell stores "unknown".

| column | meaning | accepted |
| --- | --- | --- |
| accession_number | study key | text |
| patient_id, study_date | study key (both) | text; YYYY-MM-DD or YYYYMMDD |
| bmd_t_score | BMD T-score | -8 … 4 |
| fracture_level | treated level | C1-C7, T1-T12, L1-L5, S1 |
| operation_minutes | operation time, min | > 0 … 600 |
| bmi | body mass index, kg/m² | 10 … 80 (derived from DICOM weight/size when absent) |
| cement_leakage | leakage observed clinically | yes/no, true/false, 1/0, y/n |
| approach | puncture approach | uni/unipedicular/unilateral, bi/bipedicular/bilateral |
| cement_injected_ml | cement volume injected, ml | 0 … 30 |
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from node.errors import VfnodeError

KEY_COLUMNS = ("accession_number", "patient_id", "study_date")
VALUE_COLUMNS = ("bmd_t_score", "fracture_level", "operation_minutes", "bmi",
                 "cement_leakage", "approach", "cement_injected_ml")
# CSV column -> ClinicalData attribute
ATTRIBUTE = {"cement_leakage": "leakage_observed"}
LEVEL = re.compile(r"^(C[1-7]|T(?:[1-9]|1[0-2])|L[1-5]|S1)$")
_TRUE = {"yes", "y", "true", "1"}
_FALSE = {"no", "n", "false", "0"}
_APPROACH = {"uni": "unipedicular", "unipedicular": "unipedicular",
             "unilateral": "unipedicular", "bi": "bipedicular",
             "bipedicular": "bipedicular", "bilateral": "bipedicular"}


class ClinicalImportError(VfnodeError, ValueError):
    """The clinical file was refused; ``errors`` lists every bad row with its line."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        lines = "\n".join(f"  line {e.line}: {e.reason}" for e in errors)
        super().__init__(
            f"The clinical file must be valid in every row; nothing was imported. "
            f"Found {len(errors)} error(s):\n{lines}"
        )


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class ClinicalRow:
    """One validated data row; ``values`` maps ClinicalData attributes to parsed values."""

    line: int
    accession_number: str
    patient_id: str
    study_date: dt.date | None
    values: dict[str, Any] = field(default_factory=dict)

    def key_text(self) -> str:
        if self.accession_number:
            return f'accession number "{self.accession_number}"'
        return f'patient ID "{self.patient_id}" and study date {self.study_date}'


def parse_clinical_csv(text: str) -> tuple[list[ClinicalRow], list[RowError]]:
    """Parse and check every row; return the good rows and every error found.

    Line numbers are those of the file (the header is line 1).
    """
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        return [], [RowError(1, "the file must have a header row. Found an empty file.")]
    errors = _check_header(header)
    if errors:
        return [], errors
    rows: list[ClinicalRow] = []
    start = reader.line_num + 1
    for cells in reader:
        line, start = start, reader.line_num + 1
        if not any(cell.strip() for cell in cells):
            continue
        row, problems = _parse_row(header, cells, line)
        errors.extend(RowError(line, p) for p in problems)
        if row is not None:
            rows.append(row)
    errors.extend(_duplicates(rows))
    if not rows and not errors:
        errors.append(RowError(2, "the file must have at least one data row. Found none."))
    return rows, errors


def _check_header(header: list[str]) -> list[RowError]:
    known = set(KEY_COLUMNS) | set(VALUE_COLUMNS)
    errors = [RowError(1, f'column "{n}" must be one of {sorted(known)}. Found "{n}".')
              for n in header if n not in known]
    repeated = sorted({n for n in header if header.count(n) > 1})
    if repeated:
        errors.append(RowError(1, f"each column must appear once. Found {repeated} twice."))
    if "accession_number" not in header and not {"patient_id", "study_date"} <= set(header):
        errors.append(RowError(1, 'the header must have "accession_number", or "patient_id" '
                                  f'and "study_date". Found {header}.'))
    return errors


def _parse_row(header: list[str], cells: list[str],
               line: int) -> tuple[ClinicalRow | None, list[str]]:
    if len(cells) != len(header):
        return None, [f"a row must have {len(header)} cells like the header. "
                      f"Found {len(cells)}."]
    raw = {name: cell.strip() for name, cell in zip(header, cells, strict=True)}
    problems: list[str] = []
    values: dict[str, Any] = {}
    for name in VALUE_COLUMNS:
        if name not in raw:
            continue
        try:
            values[ATTRIBUTE.get(name, name)] = PARSERS[name](raw[name]) if raw[name] else None
        except ValueError as exc:
            problems.append(f'"{name}" {exc}')
    study_date = None
    if raw.get("study_date"):
        try:
            study_date = parse_date(raw["study_date"])
        except ValueError as exc:
            problems.append(f'"study_date" {exc}')
    accession, patient = raw.get("accession_number", ""), raw.get("patient_id", "")
    if not accession and not (patient and raw.get("study_date")):
        problems.append('a row must name its study by "accession_number", or by '
                        '"patient_id" and "study_date". Found neither.')
    if problems:
        return None, problems
    return ClinicalRow(line, accession, patient, study_date, values), []


def _duplicates(rows: list[ClinicalRow]) -> list[RowError]:
    seen: dict[str, int] = {}
    errors = []
    for row in rows:
        key = row.key_text()
        if key in seen:
            errors.append(RowError(row.line, f"each study must appear once. Found {key} "
                                             f"again (first on line {seen[key]})."))
        else:
            seen[key] = row.line
    return errors


def parse_date(text: str) -> dt.date:
    for fmt in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f'must be a date as YYYY-MM-DD or YYYYMMDD. Found "{text}".')


def _number(low: float, high: float, *, open_low: bool = False) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f'must be a number. Found "{text}".') from None
        below = value <= low if open_low else value < low
        if below or value > high or value != value:
            bracket = "(" if open_low else "["
            raise ValueError(f"must be within {bracket}{low:g}, {high:g}]. Found {text}.")
        return value
    return parse


def _level(text: str) -> str:
    level = text.upper()
    if not LEVEL.match(level):
        raise ValueError(f'must be a vertebral level such as T12 or L1. Found "{text}".')
    return level


def _yes_no(text: str) -> bool:
    lowered = text.lower()
    if lowered in _TRUE or lowered in _FALSE:
        return lowered in _TRUE
    raise ValueError(f'must be yes or no (true/false, 1/0). Found "{text}".')


def _approach(text: str) -> str:
    try:
        return _APPROACH[text.lower()]
    except KeyError:
        raise ValueError(f'must be "uni" or "bi" (unipedicular/bipedicular). '
                         f'Found "{text}".') from None


PARSERS: dict[str, Callable[[str], Any]] = {
    "bmd_t_score": _number(-8.0, 4.0),
    "fracture_level": _level,
    "operation_minutes": _number(0.0, 600.0, open_low=True),
    "bmi": _number(10.0, 80.0),
    "cement_leakage": _yes_no,
    "approach": _approach,
    "cement_injected_ml": _number(0.0, 30.0),
}
