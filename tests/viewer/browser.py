"""Headless Chromium (Debian's ``/usr/bin/chromium``) driven by Playwright for Python,
with every request recorded so a test can assert that nothing left 127.0.0.1.

Playwright's own browser download is never used (``playwright install`` needs the
internet): ``executable_path`` points at Debian's Chromium. Playwright's launch already
passes the flags that let SwiftShader render WebGL headless, which OHIF needs.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

LOCAL_HOSTS = {"127.0.0.1"}
LOCAL_SCHEMES = {"data", "blob", "about", "chrome-extension"}
VIEWPORT_SIZE = (1440, 900)


def chromium_path() -> str | None:
    """Debian's Chromium binary, or None when it is not installed."""
    return shutil.which("chromium")


def why_no_browser() -> str | None:
    """The reason the browser tests cannot run, or None when they can."""
    if chromium_path() is None:
        return "Debian's chromium is not installed (./scripts/install --test installs it)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[test]')"
    return None


@dataclass
class RequestLog:
    """Every URL the page asked for, and those that went beyond loopback."""

    all: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def failed_request(self, url: str, failure: str | None) -> None:
        # Requests cancelled by a navigation (net::ERR_ABORTED) are not failures.
        if "ERR_ABORTED" not in str(failure) and url not in self.outside:
            self.failed.append(f"{url} ({failure})")

    def record(self, url: str) -> None:
        self.all.append(url)
        parts = urlsplit(url)
        if parts.scheme not in LOCAL_SCHEMES and parts.hostname not in LOCAL_HOSTS:
            self.outside.append(url)


@contextmanager
def browser_page(request_log: RequestLog) -> Iterator[Any]:
    """Yield a Playwright page in headless Chromium; requests beyond loopback are aborted
    (and recorded), so the test can fail on them without the machine ever sending them."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True)
        try:
            width, height = VIEWPORT_SIZE
            context = browser.new_context(viewport={"width": width, "height": height},
                                          device_scale_factor=1)

            def route(route: Any) -> None:
                request_log.record(route.request.url)
                if route.request.url in request_log.outside:
                    route.abort()
                else:
                    route.continue_()

            context.route("**/*", route)
            page = context.new_page()
            page.on("requestfailed", lambda req: request_log.failed_request(req.url, req.failure))
            yield page
        finally:
            browser.close()


def skip_tour(page: Any, timeout_s: float = 8.0) -> bool:
    """Dismiss OHIF's onboarding tour ("Skip all") if it shows; its overlay eats clicks."""
    button = page.get_by_text("Skip all", exact=True)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if button.count() and button.first.is_visible():
            button.first.click()
            return True
        page.wait_for_timeout(200)
    return False


def wait_text(page: Any, text: str, timeout_s: float = 60.0) -> str:
    """Wait until ``text`` is in the page's text (SVG overlays included); return the text."""
    deadline = time.monotonic() + timeout_s
    while True:
        body = str(page.inner_text("body"))
        if text in body:
            return body
        if time.monotonic() > deadline:
            raise TimeoutError(f'The page must show "{text}" within {timeout_s:.0f} s. '
                               f"Found: {body[-800:]!r}")
        page.wait_for_timeout(250)


def shot(page: Any, out: Path, name: str) -> Path:
    """Save a screenshot of the whole viewport as ``out/name.png``."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.png"
    page.screenshot(path=str(path))
    return path
