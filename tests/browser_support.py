"""What every browser test shares: the system's headless Chromium, driven by Playwright (no browser
download), the skip marker for machines without it, where screenshots go, and README's copies.

The `browser` fixture itself lives in tests/conftest.py: Playwright's sync API may be started once
per process, so every browser test module of a session shares one Chromium."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
WIDTHS = {"laptop": 1280, "phone": 390}
ARTIFACTS = Path(os.environ.get("DLGRADE_ARTIFACTS", REPO / "build" / "test-artifacts")) / "screenshots"
DOCS = REPO / "docs" / "screenshots"
try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or sync_playwright is None,
    reason="no headless browser: install the Debian package `chromium` (apt-get install chromium) and "
           "`pip install playwright` (.ci/run does both; no browser download is needed)")


def launch():
    """Yield one headless Chromium (for a session-scoped fixture), closed afterwards."""
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def docs_copy(shot: Path, name: str) -> None:
    """A small copy for README (the top of the page, 760 px wide, 256 colours)."""
    if os.environ.get("DLGRADE_DOCS_SCREENSHOTS") != "1":
        return
    from PIL import Image
    with Image.open(shot) as im:
        im = im.convert("RGB")
        im = im.crop((0, 0, im.width, min(im.height, int(im.width * 1.4))))
        im = im.resize((760, round(760 * im.height / im.width)), Image.LANCZOS)
        DOCS.mkdir(parents=True, exist_ok=True)
        im.quantize(256).save(DOCS / name, optimize=True)
