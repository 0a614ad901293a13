"""DICOM TLS (PS3.15 B.1): server and client SSL contexts from the configuration."""

from __future__ import annotations

import ssl
from pathlib import Path

from node.config.settings import NetSettings
from node.errors import ConfigError


def tls_enabled(net: NetSettings) -> bool:
    return bool(net.tls_certificate or net.tls_private_key or net.tls_ca_certificate)


def _files(net: NetSettings) -> tuple[Path, Path, Path]:
    paths = (Path(net.tls_certificate), Path(net.tls_private_key), Path(net.tls_ca_certificate))
    names = ("net.tls_certificate", "net.tls_private_key", "net.tls_ca_certificate")
    for name, text, path in zip(names, (net.tls_certificate, net.tls_private_key,
                                        net.tls_ca_certificate), paths, strict=True):
        if not text or not path.is_file():
            raise ConfigError(
                f'"{name}" must name a readable PEM file when TLS is configured. Found "{text}".'
            )
    return paths


def server_context(net: NetSettings) -> ssl.SSLContext | None:
    """A TLS 1.2+ server context that requires a client certificate signed by the CA."""
    if not tls_enabled(net):
        return None
    cert, key, ca = _files(net)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(ca))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_cert_chain(certfile=str(cert), keyfile=str(key))
    return context


def client_context(net: NetSettings) -> ssl.SSLContext | None:
    """The client side: the node's certificate, and peers verified against the CA."""
    if not tls_enabled(net):
        return None
    cert, key, ca = _files(net)
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # DICOM peers are addressed by IP in hospital networks; trust comes from the CA.
    context.check_hostname = False
    context.load_cert_chain(certfile=str(cert), keyfile=str(key))
    return context
