"""Headless Chromium (Debian's `chromium` + `chromium-driver`, driven by selenium) for the site:
the browser test uses `browser()`, and `python -m leaderboard.screenshots --site SITE --out DIR`
saves a screenshot of each page type at 1400 and 390 px wide (`make screenshots` ->
build/screenshots/<type>-<width>.png).

No browser is downloaded: selenium is pointed at the system's chromedriver and chromium, started
with the flags that work on these machines and a fresh profile that is deleted afterwards.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = os.environ.get("INTERLINGUA_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("INTERLINGUA_CHROMEDRIVER", "/usr/bin/chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1400,1000",
)
INSTALL_HINT = "apt-get install -y chromium chromium-driver; pip install selenium"


def missing() -> str | None:
    """Why the browser cannot start here (None: it can)."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).is_file():
            return f"{path} not found ({INSTALL_HINT})"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return f"selenium is not installed ({INSTALL_HINT})"
    return None


@contextmanager
def browser() -> Iterator:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="interlingua-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


WIDTHS = (1400, 390)  # a desktop window and a phone (CSS pixels)
PHONE_HEIGHT = 844


def page_types(site: Path) -> dict[str, Path]:
    """One page of each type in a built site."""
    site = Path(site)
    pages = {"index": site / "index.html", "about": site / "about.html"}
    for name in ("findings", "compare"):
        if (site / f"{name}.html").is_file():
            pages[name] = site / f"{name}.html"
    task = [p for p in (site / "tasks").glob("*.html") if not p.name.endswith(".yaml.html")]
    model = list((site / "models").glob("*.html"))
    doc = list((site / "docs").glob("*.html"))
    languages = list((site / "languages").glob("*.html"))
    sizes = list((site / "sizes").glob("*.html"))
    found_by_type = (
        ("task", task),
        ("model", model),
        ("doc", doc),
        ("languages", languages),
        ("sizes", sizes),
    )
    for name, found in found_by_type:
        if found:  # the fullest page of its type (most curves and heatmaps)
            pages[name] = max(sorted(found), key=lambda p: p.stat().st_size)
    return pages


def _viewport(driver, width: int, height: int) -> None:
    """The page's width in CSS pixels: a window at desktop sizes, a phone's metrics below."""
    if width < 600:
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": True},
        )
    else:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        driver.set_window_size(width, height)


def save_screenshots(
    driver, site: Path, out: Path, widths=WIDTHS, first_screen: bool = False
) -> dict[str, Path]:
    """A screenshot of each page type at each width, as `<type>-<width>.png` in `out`: the whole
    page (up to 6000 px high), or only its first screen."""
    out.mkdir(parents=True, exist_ok=True)
    saved = {}
    try:
        for width in widths:
            screen = PHONE_HEIGHT if width < 600 else 900
            for name, page in page_types(site).items():
                _viewport(driver, width, screen)
                driver.get(page.resolve().as_uri())
                if not first_screen:
                    height = driver.execute_script("return document.documentElement.scrollHeight")
                    _viewport(driver, width, min(max(int(height), screen), 6000))
                target = out / f"{name}-{width}.png"
                driver.save_screenshot(str(target))
                saved[f"{name}-{width}"] = target
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        driver.set_window_size(1400, 1000)
    return saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m leaderboard.screenshots", description=__doc__)
    parser.add_argument("--site", type=Path, required=True, help="a built site")
    parser.add_argument("--out", type=Path, default=Path("build/screenshots"))
    parser.add_argument(
        "--first-screen", action="store_true", help="only what the first screen shows (docs/img)"
    )
    args = parser.parse_args(argv)
    why = missing()
    if why:
        print(f"error: cannot start the browser: {why}", file=sys.stderr)
        return 2
    if not (args.site / "index.html").is_file():
        print(f"error: --site {args.site}: no index.html; build it first", file=sys.stderr)
        return 2
    with browser() as driver:
        shots = save_screenshots(driver, args.site, args.out, first_screen=args.first_screen)
        for name, path in shots.items():
            print(f"{name:<14} {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
