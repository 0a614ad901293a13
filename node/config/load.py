"""Load settings: defaults < TOML file < ``VFNODE_<SECTION>_<KEY>`` environment < overrides."""

from __future__ import annotations

import dataclasses
import functools
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from node.config.settings import Settings, parse_address
from node.errors import ConfigError

ENV_PREFIX = "VFNODE_"
DEFAULT_FILE = Path("config/vfnode.toml")


def load_settings(
    path: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build the validated Settings.

    Parameters
    ----------
    path : Path | None
        A TOML file; None reads ``config/vfnode.toml`` when it exists (or the file named
        by ``VFNODE_CONFIG``).
    environ : Mapping | None
        Environment to read ``VFNODE_*`` from (default ``os.environ``).
    overrides : Mapping | None
        ``{"section.key": value}`` from CLI flags; they win over everything.
    """
    env = os.environ if environ is None else environ
    raw: dict[str, dict[str, Any]] = {}
    if path is None and env.get("VFNODE_CONFIG"):
        path = Path(env["VFNODE_CONFIG"])
    if path is not None and not path.is_file():
        raise ConfigError(f'The configuration file must exist. Found no file at "{path}".')
    source = path if path is not None else (DEFAULT_FILE if DEFAULT_FILE.is_file() else None)
    if source is not None:
        try:
            raw = tomllib.loads(source.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f'"{source}" must be valid TOML: {exc}.') from exc
    _merge_environment(raw, env)
    for dotted, value in (overrides or {}).items():
        section, _, key = dotted.partition(".")
        raw.setdefault(section, {})[key] = value
    return _build(raw, source)


def _sections() -> dict[str, type]:
    hints = typing.get_type_hints(Settings)
    return {f.name: hints[f.name] for f in dataclasses.fields(Settings)}


def _merge_environment(raw: dict[str, dict[str, Any]], env: Mapping[str, str]) -> None:
    sections = _sections()
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name == "VFNODE_CONFIG":
            continue
        section, _, key = name[len(ENV_PREFIX):].lower().partition("_")
        if section in sections and key:
            raw.setdefault(section, {})[key] = value


def _build(raw: dict[str, dict[str, Any]], source: Path | None) -> Settings:
    sections = _sections()
    unknown = set(raw) - set(sections)
    if unknown:
        raise ConfigError(
            f"Configuration sections must be among {sorted(sections)}. Found {sorted(unknown)}"
            + (f' in "{source}".' if source else ".")
        )
    built = {name: _build_section(name, cls, raw.get(name, {})) for name, cls in sections.items()}
    settings = Settings(**built)
    for text in settings.outbox.destinations:
        _check(f"outbox.destinations ({text})", functools.partial(parse_address, text))
    return settings


def _build_section(section: str, cls: type, values: dict[str, Any]) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    for key in values:
        if key not in fields:
            raise ConfigError(
                f'"{section}.{key}" is not a setting. Expected one of {sorted(fields)}.'
            )
    kwargs = {key: _coerce(f"{section}.{key}", hints[key], value) for key, value in values.items()}
    return _check(section, lambda: cls(**kwargs))


def _check(what: str, make: typing.Callable[[], Any]) -> Any:
    try:
        return make()
    except (ValueError, TypeError) as exc:
        raise ConfigError(f'"{what}": {exc}') from exc


def _coerce(key: str, hint: Any, value: Any) -> Any:
    """Turn a TOML or environment value into the field's type, or say what was expected."""
    origin = typing.get_origin(hint)
    if origin is list:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list):
            raise ConfigError(f'"{key}" must be a list. Found "{value}".')
        return [str(item).strip() for item in items if str(item).strip()]
    if isinstance(hint, types.UnionType):
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    try:
        if hint is bool:
            return _to_bool(value)
        if hint is int and not isinstance(value, bool):
            return int(value)
        if hint is float and not isinstance(value, bool):
            return float(value)
        if hint is Path:
            return Path(str(value))
        if hint is str:
            return str(value)
    except ValueError:
        pass
    name = getattr(hint, "__name__", str(hint))
    raise ConfigError(f'"{key}" must be {_article(name)} {name}. Found "{value}".')


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ValueError(value)


def _article(name: str) -> str:
    return "an" if name[:1] in "aeiou" else "a"
