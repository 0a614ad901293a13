"""vfnode: measures bone cement volume fraction after vertebroplasty, as a DICOM node."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vfnode")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
