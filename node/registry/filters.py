"""``--where`` conditions on cases: ``KEY OP VALUE``, e.g. ``date>=2020-01-01``, ``level=L1``.

Keys: date (study date), level, segment, sex, age, bmi, bmd, score, group, vf, leakage,
approach, patient, accession, software. Operators: = != < <= > >=. Conditions are AND-ed.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from node.registry.cases import CaseRow
from node.registry.clinical import parse_date

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq, "!=": operator.ne, "<=": operator.le, ">=": operator.ge,
    "<": operator.lt, ">": operator.gt,
}
_SPLIT = re.compile(r"^\s*([a-z_]+)\s*(!=|<=|>=|=|<|>)\s*(.+?)\s*$")


def _bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in {"yes", "true", "1", "y"}:
        return True
    if lowered in {"no", "false", "0", "n"}:
        return False
    raise ValueError(f'must be yes or no. Found "{text}"')


def _upper(text: str) -> str:
    return text.upper()


def _segment(text: str) -> str:
    return text.upper().replace("-", "–")


# key -> (value of a case, parser of the literal)
KEYS: dict[str, tuple[Callable[[CaseRow], Any], Callable[[str], Any]]] = {
    "date": (lambda r: r.study_date, parse_date),
    "level": (lambda r: r.level, _upper),
    "segment": (lambda r: r.segment, _segment),
    "sex": (lambda r: r.sex, _upper),
    "age": (lambda r: r.age_years, float),
    "bmi": (lambda r: r.bmi, float),
    "bmd": (lambda r: r.bmd_t_score, float),
    "score": (lambda r: r.score_total, int),
    "group": (lambda r: r.group, _upper),
    "vf": (lambda r: r.vf_pct, float),
    "leakage": (lambda r: r.leakage, _bool),
    "approach": (lambda r: r.approach, lambda t: {"uni": "unipedicular",
                                                  "bi": "bipedicular"}.get(t.lower(), t)),
    "patient": (lambda r: r.patient_id, str),
    "accession": (lambda r: r.accession_number, str),
    "software": (lambda r: r.software_version, str),
}


@dataclass(frozen=True, slots=True)
class Condition:
    key: str
    op: str
    value: Any
    text: str

    def __call__(self, row: CaseRow) -> bool:
        actual = KEYS[self.key][0](row)
        if actual is None:
            return False  # unknown values never match
        return bool(_OPS[self.op](actual, self.value))


def parse_condition(text: str) -> Condition:
    """Parse one ``KEY OP VALUE``; ValueError says what must hold."""
    match = _SPLIT.match(text)
    if not match or match.group(1) not in KEYS:
        raise ValueError(f'A condition must look like KEY OP VALUE with KEY among '
                         f'{sorted(KEYS)} and OP among {list(_OPS)}. Found "{text}".')
    key, op, literal = match.groups()
    try:
        value = KEYS[key][1](literal)
    except ValueError as exc:
        raise ValueError(f'The value of "{key}" in "{text}" {exc}.') from None
    return Condition(key, op, value, text)


def apply(rows: Iterable[CaseRow], conditions: Iterable[Condition]) -> list[CaseRow]:
    conds = list(conditions)
    return [r for r in rows if all(c(r) for c in conds)]


def date_condition(op: str, day: dt.date) -> Condition:
    return Condition("date", op, day, f"date{op}{day.isoformat()}")
