"""Export cases as CSV or Parquet, optionally de-identified."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from node.errors import VfnodeError
from node.registry.cases import CaseRow
from node.registry.deidentify import Deidentifier

FORMATS = ("csv", "parquet")


def export_records(rows: Iterable[CaseRow], deidentifier: Deidentifier | None = None,
                   step: Callable[[], None] | None = None) -> list[dict[str, Any]]:
    """One dictionary per case; pseudonymised when a de-identifier is given."""
    records = []
    for row in rows:
        record = row.to_dict()
        records.append(deidentifier.row(record) if deidentifier else record)
        if step is not None:
            step()
    return records


def write_records(records: list[dict[str, Any]], path: Path, fmt: str) -> Path:
    """Write the records as ``fmt`` (csv or parquet) to ``path``."""
    if fmt not in FORMATS:
        raise ValueError(f'The export format must be one of {FORMATS}. Found "{fmt}".')
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        return _write_csv(records, path)
    return _write_parquet(records, path)


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


def _write_csv(records: list[dict[str, Any]], path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        if not records:
            return path
        writer = csv.DictWriter(handle, fieldnames=list(records[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: _cell(v) for k, v in r.items()} for r in records)
    return path


def _write_parquet(records: list[dict[str, Any]], path: Path) -> Path:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise VfnodeError("Parquet export needs pyarrow: install vfnode[parquet]. "
                          f"Found: {exc}.") from exc
    pq.write_table(pa.Table.from_pylist(records), path)
    return path
