"""De-identified exports: keyed hashes of identifiers, dates shifted per patient.

Identifiers become HMAC-SHA256 digests keyed with the site secret
(``registry.site_secret``), so the same patient gets the same pseudonym in every export of
the site but nobody without the secret can recompute it. UIDs become ``2.25.<decimal>``
UIDs derived the same way. Every date of a patient is shifted by the same number of days
(-365…+365, never 0, derived from the patient's keyed hash), which keeps intervals. Names
are dropped; ages above 89 are reported as 90.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Any

from node.errors import ConfigError

DROPPED = ("patient_name", "birth_date", "series_description")
HASHED = ("patient_id", "accession_number")
UIDS = ("study_instance_uid", "series_instance_uid")
DATES = ("study_date",)
DATETIMES = ("created_at",)
MIN_SECRET = 16


class Deidentifier:
    """Pseudonymise case dictionaries with a site secret."""

    def __init__(self, secret: str) -> None:
        if len(secret) < MIN_SECRET:
            raise ConfigError(
                f'"registry.site_secret" must hold at least {MIN_SECRET} characters for a '
                f"de-identified export. Found {len(secret)}.")
        self._key = secret.encode()

    def digest(self, kind: str, value: str) -> str:
        return hmac.new(self._key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()

    def pseudonym(self, kind: str, value: str) -> str:
        return "" if not value else self.digest(kind, value)[:20]

    def uid(self, value: str) -> str:
        return "" if not value else "2.25." + str(int(self.digest("uid", value)[:30], 16))

    def shift_days(self, patient_id: str) -> int:
        offset = int(self.digest("date-shift", patient_id)[:8], 16) % 730  # 0..729
        return offset - 365 if offset < 365 else offset - 364            # -365..-1, 1..365

    def row(self, row: dict[str, Any]) -> dict[str, Any]:
        """A de-identified copy of one case dictionary (``CaseRow.to_dict()``)."""
        out = {k: v for k, v in row.items() if k not in DROPPED}
        shift = dt.timedelta(days=self.shift_days(str(row.get("patient_id", ""))))
        for name in HASHED:
            out[name] = self.pseudonym(name, str(row.get(name) or ""))
        for name in UIDS:
            out[name] = self.uid(str(row.get(name) or ""))
        for name in DATES + DATETIMES:
            if row.get(name) is not None:
                out[name] = row[name] + shift
        if out.get("age_years") is not None and out["age_years"] > 89:
            out["age_years"] = 90.0
        return out
