"""Fixtures: a real vfnode receiver on a free loopback port, and a seeded CT series."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from node.config.settings import Destination, NetSettings
from node.net import scp
from node.storage.spool import Spool
from tests.net.dicomgen import LOOPBACK, WrittenSeries, free_port, write_series


@pytest.fixture(scope="session")
def series(tmp_path_factory: pytest.TempPathFactory) -> WrittenSeries:
    return write_series(tmp_path_factory.mktemp("ct"), slices=12, seed=11)


class Receiver:
    def __init__(self, spool: Spool, net: NetSettings, server: object) -> None:
        self.spool = spool
        self.net = net
        self.server = server

    @property
    def address(self) -> Destination:
        return Destination(self.net.ae_title, LOOPBACK, self.net.port)


def start(data_dir: Path, *, min_free_mb: int = 0, **net_fields: object) -> Receiver:
    """A receiver on a free loopback port, serving in background threads."""
    net = NetSettings(port=free_port(), bind_address=LOOPBACK, dimse_timeout_s=5.0,
                      **net_fields)  # type: ignore[arg-type]
    spool = Spool(data_dir, min_free_mb=min_free_mb)
    sock = scp.listening_socket(net)
    return Receiver(spool, net, scp.start_receiver(net, spool, sock))


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    node = start(tmp_path / "var", allowed_calling_aes=["SENDER"])
    yield node
    node.server.shutdown()  # type: ignore[attr-defined]
    node.spool.close()
