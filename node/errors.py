"""Errors of vfnode; each message says what must hold and what was found."""


class VfnodeError(Exception):
    """Base class of every error vfnode raises on purpose."""


class ConfigError(VfnodeError, ValueError):
    """A configuration value is missing or out of range."""


class UnusableSeriesError(VfnodeError, ValueError):
    """A series cannot be analysed (missing slices, mixed geometry, not axial CT, ...)."""
