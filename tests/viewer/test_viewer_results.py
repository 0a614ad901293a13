"""The radiologist's view in a real browser: vfnode's SR, SEG and summary image, sent by
a real node into Orthanc, open in OHIF v3 (headless Chromium) over DICOMweb.

Steps (each with a screenshot; ``VFNODE_DOCS_SHOTS=1`` also writes them to docs/viewer/):
1. the study list shows the study with CT, SEG and SR;
2. the SEG opens over the CT (the viewer's "open this segmentation?" prompt answered) and
   lists the segments vfnode wrote, by name;
3. the SR opens on its key slice with no error, showing VF%, VBV and CDV of the record;
4. the summary image opens;
and the browser asked nothing of any host but 127.0.0.1.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydicom
import pytest

from tests.peers.orthanc import Modality, dicomweb_available, free_port, orthanc_available
from tests.reliability.cases import PhantomCase, phantom
from tests.reliability.nodeproc import NodeProcess
from tests.viewer.browser import (
    RequestLog,
    browser_page,
    shot,
    skip_tour,
    wait_text,
    why_no_browser,
)
from tests.viewer.demo import send_through_node
from tests.viewer.stack import ViewerStack, start_stack

REASON = why_no_browser()
pytestmark = [
    pytest.mark.peer,
    pytest.mark.skipif(REASON is not None, reason=REASON or ""),
    pytest.mark.skipif(not (orthanc_available() and dicomweb_available()),
                       reason="orthanc and orthanc-dicomweb are not installed"),
]

DOCS = Path(__file__).resolve().parents[2] / "docs" / "viewer"
TIMEOUT_MS = 60_000


@dataclass
class Scene:
    stack: ViewerStack
    case: PhantomCase
    results: dict[str, dict[str, Any]]
    record: dict[str, Any]
    segment_labels: list[str]


def _record(node: NodeProcess, series_uid: str) -> dict[str, Any]:
    from node.registry import Registry

    rows = node.query("SELECT analysis_id FROM jobs WHERE series_instance_uid = ? AND "
                      "analysis_id IS NOT NULL ORDER BY id DESC", (series_uid,))
    registry = Registry(f"sqlite:///{node.data_dir / 'vfnode.db'}")
    try:
        return registry.analysis(int(rows[0][0])).record
    finally:
        registry.close()


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    root = tmp_path_factory.mktemp("viewer-results")
    case = phantom("two_levels", 7)
    node_port = free_port()
    stack = start_stack(root, modalities={"vfnode": Modality("VFNODE", node_port)})
    node = NodeProcess(root / "node", port=node_port, allowed=("ORTHANC", "ECHOSCU"),
                       destinations=[stack.orthanc.address])
    try:
        node.start()
        results = send_through_node(stack.orthanc, case)
        seg_id = results["SEG"]["Instances"][0]
        seg = pydicom.dcmread(io.BytesIO(stack.orthanc.instance_file(seg_id)))
        labels = [str(s.SegmentLabel) for s in seg.SegmentSequence]
        yield Scene(stack, case, results, _record(node, case.ct_series_uid), labels)
    finally:
        node.stop()
        stack.stop()


def save(page: Any, folder: Path, name: str) -> None:
    path = shot(page, folder, name)
    if os.environ.get("VFNODE_DOCS_SHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, DOCS / path.name)


def open_series(page: Any, description: str) -> None:
    """Double-click the study browser entry whose description starts with ``description``."""
    page.get_by_text(description, exact=False).first.dblclick()


def test_results_open_in_ohif(scene: Scene, tmp_path: Path) -> None:
    log = RequestLog()
    errors: list[str] = []
    with browser_page(log) as page:
        page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        # 1. the study list
        page.goto(scene.stack.url + "/", wait_until="networkidle")
        row = page.get_by_text("CT SPINE POSTOP").first
        row.wait_for(timeout=TIMEOUT_MS)
        row_text = page.locator("tr", has_text="CT SPINE POSTOP").first.inner_text()
        assert {"CT", "SEG", "SR"} <= set(row_text.replace("\\", " ").split()), row_text
        row.click()  # the side panel lists the study's series
        wait_text(page, "vfnode VF% report")
        save(page, tmp_path, "1-study-list")

        # 2. the SEG over the CT, segments listed by name
        page.goto(scene.stack.study_url(scene.case.study_uid), wait_until="networkidle")
        skip_tour(page)
        open_series(page, "vfnode segmentation")
        page.locator('[data-cy="yes-hydrate-btn"]').click(timeout=TIMEOUT_MS)
        page.locator('[data-cy="side-panel-header-right"]').click(timeout=TIMEOUT_MS)
        for label in scene.segment_labels:
            page.get_by_text(label, exact=True).first.wait_for(timeout=TIMEOUT_MS)
        cement = next(label for label in scene.segment_labels if "cement in body" in label)
        page.get_by_text(cement, exact=True).first.click()  # jumps to that segment
        page.wait_for_timeout(1500)
        save(page, tmp_path, "2-seg-over-ct")

        # 3. the SR on its key slice: the record's numbers drawn, no error
        # A fresh viewer: loaded after the SEG, the SR viewport sometimes stays on the
        # slice the SEG was showing instead of jumping to the SR's key slice.
        page.goto(scene.stack.study_url(scene.case.study_uid), wait_until="networkidle")
        skip_tour(page, timeout_s=3.0)
        open_series(page, "vfnode VF% report")
        try:
            wait_text(page, "Cement volume fraction (VF%):")
        except TimeoutError:
            save(page, tmp_path, "3-sr-not-drawn")
            raise
        page.wait_for_timeout(1000)
        text = page.inner_text("body")
        save(page, tmp_path, "3-sr-on-key-slice")
        shown = [lv for lv in scene.record["levels"]
                 if f"Cement volume fraction (VF%): {lv['vf_pct']:.2f} %" in text]
        assert shown, text[-1500:]
        assert f"Vertebral body volume (VBV): {shown[0]['vbv_ml']:.2f} ml" in text
        assert f"Cement dispersion volume (CDV): {shown[0]['cdv_ml']:.2f} ml" in text

        # 4. the summary image
        open_series(page, "vfnode VF% summary")
        page.wait_for_timeout(3000)
        close_cine = page.locator('[data-cy="cine-player-close"], .cine-close-button')
        if close_cine.count():
            close_cine.first.click()
        save(page, tmp_path, "4-summary-image")
    assert errors == [], errors[:5]
    assert log.outside == []
    assert log.failed == [], log.failed[:5]
