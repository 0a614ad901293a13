"""Orthanc with DICOMweb plus the OHIF viewer on one loopback origin, as one object.

Used by the browser tests and by ``scripts/viewer`` (``python -m tests.viewer.stack``).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from node.viewer.bundle import app_config, ensure_bundle
from node.viewer.server import ViewerServer, start_viewer_server
from tests.peers.orthanc import Modality, OrthancPeer, free_port, start_orthanc

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


def main(argv: list[str] | None = None) -> int:
    """``scripts/viewer``: run the stack until Ctrl-C; ``--demo`` adds a phantom study."""
    parser = argparse.ArgumentParser(prog="scripts/viewer", description=__doc__)
    parser.add_argument("--port", type=int, default=8080, help="viewer port (default 8080)")
    parser.add_argument("--data", type=Path, help="Orthanc storage folder (default: temporary)")
    parser.add_argument("--demo", action="store_true",
                        help="make a phantom study, send it through a vfnode node to this "
                             "Orthanc and print the viewer URL of the study")
    parser.add_argument("--seed", type=int, default=7, help="phantom seed for --demo")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    with contextlib.ExitStack() as cleanup:
        root = args.data or Path(cleanup.enter_context(tempfile.TemporaryDirectory()))
        node_port = free_port()
        stack = start_stack(root, port=args.port,
                            modalities={"vfnode": Modality("VFNODE", node_port)})
        cleanup.callback(stack.stop)
        print(f"OHIF viewer: {stack.url}/  (Orthanc REST {stack.orthanc.url}, "
              f"DICOM {stack.orthanc.address})", flush=True)
        if args.demo:
            from tests.viewer.demo import run_demo

            study_uid = run_demo(stack, root / "demo", node_port=node_port, seed=args.seed,
                                 cleanup=cleanup)
            print(f"vfnode results: {stack.study_url(study_uid)}", flush=True)
        print("Ctrl-C stops the viewer and Orthanc.", flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            print("stopping", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
