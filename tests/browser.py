"""A real browser for the tests: Debian's chromium, driven by selenium through Debian's
chromium-driver (``.ci/run`` installs both when missing). Nothing downloads a browser or a
driver: selenium is pointed at /usr/bin/chromedriver, so selenium-manager is never used.

Each test module starts one browser (a fresh profile, headless) and shares it; pages are served
from a local HTTP server on a free port.
"""
from __future__ import annotations

import functools
import os
import shutil
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
REPO = Path(__file__).resolve().parents[1]
PAGES = Path(__file__).resolve().parent / "pages"
EXTENSION = REPO / "clients" / "browser-extension"
#: screenshots the browser tests take; docs/ holds the copies the README shows
ARTIFACTS = Path(os.environ.get("FACTLINK_TEST_ARTIFACTS") or REPO / "test-artifacts")

FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1280,900", "--hide-scrollbars",
         "--force-device-scale-factor=1"]


def require_chromium() -> None:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("chromium and chromium-driver are not installed (.ci/run installs them: "
                    "apt-get install -y chromium chromium-driver)")
    pytest.importorskip("selenium")


def start_chromium(extension: Path | None = None):
    """A headless chromium with a fresh profile (and the unpacked extension, if given)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tempfile.mkdtemp(prefix="factlink-chromium-")
    for flag in FLAGS + [f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    if extension is not None:
        # Debian's chromium is not a branded Chrome: --load-extension still works, headless too
        options.add_argument(f"--load-extension={extension}")
        options.add_argument("--disable-features=DisableLoadExtensionCommandLineSwitch")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(30)
    driver.factlink_profile = profile
    return driver


def stop_chromium(driver) -> None:
    try:
        driver.quit()
    finally:
        shutil.rmtree(driver.factlink_profile, ignore_errors=True)


class PageServer:
    """Serves tests/pages/ on a free loopback port."""

    def __init__(self, folder: Path = PAGES):
        handler = functools.partial(_QuietHandler, directory=str(folder))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def screenshot_path(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name


def screenshot(driver, name: str) -> Path:
    path = screenshot_path(name)
    driver.save_screenshot(str(path))
    return path
