from __future__ import annotations

from pathlib import Path

import pytest

from node.config import load_settings, parse_address
from node.errors import ConfigError

REPO_CONFIG = Path(__file__).resolve().parents[3] / "config" / "vfnode.toml"


@pytest.fixture
def empty(tmp_path: Path) -> Path:
    path = tmp_path / "empty.toml"
    path.write_text("")
    return path


def test_repo_config_equals_embedded_defaults(empty: Path) -> None:
    assert load_settings(REPO_CONFIG, environ={}) == load_settings(empty, environ={})


def test_defaults_follow_the_spec() -> None:
    settings = load_settings(REPO_CONFIG, environ={})
    assert settings.net.ae_title == "VFNODE"
    assert settings.net.port == 11112
    assert settings.analysis.cement_hu_min == 1000
    assert settings.analysis.vf_cutoff_pct == 28.58
    assert settings.jobs.stable_seconds == 20


def test_environment_overrides_file(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[net]\nport = 104\n[analysis]\nvf_cutoff_pct = 30.0\n")
    settings = load_settings(cfg, environ={"VFNODE_NET_PORT": "4242",
                                           "VFNODE_NET_AE_TITLE": "NODE2"})
    assert settings.net.port == 4242
    assert settings.net.ae_title == "NODE2"
    assert settings.analysis.vf_cutoff_pct == 30.0


def test_overrides_win_over_environment(empty: Path) -> None:
    settings = load_settings(empty, environ={"VFNODE_LOG_LEVEL": "DEBUG"},
                             overrides={"log.level": "WARNING"})
    assert settings.log.level == "WARNING"


def test_wrong_type_names_key_value_and_expectation(empty: Path) -> None:
    with pytest.raises(ConfigError, match=r'"net.port" must be an int. Found "abc"'):
        load_settings(empty, environ={"VFNODE_NET_PORT": "abc"})


def test_out_of_range_port_refused(empty: Path) -> None:
    with pytest.raises(ConfigError, match=r"port must be an integer in 1..65535. Found 70000"):
        load_settings(empty, environ={"VFNODE_NET_PORT": "70000"})


def test_unknown_key_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[analysis]\ncement_hu = 900\n")
    with pytest.raises(ConfigError, match=r'"analysis.cement_hu" is not a setting'):
        load_settings(cfg, environ={})


def test_inconsistent_thresholds_refused(empty: Path) -> None:
    with pytest.raises(ConfigError, match=r"cement_hu_min.*must be above"):
        load_settings(empty, environ={"VFNODE_ANALYSIS_CEMENT_HU_MIN": "100"})


def test_missing_file_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="must exist"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_bad_destination_refused(empty: Path) -> None:
    with pytest.raises(ConfigError, match=r'must look like "AE@host:port". Found "PACS@x"'):
        load_settings(empty, environ={"VFNODE_OUTBOX_DESTINATIONS": "PACS@x"})


def test_parse_address() -> None:
    dest = parse_address("PACS@127.0.0.1:4242")
    assert (dest.ae_title, dest.host, dest.port) == ("PACS", "127.0.0.1", 4242)


def test_negative_analysis_threads_refused(empty: Path) -> None:
    with pytest.raises(ConfigError, match=r"analysis_threads must be >= 0 .* Found -1"):
        load_settings(empty, environ={"VFNODE_JOBS_ANALYSIS_THREADS": "-1"})
