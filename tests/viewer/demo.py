"""The whole product on loopback: a phantom study goes into Orthanc, Orthanc sends it to a
``vfnode serve``, and the node's SR, SEG and summary image come back into the study.

Used by ``scripts/viewer --demo`` and by the browser test of the results.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any

from tests.peers.orthanc import OrthancPeer, wait_for
from tests.reliability.cases import PhantomCase, phantom
from tests.reliability.nodeproc import NodeProcess
from tests.viewer.stack import ViewerStack

logger = logging.getLogger(__name__)

RESULT_KINDS = ("SR", "SEG", "summary")


def result_series(orthanc: OrthancPeer, study_uid: str) -> dict[str, dict[str, Any]]:
    """The vfnode result series of the study by kind (SR, SEG, summary), as Orthanc has them."""
    out: dict[str, dict[str, Any]] = {}
    for series in orthanc.study_series(study_uid):
        tags = series["MainDicomTags"]
        if tags.get("Modality") in ("SR", "SEG"):
            out[tags["Modality"]] = series
        elif tags.get("SeriesDescription", "").startswith("vfnode VF% summary"):
            out["summary"] = series
    return out


def send_through_node(orthanc: OrthancPeer, case: PhantomCase, *, modality: str = "vfnode",
                      timeout: float = 240) -> dict[str, dict[str, Any]]:
    """Upload the case to Orthanc, have Orthanc send it to the node, wait for the results."""
    orthanc.upload(case.files)
    study_id = orthanc.find_study(case.study_uid)
    if study_id is None:
        raise RuntimeError(f"Orthanc must hold study {case.study_uid} after the upload.")
    orthanc.store_to(modality, [study_id])

    def arrived() -> dict[str, dict[str, Any]] | None:
        found = result_series(orthanc, case.study_uid)
        return found if set(RESULT_KINDS) <= set(found) else None

    found = wait_for(arrived, timeout, f"SR, SEG and summary of {case.study_uid} must reach "
                     "Orthanc", interval=1.0)
    return found  # type: ignore[return-value]


def run_demo(stack: ViewerStack, root: Path, *, node_port: int, seed: int,
             cleanup: contextlib.ExitStack) -> str:
    """Make a two-level phantom, send it through a node to the stack's Orthanc; return the
    Study Instance UID once its results are there. The node stops with ``cleanup``."""
    print("making a two-level phantom study (vfnode phantom) ...", flush=True)
    case = phantom("two_levels", seed)
    node = NodeProcess(root / "node", port=node_port, allowed=("ORTHANC", "ECHOSCU"),
                       destinations=[stack.orthanc.address])
    node.start()
    cleanup.callback(node.stop)
    print(f"vfnode serve is listening on {node.address} (log: {node.log_path})", flush=True)
    print("Orthanc sends the study to vfnode; waiting for the SR, SEG and summary ...",
          flush=True)
    send_through_node(stack.orthanc, case)
    return case.study_uid
