"""DICOM TLS: with certificate, key and CA configured, only TLS clients with a CA-signed
certificate can associate."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from node.config.settings import NetSettings
from node.net import status
from node.net.scu import AssociationError, echo
from node.net.tls import client_context
from tests.net.conftest import start


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("pki")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test CA",
            "-keyout", "ca.key", "-out", "ca.pem", cwd=folder)
    for name in ("node", "client"):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout",
                f"{name}.key", "-out", f"{name}.csr", cwd=folder)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-out", f"{name}.pem", cwd=folder)
    return folder


def test_tls_only(tmp_path: Path, pki: Path) -> None:
    node = start(tmp_path / "var", tls_certificate=str(pki / "node.pem"),
                 tls_private_key=str(pki / "node.key"), tls_ca_certificate=str(pki / "ca.pem"))
    client = NetSettings(tls_certificate=str(pki / "client.pem"),
                         tls_private_key=str(pki / "client.key"),
                         tls_ca_certificate=str(pki / "ca.pem"))
    try:
        assert echo(node.address, calling_ae="ANY",
                    ssl_context=client_context(client)) == status.SUCCESS
        with pytest.raises(AssociationError, match="could not be reached"):
            echo(node.address, calling_ae="ANY")  # plain TCP is refused
    finally:
        node.server.shutdown()  # type: ignore[attr-defined]
