"""Who may talk to the node: an unknown calling AE and a wrong called AE are refused at
association (with the reason in the log), and a node in TLS-only mode refuses plain TCP
while a client with a certificate from the configured CA gets in."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import pytest
from pynetdicom import AE
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from tests.reliability.nodeproc import NodeProcess

pytestmark = pytest.mark.peer


def _echo(port: int, calling: str, called: str, tls: ssl.SSLContext | None = None) -> bool:
    ae = AE(ae_title=calling)
    ae.add_requested_context(Verification)
    ae.acse_timeout = 10
    ae.network_timeout = 10
    assoc = ae.associate("127.0.0.1", port, ae_title=called,
                         tls_args=(tls, None) if tls is not None else None)
    if not assoc.is_established:
        return False
    status = assoc.send_c_echo()
    assoc.release()
    return bool(status) and int(status.Status) == 0


def test_unknown_calling_and_wrong_called_ae_are_refused(tmp_path: Path) -> None:
    node = NodeProcess(tmp_path, allowed=("ECHOSCU", "GOODAE"))
    node.start()
    try:
        assert _echo(node.port, "GOODAE", "VFNODE")
        assert not _echo(node.port, "STRANGER", "VFNODE")
        assert not _echo(node.port, "GOODAE", "NOTVFNODE")
        assert node.echo()  # still serving after the refusals
    finally:
        node.stop()
    log = node.log()
    refusals = [line.split("node.net.scp: ")[-1] for line in log.splitlines()
                if "association refused" in line]
    assert "association refused calling_ae=STRANGER" in log
    assert 'called AE "NOTVFNODE" is not this node' in log
    print("access: GOODAE->VFNODE accepted; refused: " + "; ".join(refusals))


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def make_pki(folder: Path) -> dict[str, Path]:
    """A CA and two certificates it signed (node and client), as PEM files."""
    folder.mkdir(parents=True, exist_ok=True)
    pem = {name: folder / f"{name}.pem" for name in
           ("ca", "ca-key", "node", "node-key", "client", "client-key")}
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=vfnode test CA", "-keyout", str(pem["ca-key"]), "-out", str(pem["ca"]))
    for name in ("node", "client"):
        csr = folder / f"{name}.csr"
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                 "-keyout", str(pem[f"{name}-key"]), "-out", str(csr))
        _openssl("x509", "-req", "-in", str(csr), "-CA", str(pem["ca"]), "-CAkey",
                 str(pem["ca-key"]), "-CAcreateserial", "-days", "2", "-out", str(pem[name]))
    return pem


def test_tls_only_node_refuses_plain_tcp(tmp_path: Path) -> None:
    pem = make_pki(tmp_path / "pki")
    node = NodeProcess(tmp_path / "node", allowed=("ECHOSCU", "GOODAE"), extra={"net": {
        "tls_certificate": str(pem["node"]), "tls_private_key": str(pem["node-key"]),
        "tls_ca_certificate": str(pem["ca"])}})
    client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(pem["ca"]))
    client.check_hostname = False
    client.load_cert_chain(str(pem["client"]), str(pem["client-key"]))
    node.ready_check = lambda: _echo(node.port, "GOODAE", "VFNODE", client)
    node.start()
    try:
        assert _echo(node.port, "GOODAE", "VFNODE", client)
        assert not _echo(node.port, "GOODAE", "VFNODE")  # plain TCP
        assert not node.echo()  # dcmtk's echoscu without TLS
        anonymous = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(pem["ca"]))
        anonymous.check_hostname = False
        assert not _echo(node.port, "GOODAE", "VFNODE", anonymous)  # no client certificate
        assert node.alive()
        print("TLS-only: TLS with a client certificate of the CA accepted; refused: plain "
              "TCP (pynetdicom), plain TCP (dcmtk echoscu), TLS without a client certificate")
    finally:
        node.stop()
