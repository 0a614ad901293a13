"""Configuration: one typed, frozen object, loaded and validated once at start."""

from node.config.load import load_settings
from node.config.settings import Destination, Settings, parse_address

__all__ = ["Destination", "Settings", "load_settings", "parse_address"]
