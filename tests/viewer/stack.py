"""Orthanc with DICOMweb plus the OHIF viewer on one loopback origin, as one object.

Used by the browser tests and by ``scripts/viewer`` (``python -m tests.viewer.stack``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from node.viewer.bundle import app_config, ensure_bundle
from node.viewer.server import ViewerServer, start_viewer_server
from tests.peers.orthanc import Modality, OrthancPeer, start_orthanc

logger = logging.getLogger(__name__)


@dataclass
class ViewerStack:
    """A running Orthanc (with DICOMweb) and the viewer server in front of it."""

    orthanc: OrthancPeer
    server: ViewerServer

    @property
    def url(self) -> str:
        return self.server.url

    def study_url(self, study_uid: str) -> str:
        """The OHIF URL that opens one study in the basic viewer."""
        return f"{self.url}/viewer?StudyInstanceUIDs={study_uid}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.orthanc.stop()


def start_stack(root: Path, *, modalities: Mapping[str, Modality] | None = None,
                port: int = 0, http_port: int | None = None,
                dicom_port: int | None = None) -> ViewerStack:
    """Start Orthanc (storage under ``root``) and the viewer; ``port`` 0 picks a free one."""
    dist = ensure_bundle()
    orthanc = start_orthanc(root / "orthanc", modalities=modalities, dicomweb=True,
                            http_port=http_port, dicom_port=dicom_port)
    try:
        server = start_viewer_server(dist=dist, upstream=orthanc.url, app_config=app_config(),
                                     port=port)
    except BaseException:
        orthanc.stop()
        raise
    return ViewerStack(orthanc, server)


@contextmanager
def viewer_stack(root: Path, **kwargs: object) -> Iterator[ViewerStack]:
    stack = start_stack(root, **kwargs)  # type: ignore[arg-type]
    try:
        yield stack
    finally:
        stack.stop()
