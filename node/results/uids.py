"""UIDs derived from what a result object says, so that re-sending it keeps its UIDs.

* Series UIDs depend only on the analysed CT series and the object kind: every version
  of the report of one CT series lands in the same result series.
* Instance UIDs depend on the content digest (the result record, the options, the
  device and the predecessor): the same result gives the same instance, a changed
  result a new instance that supersedes the old one.
* Tracking UIDs depend on the CT series and the vertebra (its level, else its rank),
  so one vertebra keeps its tracking UID across re-analyses.

All are ``2.25.`` UIDs of name-based (SHA-1, version 5) UUIDs of their sources.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from node.analysis.types import SeriesResult


class Kind(StrEnum):
    """The result objects of one analysed series."""

    SR = "sr"
    SEG = "seg"
    SUMMARY = "summary"


# Namespace of vfnode's name-based UUIDs (RFC 4122 version 5).
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/vfnode/vfnode/results")


def derive_uid(*parts: str) -> str:
    """A ``2.25.`` UID (ISO/IEC 9834-8: a UUID as integer) that depends only on ``parts``."""
    name = "\x1f".join(parts)
    return f"2.25.{uuid.uuid5(NAMESPACE, name).int}"


def content_digest(result: SeriesResult, *, slice_uids: Sequence[str],
                   options: dict[str, Any], predecessor_uid: str | None) -> str:
    """SHA-256 (hex) of everything a result object's content depends on.

    Parameters
    ----------
    result : SeriesResult
        The result record (includes software version and thresholds).
    slice_uids : sequence of str
        SOP Instance UIDs of the CT slices, axis-0 order of the masks.
    options : dict
        Build options and device identity (must be JSON-serialisable).
    predecessor_uid : str | None
        SOP Instance UID of the SR this one supersedes.
    """
    payload = {
        "result": result.to_json(),
        "slices": list(slice_uids),
        "options": options,
        "predecessor": predecessor_uid,
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=_plain)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _plain(value: Any) -> Any:
    """numpy scalars (the analysis may hand them over) as Python numbers."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"A result digest needs JSON values. Found {type(value).__name__}.")


@dataclass(frozen=True, slots=True)
class ResultUIDs:
    """Series and instance UIDs of the result objects of one analysed series."""

    source_series_uid: str
    digest: str

    def series(self, kind: Kind) -> str:
        return derive_uid(self.source_series_uid, "series", kind.value)

    def instance(self, kind: Kind) -> str:
        return derive_uid(self.source_series_uid, "instance", kind.value, self.digest)

    def tracking(self, vertebra_key: str, role: str) -> str:
        """Tracking UID of one finding (``role``: body, cement-1, extravertebral, ...)."""
        return derive_uid(self.source_series_uid, "tracking", vertebra_key, role)


def vertebra_key(level: str | None, index: int) -> str:
    """What identifies a vertebra across re-analyses: its level, else its rank (1-based)."""
    return level if level else f"#{index}"
