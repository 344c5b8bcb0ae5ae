"""The episode page in a real browser: Debian's headless Chromium, driven by its ChromeDriver.

Served over HTTP with range requests (as any static file server does), so the player can seek.
"""

from __future__ import annotations

import re
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

class RangeRequestHandler(SimpleHTTPRequestHandler):
    """http.server with single byte ranges: media elements seek through them."""

    def send_head(self):
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        path = Path(self.translate_path(self.path))
        if not match or not path.is_file():
            return super().send_head()
        size = path.stat().st_size
        start, end = int(match.group(1)), int(match.group(2) or size - 1)
        if start >= size:
            self.send_error(416)
            return None
        end = min(end, size - 1)
        handle = path.open("rb")
        handle.seek(start)
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        self._remaining = end - start + 1
        return handle

    def copyfile(self, source, outputfile):
        remaining = getattr(self, "_remaining", None)
        if remaining is None:
            return super().copyfile(source, outputfile)
        while remaining > 0:
            chunk = source.read(min(64 * 1024, remaining))
            if not chunk:
                break
            outputfile.write(chunk)
            remaining -= len(chunk)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def served(rendered):
    """The outputs folder over HTTP (the page links ../feed.xml, so serve above the episode)."""
    root = rendered["maya"].parent.parent
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(RangeRequestHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def wait_for(driver, script: str, timeout_s: float = 15.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for: {script}")


def test_episode_page_loads_cleanly_and_a_chapter_click_seeks_the_player(browser, served, rendered):
    episode = rendered["maya"]
    browser.get(f"{served}/{episode.parent.name}/{episode.name}/index.html")
    wait_for(browser, "return document.getElementById('player').readyState >= 1")  # metadata: the MP3 loaded
    assert browser.execute_script("return document.getElementById('player').duration") > 60
    images = browser.execute_script("return [...document.images].map(i => [i.getAttribute('src'), i.naturalWidth])")
    assert images and all(width > 0 for _, width in images), images  # cover and waveform really load

    buttons = browser.find_elements("css selector", "button.seek")
    assert len(buttons) >= 3
    target = buttons[2]
    start = float(target.get_attribute("data-start"))
    target.click()
    wait_for(browser, f"const p = document.getElementById('player'); return Math.abs(p.currentTime - {start}) < 1.5")
    # it plays from there: the chapter and the transcript line under the playhead are highlighted
    wait_for(browser, "return document.querySelectorAll('.chapters li')[2].classList.contains('current')")
    current = wait_for(browser, "const p = document.querySelector('#transcript p.current'); "
                                "return p && [parseFloat(p.dataset.start), parseFloat(p.dataset.end)]")
    now = browser.execute_script("return document.getElementById('player').currentTime")
    assert current[0] - 0.5 <= now <= current[1] + 0.5

    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not errors, errors


@pytest.fixture
def api_server(rendered, tmp_path):
    """The render API over real HTTP, serving the rendered episodes; maya's token is scoped to her."""
    import socket

    import uvicorn

    from nightcast.api import create_app
    from nightcast.settings import Settings

    settings = Settings(outputs_dir=rendered["maya"].parent.parent, listener_data_dir=tmp_path / "listeners",
                        api_tokens=f"{'o' * 24},{'m' * 24}:maya")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until = time.monotonic() + 20
    while not server.started and time.monotonic() < wait_until:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", settings
    server.should_exit = True
    thread.join(10)


def test_the_api_serves_a_listener_their_page_with_like_skip_and_never(browser, api_server, rendered):
    import urllib.request

    base, settings = api_server
    episode = rendered["maya"]
    page = f"{base}/v1/episodes/maya/{episode.name}/index.html"
    operator = urllib.request.urlopen(urllib.request.Request(page, headers={"Authorization": f"Bearer {'o' * 24}"}))
    assert b"feedback-config" not in operator.read()  # an operator's token is never written into a page
    assert "feedback-config" not in (episode / "index.html").read_text()  # and the file on disk stays static

    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Authorization": f"Bearer {'m' * 24}"}})
    try:
        browser.get(page)
        notes = wait_for(browser, "return document.querySelectorAll('.notes li button.verdict').length")
        assert notes == 3 * len(browser.find_elements("css selector", ".notes li[data-segment]")) > 0
        item = browser.find_elements("css selector", ".notes li[data-segment]")[0]
        segment = item.get_attribute("data-segment")
        item.find_element("css selector", "button[data-verdict='skip']").click()
        wait_for(browser, "return document.querySelector('.notes li .verdict-said').dataset.status === '201'")
    finally:
        browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {}})
    [given] = settings.profile_store().feedback("maya")
    assert given.segment_id == segment and given.verdict == "skip" and given.source == "api"
