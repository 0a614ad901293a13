"""OHIF over Orthanc in headless Chromium: the study list and a CT study open, and the
browser asks nothing of any host but 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.peers.orthanc import dicomweb_available, orthanc_available
from tests.reliability.ctgen import Series, write_ct_series
from tests.viewer.browser import RequestLog, browser_page, shot, skip_tour, why_no_browser
from tests.viewer.stack import ViewerStack, viewer_stack

REASON = why_no_browser()
pytestmark = [
    pytest.mark.peer,
    pytest.mark.skipif(REASON is not None, reason=REASON or ""),
    pytest.mark.skipif(not (orthanc_available() and dicomweb_available()),
                       reason="orthanc and orthanc-dicomweb are not installed"),
]


@pytest.fixture(scope="module")
def ct_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ViewerStack, Series]]:
    root = tmp_path_factory.mktemp("viewer-ct")
    series = write_ct_series(root / "ct", slices=12, size=128, seed=9)
    with viewer_stack(root) as stack:
        stack.orthanc.upload(series.paths)
        yield stack, series


def test_study_list_and_ct_open_on_loopback_only(
    ct_stack: tuple[ViewerStack, Series], tmp_path: Path
) -> None:
    stack, series = ct_stack
    log = RequestLog()
    with browser_page(log) as page:
        page.goto(stack.url + "/", wait_until="networkidle")
        row = page.get_by_text("CT spine test")
        row.wait_for(timeout=30_000)
        assert "Test, Reliability" in page.inner_text("body")
        shot(page, tmp_path, "study-list")
        page.goto(stack.study_url(series.study_uid), wait_until="networkidle")
        skip_tour(page)
        # The viewport overlay shows the image index once the stack has rendered.
        page.get_by_text("I:12 (1/12)").or_(page.get_by_text("I:1 (1/12)")).first.wait_for(
            timeout=60_000)
        body = page.inner_text("body")
        shot(page, tmp_path, "ct")
    assert "test CT" in body
    assert "Skip all" not in body
    assert log.outside == []
    assert any("/dicom-web/studies" in url for url in log.all)
    frames = [url for url in log.all if "/frames/" in url or "/rendered" in url]
    assert frames, "the viewer must fetch pixel data from Orthanc through the proxy"
