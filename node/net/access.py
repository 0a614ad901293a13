"""Who may associate: an allow-list of calling AE titles, optionally pinned to addresses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    """The calling AE titles the node accepts, and the addresses some of them must use.

    Attributes
    ----------
    allowed_aes : frozenset of str
        Empty: every calling AE title is accepted (unless pinned elsewhere).
    pinned : dict
        AE title -> the only host address it is accepted from.
    """

    allowed_aes: frozenset[str] = frozenset()
    pinned: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, allowed_aes: Sequence[str],
                      allowed_hosts: Sequence[str]) -> AccessPolicy:
        pinned: dict[str, str] = {}
        for pair in allowed_hosts:
            ae, eq, host = pair.partition("=")
            if not (eq and ae.strip() and host.strip()):
                raise ValueError(
                    f'"net.allowed_hosts" items must look like "AE=host". Found "{pair}".')
            pinned[ae.strip()] = host.strip()
        return cls(allowed_aes=frozenset(a.strip() for a in allowed_aes), pinned=pinned)

    def refusal(self, calling_ae: str, address: str) -> str | None:
        """Why ``calling_ae`` at ``address`` is refused, or None when it is accepted."""
        ae = calling_ae.strip()
        if self.allowed_aes and ae not in self.allowed_aes:
            return f'calling AE "{ae}" is not in net.allowed_calling_aes'
        host = self.pinned.get(ae)
        if host is not None and host != address:
            return f'calling AE "{ae}" is accepted only from {host}, not from {address}'
        return None
