"""The built site in a real browser: headless Chromium from the system packages (`chromium`,
`chromium-driver`), driven by selenium, loading pages from file:// with no network.

Skipped when the browser is missing, unless INTERLINGUA_REQUIRE_BROWSER=1 (set by .ci/run, where
tools/bootstrap.sh installs it): there a missing browser is a failure.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from test_leaderboard import EVIL, make_findings_results, make_results

from leaderboard import build_site, screenshots

WHY = screenshots.missing()
if WHY and os.environ.get("INTERLINGUA_REQUIRE_BROWSER") == "1":
    raise RuntimeError(f"the browser test is required here but cannot run: {WHY}")
pytestmark = pytest.mark.skipif(WHY is not None, reason=f"no headless browser: {WHY}")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    make_results(root / "results")
    build_site(root / "results", root / "site")
    return root / "site"


@pytest.fixture(scope="module")
def driver():
    with screenshots.browser() as d:
        yield d


def rows(driver):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, "#board tbody tr[data-row]")


def cell(driver, row, key):
    """A row's cell under the header whose data-key is `key` (cells follow the header's order)."""
    keys = [
        h.get_attribute("data-key") for h in driver.find_elements("css selector", "#board thead th")
    ]
    return row.find_elements("css selector", "th, td")[keys.index(key)]


def column_values(driver, key, which=None):
    """The `data-value`s of a column, in the page's order (of the rows `which` keeps)."""
    out = []
    for r in rows(driver):
        if which is not None and not which(r):
            continue
        raw = cell(driver, r, key).get_attribute("data-value")
        out.append(float(raw) if raw else None)
    return out


def trained(r) -> bool:
    return r.get_attribute("data-control") != "true"


def no_alert(driver) -> bool:
    from selenium.common.exceptions import NoAlertPresentException

    try:
        _ = driver.switch_to.alert.text
    except NoAlertPresentException:
        return True
    return False


def test_index_loads_from_file_url_and_sorts(driver, site):
    from selenium.webdriver.common.by import By

    driver.get((site / "index.html").as_uri() + "#tab=all")
    assert driver.title.startswith("Leaderboard")
    header = {
        h.get_attribute("data-key"): h
        for h in driver.find_elements(By.CSS_SELECTOR, "#board thead th[data-key]")
    }
    header["model"].click()  # by model name: a different order from the default
    by_name = [r.get_attribute("data-row") for r in rows(driver)]
    labels = [r.get_attribute("data-name") for r in rows(driver) if trained(r)]
    assert labels == sorted(labels)
    assert "sort=model" in driver.current_url

    header["gap_text_svcca"].click()  # best first; controls stay with their model
    values = column_values(driver, "gap_text_svcca", trained)
    assert header["gap_text_svcca"].get_attribute("aria-sort") == "descending"
    assert header["model"].get_attribute("aria-sort") == "none"
    assert values == sorted(values, reverse=True)
    by_score = [r.get_attribute("data-row") for r in rows(driver)]
    assert by_score != by_name and sorted(by_score) == sorted(by_name)
    order = [r.get_attribute("data-control") for r in rows(driver)]
    assert order[order.index("true") - 1] is None  # the control right after its model

    header["gap_text_svcca"].click()
    assert header["gap_text_svcca"].get_attribute("aria-sort") == "ascending"
    assert column_values(driver, "gap_text_svcca", trained) == sorted(values)

    header["modal_svcca"].click()  # n/a cells (text-only models) stay at the bottom
    values = column_values(driver, "modal_svcca")
    assert values[-2:] == [None, None] and None not in values[:2]


def visible(driver):
    return [r for r in rows(driver) if r.is_displayed()]


def test_filters_hide_rows(driver, site):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver.get((site / "index.html").as_uri())
    Select(driver.find_element(By.ID, "f-modality")).select_by_value("has:speech")
    assert len(visible(driver)) == 2 and all(
        "speech" in r.get_attribute("data-modalities") for r in visible(driver)
    )
    driver.find_element(By.ID, "f-controls").click()
    assert len(visible(driver)) == 1 and visible(driver)[0].get_attribute("data-control") is None
    assert driver.find_element(By.ID, "f-count").text == "1 of 4 rows"
    Select(driver.find_element(By.ID, "f-modality")).select_by_value("only:text")
    assert {r.get_attribute("data-modalities") for r in visible(driver)} == {"text"}
    assert len(visible(driver)) == 2
    search = driver.find_element(By.ID, "f-q")
    search.send_keys("E5")  # a name search, case-insensitive
    assert [r.get_attribute("data-name").split()[0] for r in visible(driver)] == [
        "intfloat/multilingual-e5-small"
    ]


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    """The committed board: leaderboard/results and submissions/, as `make board` builds it."""
    root = Path(__file__).resolve().parents[1]
    out = tmp_path_factory.mktemp("board") / "site"
    build_site(root / "leaderboard" / "results", out, submissions=root / "submissions")
    return out


def wait_for(driver, condition, seconds=5.0):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, seconds).until(lambda d: condition())


def test_back_restores_the_filtered_rows(driver, board):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver.get((board / "index.html").as_uri())
    total = len(rows(driver))
    Select(driver.find_element(By.ID, "f-modality")).select_by_value("has:speech")
    driver.find_element(By.ID, "f-controls").click()
    shown = [r.get_attribute("data-row") for r in visible(driver)]
    assert 0 < len(shown) < total and all(trained(r) for r in visible(driver))
    count = driver.find_element(By.ID, "f-count").text
    assert count == f"{len(shown)} of {total} rows"
    link = visible(driver)[0].find_element(By.CSS_SELECTOR, "th a")
    link.click()
    wait_for(driver, lambda: "/models/" in driver.current_url)
    driver.back()
    wait_for(driver, lambda: driver.current_url.split("/")[-1].startswith("index.html"))
    wait_for(driver, lambda: [r.get_attribute("data-row") for r in visible(driver)] == shown)
    assert driver.find_element(By.ID, "f-count").text == count
    assert (
        Select(driver.find_element(By.ID, "f-modality")).first_selected_option.get_attribute(
            "value"
        )
        == "has:speech"
    )
    assert not driver.find_element(By.ID, "f-controls").is_selected()
    driver.back()  # the step before: controls shown again
    wait_for(driver, lambda: len(visible(driver)) > len(shown))
    assert driver.find_element(By.ID, "f-controls").is_selected()


def test_sort_filter_and_tab_survive_a_reload(driver, board):
    from selenium.webdriver.common.by import By

    driver.get((board / "index.html").as_uri())
    driver.find_element(By.CSS_SELECTOR, '#tabs a[data-tab="gaps"]').click()
    wait_for(driver, lambda: "tab=gaps" in driver.current_url)
    shown = {
        h.get_attribute("data-key")
        for h in driver.find_elements(By.CSS_SELECTOR, "#board thead th")
        if h.is_displayed()
    }
    assert shown == {
        "model",
        "rank-gaps",
        "cross_lingual_text_svcca",
        "cross_lingual_speech_svcca",
        "cross_modal_svcca",
    }
    rank = driver.find_element(By.CSS_SELECTOR, 'th[data-key="rank-gaps"]')
    assert rank.get_attribute("aria-sort") == "descending"  # a tab opens on its rank
    header = driver.find_element(By.CSS_SELECTOR, 'th[data-key="cross_lingual_text_svcca"]')
    header.click()
    header.click()  # worst first
    driver.find_element(By.ID, "f-q").send_keys("whisper")
    wait_for(driver, lambda: "q=whisper" in driver.current_url)
    before = [r.get_attribute("data-row") for r in visible(driver)]
    values = column_values(
        driver, "cross_lingual_text_svcca", lambda r: r.is_displayed() and trained(r)
    )
    assert values == sorted(values) and len(before) == 4
    driver.refresh()
    wait_for(driver, lambda: [r.get_attribute("data-row") for r in visible(driver)] == before)
    header = driver.find_element(By.CSS_SELECTOR, 'th[data-key="cross_lingual_text_svcca"]')
    assert header.get_attribute("aria-sort") == "ascending"
    assert driver.find_element(By.ID, "f-q").get_attribute("value") == "whisper"
    current = driver.find_element(By.CSS_SELECTOR, '#tabs a[aria-current="true"]')
    assert current.get_attribute("data-tab") == "gaps"
    driver.find_element(By.ID, "f-reset").click()  # back to the default order: the rank
    wait_for(driver, lambda: "sort=" not in driver.current_url)
    assert (
        driver.find_element(By.CSS_SELECTOR, 'th[data-key="rank-gaps"]').get_attribute("aria-sort")
        == "descending"
    )


def test_margin_view(driver, board):
    from selenium.webdriver.common.by import By

    driver.get((board / "index.html").as_uri() + "#tab=gaps")
    driver.find_element(By.ID, "f-view-margin").click()
    wait_for(driver, lambda: "view=margin" in driver.current_url)
    row = next(
        r for r in visible(driver) if trained(r) and "whisper-base" in r.get_attribute("data-name")
    )
    shown = cell(driver, row, "cross_lingual_text_svcca")
    margin = float(shown.get_attribute("data-margin"))
    assert shown.text.strip() == f"{margin:+.3f}"
    assert driver.find_element(By.CSS_SELECTOR, ".viewnote").is_displayed()


def test_header_and_model_column_stay_in_view(driver, board):
    from selenium.webdriver.common.by import By

    driver.set_window_size(900, 520)
    try:
        driver.get((board / "index.html").as_uri() + "#tab=all")
        wrap = driver.find_element(By.ID, "tablewrap")
        size = driver.execute_script(
            "var w = arguments[0]; return [w.scrollHeight - w.clientHeight, w.scrollWidth - w.clientWidth];",
            wrap,
        )
        assert size[0] > 100 and size[1] > 300  # it does scroll both ways
        driver.execute_script(
            "arguments[0].scrollTop = 10000; arguments[0].scrollLeft = 10000;", wrap
        )
        # the page itself scrolled to the table (at 520 px the navigation and filters above it
        # can fill the window), so that a point on its header is on screen
        driver.execute_script("arguments[0].scrollIntoView({block: 'start'});", wrap)
        box = driver.execute_script("return arguments[0].getBoundingClientRect().toJSON();", wrap)
        head = driver.find_element(By.CSS_SELECTOR, 'thead th[data-key="model"]')
        last = [r for r in visible(driver)][-1].find_element(By.CSS_SELECTOR, "th.c.m")
        far = driver.find_element(By.CSS_SELECTOR, "thead th.s:last-child")

        def rect(el):
            return driver.execute_script(
                "return arguments[0].getBoundingClientRect().toJSON();", el
            )

        assert (
            abs(rect(head)["top"] - box["top"]) <= 2 and abs(rect(head)["left"] - box["left"]) <= 2
        )
        assert abs(rect(far)["top"] - box["top"]) <= 2  # the header row, scrolled right
        assert abs(rect(last)["left"] - box["left"]) <= 2  # the Model column, scrolled down
        assert rect(last)["bottom"] <= box["bottom"] + 1
        point = driver.execute_script(
            "var r = arguments[0].getBoundingClientRect();"
            "return document.elementFromPoint(r.left + 20, r.top + 10).closest('th').getAttribute('data-key');",
            head,
        )
        assert point == "model"  # on top, not under the scrolled cells
    finally:
        driver.set_window_size(1400, 1000)


@pytest.fixture
def phone(driver):
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True},
    )
    try:
        yield driver
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_no_page_is_wider_than_a_phone(phone, board):
    from selenium.webdriver.common.by import By

    pages = sorted(board.rglob("*.html"))
    assert len(pages) > 30
    wide = {}
    for page in pages:
        phone.get(page.as_uri())
        inner = phone.execute_script("return window.innerWidth")
        if inner != 390:
            wide[page.relative_to(board).as_posix()] = inner
            continue
        width = phone.execute_script("return document.documentElement.scrollWidth")
        if width > 390:
            wide[page.relative_to(board).as_posix()] = width
    assert wide == {}
    # the index on a phone: one card per model, scores first, the menu collapsed
    phone.get((board / "index.html").as_uri() + "#tab=gaps")
    card = visible(phone)[0]
    assert card.value_of_css_property("display") == "block"
    cells = [c for c in card.find_elements(By.CSS_SELECTOR, "td") if c.is_displayed()]
    assert cells and card.rect["width"] <= 390
    assert cells[0].rect["y"] < 844  # the first score is on the first screen
    nav = phone.find_element(By.ID, "sitenav")
    assert not nav.is_displayed()
    phone.find_element(By.ID, "navtoggle").click()
    assert nav.is_displayed()
    chart = None
    phone.get(next((board / "tasks").glob("cross_lingual_gap_text.html")).as_uri())
    chart = phone.find_element(By.CSS_SELECTOR, "figure.chart svg")
    assert chart.rect["width"] <= 390 - 10  # fluid: scaled to the screen, not cut


def test_dark_mode_follows_the_system(driver, board):
    from selenium.webdriver.common.by import By

    driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": "dark"}]},
    )
    try:
        driver.get((board / "index.html").as_uri())
        background = driver.find_element(By.TAG_NAME, "body").value_of_css_property(
            "background-color"
        )
        rgb = [int(x) for x in re.findall(r"\d+", background)[:3]]
        assert max(rgb) < 60  # dark
    finally:
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
    driver.get((board / "index.html").as_uri())
    background = driver.find_element(By.TAG_NAME, "body").value_of_css_property("background-color")
    assert min(int(x) for x in re.findall(r"\d+", background)[:3]) > 240


def test_chart_picker_shows_a_hidden_chart(driver, board):
    from selenium.webdriver.common.by import By

    # the task page with the most charts behind its picker (the logit lens's, once it has rows)
    page = max((board / "tasks").glob("*.html"), key=lambda p: p.read_text().count("chart extra"))
    driver.get(page.as_uri())
    extra = driver.find_elements(By.CSS_SELECTOR, "figure.chart.extra")
    assert len(extra) > 5 and not any(f.is_displayed() for f in extra)
    assert (
        len([f for f in driver.find_elements(By.CSS_SELECTOR, "figure.chart") if f.is_displayed()])
        <= 6
    )
    chip = driver.find_elements(By.CSS_SELECTOR, "a.chip")[5]
    target = chip.get_attribute("href").split("#")[1]
    chip.click()
    assert driver.find_element(By.ID, target).is_displayed()


def test_a_script_in_a_model_name_is_text(driver, site):
    from selenium.webdriver.common.by import By

    for page in [
        "index.html",
        "tasks/gap_text.html",
        *sorted(p.relative_to(site).as_posix() for p in (site / "models").glob("script*.html")),
    ]:
        driver.get((site / page).as_uri())
        assert no_alert(driver), page
        assert EVIL in driver.find_element(By.TAG_NAME, "main").text, page
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []  # no blocked script, no missing asset


def test_legend_toggles_a_models_curves(driver, site):
    from selenium.webdriver.common.by import By

    driver.get((site / "tasks" / "gap_text.html").as_uri())
    box = driver.find_elements(By.CSS_SELECTOR, "input[data-series]")[0]
    row = box.get_attribute("data-series")
    series = driver.find_elements(By.CSS_SELECTOR, f'g.series[data-row="{row}"]')
    assert series and all("on" in s.get_attribute("class").split() for s in series)
    box.click()
    assert all("on" not in s.get_attribute("class").split() for s in series)


def test_screenshot_of_each_page_type(driver, site, tmp_path):
    saved = screenshots.save_screenshots(driver, site, tmp_path / "shots")
    types = {"index", "task", "model", "about", "languages", "sizes", "compare"}  # and "doc"
    assert {f"{t}-{w}" for t in types for w in (1400, 390)} <= set(saved)
    for name, path in saved.items():
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
        width = int.from_bytes(data[16:20], "big")  # the IHDR chunk's width
        assert width == int(name.split("-")[1]), name


def test_findings_page_renders(driver, tmp_path):
    from selenium.webdriver.common.by import By

    build_site(make_findings_results(tmp_path / "results"), tmp_path / "site")
    driver.get((tmp_path / "site" / "findings.html").as_uri())
    assert no_alert(driver)
    rows = driver.find_elements(By.CSS_SELECTOR, "table.findings tbody tr")
    assert len(rows) == 4 and EVIL in driver.find_element(By.TAG_NAME, "main").text
    holds = driver.find_elements(By.CSS_SELECTOR, "span.verdict.holds")
    assert holds and all(h.is_displayed() for h in holds[:3])
    charts = driver.find_elements(By.CSS_SELECTOR, "figure.findings-chart > svg")
    assert len(charts) == 4 and all(c.size["width"] > 300 for c in charts)
    assert driver.find_elements(By.CSS_SELECTOR, "g.hub line")
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []


def test_an_anchor_or_a_stale_link_does_not_reset_the_view(driver, board):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    driver.get((board / "index.html").as_uri() + "#tab=gaps&mod=has:speech&ctl=0")
    shown = [r.get_attribute("data-row") for r in visible(driver)]
    total = len(rows(driver))
    assert 0 < len(shown) < total
    state = driver.current_url.split("#")[1]
    skip = driver.find_element(By.CSS_SELECTOR, "a.skip")
    skip.send_keys(Keys.ENTER)  # the skip link: the focus moves, the view stays
    assert driver.execute_script("return document.activeElement.id") == "main"
    assert driver.current_url.split("#")[1] == state
    driver.execute_script("location.hash = '#main'")  # a bare anchor, typed or from a page
    assert [r.get_attribute("data-row") for r in visible(driver)] == shown
    assert driver.find_element(By.CSS_SELECTOR, '#tabs a[aria-current="true"]').text.startswith(
        "Gaps"
    )
    # values the page does not offer (a stale or hand-edited link) fall back to the defaults
    driver.get((board / "index.html").as_uri() + "#mod=takes:fish&sort=nope&tab=zzz&view=x")
    driver.refresh()
    wait_for(driver, lambda: len(visible(driver)) == total)
    assert Select(driver.find_element(By.ID, "f-modality")).first_selected_option.text.startswith(
        "all models"
    )
    assert driver.find_element(By.ID, "f-count").text == f"{total} rows"
    assert driver.find_element(By.ID, "board").get_attribute("data-view") == "score"
    current = driver.find_element(By.CSS_SELECTOR, '#tabs a[aria-current="true"]')
    assert current.get_attribute("data-tab") == "overview"


def test_a_control_wears_its_models_colour(driver, board):
    from selenium.webdriver.common.by import By

    driver.get((board / "index.html").as_uri())
    bar = {}  # row id -> the colour of the bar beside its Model cell
    for body in driver.find_elements(By.CSS_SELECTOR, "#board tbody.pair"):
        cells = body.find_elements(By.CSS_SELECTOR, "tr > th.c.m")
        shadows = [c.value_of_css_property("box-shadow") for c in cells]
        assert all(re.match(r"rgb\(\d+, \d+, \d+\) 5px 0px 0px 0px inset", s) for s in shadows)
        bar[body.get_attribute("data-pair")] = {s.split(")")[0] for s in shadows}
    assert len(bar) >= 4 and all(len(v) == 1 for v in bar.values())  # a control: its model's
    assert len({next(iter(v)) for v in bar.values()}) == len(bar)  # pairs differ
    driver.get((board / "index.html").as_uri() + "#tab=findings")
    head = driver.find_element(By.CSS_SELECTOR, 'thead th[data-key="findings_holding"]')
    assert "descriptive" in head.find_element(By.CSS_SELECTOR, ".badge.desc").text


# Every visible text node's colour against the background it is drawn on (layers composed up the
# tree), as WCAG 2 computes contrast; large text (24 px, or 18.66 px bold) needs 3:1, the rest 4.5:1.
LOW_CONTRAST_JS = """
var out = [];
function rgba(s) { var m = s.match(/[\\d.]+/g) || []; return m.map(Number).concat(m.length === 3 ? [1] : []); }
function lum(c) { var a = c.slice(0, 3).map(function (v) { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }); return 0.2126 * a[0] + 0.7152 * a[1] + 0.0722 * a[2]; }
function over(top, bottom) { var a = top[3]; return [0, 1, 2].map(function (i) { return top[i] * a + bottom[i] * (1 - a); }).concat([1]); }
function background(el) {
  var layers = [];
  for (var e = el; e && e.nodeType === 1; e = e.parentElement) {
    var c = rgba(getComputedStyle(e).backgroundColor);
    if (c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
  }
  var base = [255, 255, 255, 1];
  if (!layers.length || layers[layers.length - 1][3] < 1) base = rgba(getComputedStyle(document.documentElement).backgroundColor)[3] ? rgba(getComputedStyle(document.documentElement).backgroundColor) : base;
  for (var i = layers.length - 1; i >= 0; i--) base = over(layers[i], base);
  return base;
}
var walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
var seen = new Set();
while (walker.nextNode()) {
  var t = walker.currentNode, el = t.parentElement;
  if (!t.textContent.trim() || !el || seen.has(el) || el.closest("svg")) continue;
  seen.add(el);
  var r = el.getBoundingClientRect();
  if (!r.width || !r.height || getComputedStyle(el).visibility === "hidden") continue;
  var st = getComputedStyle(el), fg = rgba(st.color), bg = background(el);
  if (fg[3] < 1) fg = over(fg, bg);
  var L1 = lum(fg), L2 = lum(bg), ratio = (Math.max(L1, L2) + 0.05) / (Math.min(L1, L2) + 0.05);
  var size = parseFloat(st.fontSize), bold = parseInt(st.fontWeight, 10) >= 700;
  var need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
  if (ratio < need) out.push([el.tagName + "." + el.className, t.textContent.trim().slice(0, 30), st.color, "on", "rgb(" + bg.slice(0, 3).map(Math.round).join(", ") + ")", Math.round(ratio * 100) / 100]);
}
return out;
"""


def test_every_visible_text_clears_wcag_aa_in_both_schemes(driver, board):
    pages = screenshots.page_types(board)
    views = [(p.as_uri(), name) for name, p in pages.items()]
    views += [(pages["index"].as_uri() + f, "index" + f) for f in ("#tab=all", "#view=margin")]
    assert {"index", "task", "model", "about", "languages", "sizes", "compare"} <= set(pages)
    low = []
    try:
        for scheme in ("light", "dark"):
            driver.execute_cdp_cmd(
                "Emulation.setEmulatedMedia",
                {"features": [{"name": "prefers-color-scheme", "value": scheme}]},
            )
            for url, name in views:
                driver.get(url)
                found = driver.execute_script(LOW_CONTRAST_JS)
                low += [(scheme, name, *f) for f in found]
    finally:
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
    assert low == []
    # the check itself: the old faded grey on white is caught
    driver.get("data:text/html,<p>plain</p>")
    driver.execute_script("document.querySelector('p').style.color = '#98a2b3'")
    assert [f[-1] for f in driver.execute_script(LOW_CONTRAST_JS)] == [2.58]


def test_sorting_by_keyboard(driver, board):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver.get((board / "index.html").as_uri() + "#tab=gaps")
    key = "cross_lingual_text_svcca"
    button = driver.find_element(By.CSS_SELECTOR, f'thead th[data-key="{key}"] button')
    button.send_keys(Keys.ENTER)  # a header is a button: Enter sorts, best first
    wait_for(driver, lambda: f"sort={key}" in driver.current_url)
    header = driver.find_element(By.CSS_SELECTOR, f'thead th[data-key="{key}"]')
    assert header.get_attribute("aria-sort") == "descending"

    def ranked(r):  # trained models; the reference band is sorted on its own, below them
        return trained(r) and r.get_attribute("data-reference") != "true"

    values = [v for v in column_values(driver, key, ranked) if v is not None]
    assert len(values) >= 3 and values == sorted(values, reverse=True)
    button.send_keys(Keys.SPACE)  # again: the other way
    wait_for(driver, lambda: "dir=asc" in driver.current_url)
    assert header.get_attribute("aria-sort") == "ascending"


def python_comparison(board_root: Path, a: str, b: str) -> list[str]:
    """The states leaderboard/compare_page.py gives the pair (a, b) of the committed board."""
    from benchmark.result_sets import load_result_set
    from leaderboard import compare_page
    from leaderboard import table as table_model
    from leaderboard.data import build_rows, columns, long_table

    rows = build_rows(load_result_set(board_root / "leaderboard" / "results", "--results"))
    cols = table_model.board_columns(columns(long_table(rows)), rows)
    ordered = [c for t in table_model.tabs(cols) for c in t.columns]
    by_id = {r.row_id: r for r in rows}
    return [x["state"] for x in compare_page.comparison(by_id[a], by_id[b], ordered)]


def test_compare_page_keeps_its_pair_in_the_url(driver, board):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    root = Path(__file__).resolve().parents[1]
    page = (board / "compare.html").as_uri()

    def shown():
        table = driver.find_element(By.ID, "cmptable")
        states = [
            tr.get_attribute("class").removeprefix("state-")
            for tr in table.find_elements(By.CSS_SELECTOR, "tbody tr")
        ]
        return table.get_attribute("data-a"), table.get_attribute("data-b"), states

    driver.get(page)
    default = shown()[:2]
    assert (
        Select(driver.find_element(By.ID, "cmp-a")).first_selected_option.get_attribute("value")
        == default[0]
    )
    ids = [
        li.get_attribute("data-row") for li in driver.find_elements(By.CSS_SELECTOR, "#cmp-data li")
    ]
    names = {
        li.get_attribute("data-row"): li.get_attribute("textContent")
        for li in driver.find_elements(By.CSS_SELECTOR, "#cmp-data li")
    }
    whisper = next(i for i in ids if names[i] == "openai/whisper-base")
    control = next(i for i in ids if names[i] == "openai/whisper-base (random(seed=0))")
    driver.get(f"{page}#a={whisper}&b={control}")
    wait_for(driver, lambda: shown()[:2] == (whisper, control))
    a, b, states = shown()
    assert states == python_comparison(root, whisper, control)  # the script's rule is Python's
    assert "a" in states  # the trained model clears its control somewhere
    head = driver.find_element(By.ID, "cmp-head-b").text
    assert head == "B: openai/whisper-base (random(seed=0))"
    # a pick writes the URL; Back gives the previous pair; a reload keeps it
    other = next(i for i in ids if i not in (whisper, control))
    Select(driver.find_element(By.ID, "cmp-b")).select_by_value(other)
    wait_for(driver, lambda: f"b={other}" in driver.current_url and shown()[1] == other)
    assert shown()[2] == python_comparison(root, whisper, other)
    driver.back()
    wait_for(driver, lambda: shown()[:2] == (whisper, control))
    assert (
        Select(driver.find_element(By.ID, "cmp-b")).first_selected_option.get_attribute("value")
        == control
    )
    driver.refresh()
    wait_for(driver, lambda: shown()[:2] == (whisper, control))
    driver.find_element(By.ID, "cmp-swap").click()
    wait_for(driver, lambda: shown()[:2] == (control, whisper))
    # a stale or hand-edited link falls back to the default pair
    driver.get(f"{page}#a=nope&b=<b>x</b>")
    wait_for(driver, lambda: shown()[:2] == default)
    assert no_alert(driver)
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []


def test_each_score_shows_its_interval_and_null_from_the_detail_file(driver, site):
    """The index's intervals, nulls and reasons come from data/index.js (issue 19: page size):
    after load every score cell shows them as before, and an n/a cell says why on hover."""
    import json

    driver.get((site / "index.html").as_uri() + "#tab=all")
    text = (site / "data" / "index.js").read_text()
    detail = json.loads(text[len("window.BOARD_DETAIL = ") : -2])
    checked = 0
    for r in rows(driver):
        for key, x in zip(detail["cols"], detail["rows"][r.get_attribute("data-row")], strict=True):
            shown = cell(driver, r, key)
            if isinstance(x, list):
                ci = shown.find_element("css selector", ".ci").text
                assert ci == f"[{x[0]:.3f}, {x[1]:.3f}]" and shown.is_displayed()
                assert shown.find_element("css selector", ".null").text == f"null {x[2]:.3f}"
                checked += 1
            elif x:
                why = shown.find_element("css selector", ".na").get_attribute("title")
                assert why == detail["why"][x] and why
    assert checked >= 4
    e5 = next(r for r in rows(driver) if "e5-small" in r.get_attribute("data-name"))
    assert "needs" in cell(driver, e5, "modal_svcca").find_element(
        "css selector", ".na"
    ).get_attribute("title")


def test_each_tab_shows_its_own_columns_in_header_and_rows(driver, board):
    """The tabs' columns are chosen by position (data/index.css), the cells carrying no tab class:
    in every tab the header and each row show the same columns, the model's, the group's score
    and the scores of that group (the headers keep their t-<group> class to check against)."""
    driver.get((board / "index.html").as_uri())
    links = driver.find_elements("css selector", "#tabs a[data-tab]")
    tabs = [a.get_attribute("data-tab") for a in links]
    tabs = [t for t in tabs if t not in ("overview", "all")]
    assert len(tabs) >= 3
    for tab in tabs:
        driver.get((board / "index.html").as_uri() + f"#tab={tab}")
        heads = driver.find_elements("css selector", "#board thead th")
        shown = [i for i, h in enumerate(heads) if h.is_displayed()]
        expected = [
            i
            for i, h in enumerate(heads)
            if h.get_attribute("data-key") in ("model", f"rank-{tab}")
            or f"t-{tab}" in h.get_attribute("class").split()
            and "s" in h.get_attribute("class").split()
        ]
        assert shown == expected and len(shown) >= 2, tab
        for r in visible(driver)[:6]:
            cells = r.find_elements("css selector", "th, td")
            assert [i for i, c in enumerate(cells) if c.is_displayed()] == expected, tab


def test_heatmap_numbers_are_drawn_light_on_dark_cells_and_dark_on_light(driver, board):
    """The numbers printed in heatmap cells take their group's colour (white on the dark end of
    the scale, near-black on the light end), not the axis text colour every `svg text` gets."""
    page = next(  # a model page with a heatmap whose values are printed in its cells
        p for p in (board / "models").glob("*.html") if '"kind":"heatmap"' in p.read_text()
    )
    driver.get(page.as_uri())
    driver.execute_script("document.querySelectorAll('details').forEach(d => d.open = true)")
    fills = driver.execute_script(
        "return Array.from(document.querySelectorAll('g.celltext text')).map(t =>"
        " [t.parentElement.classList.contains('dark'), getComputedStyle(t).fill])"
    )
    assert fills and {fill for dark, fill in fills if not dark} == {"rgb(255, 255, 255)"}
    assert {fill for dark, fill in fills if dark} <= {"rgb(17, 17, 17)"}


def test_every_chart_is_drawn_from_its_pages_numbers(driver, site):
    """charts.js draws each chart into its labelled <svg>: none left empty on any page type; a
    model page's main chart has, per group, a band, a null line and a marker per point whose
    hover lines print the page's numbers exactly as Python formats them."""
    from test_leaderboard import chart_data

    from leaderboard.charts import tick_label

    pages = [p for kind in ("models", "tasks", "languages") for p in (site / kind).glob("*.html")]
    for page in pages:
        driver.get(page.as_uri())
        counts = driver.execute_script(
            "return Array.from(document.querySelectorAll('figure svg[role=img]'))"
            ".map(s => [s.childElementCount, s.getAttribute('aria-label').length])"
        )
        assert counts and all(n >= 2 and label > 8 for n, label in counts), page
    page = next((site / "models").glob("openai__whisper-base--*.html"))
    driver.get(page.as_uri())
    main = next(d for d in chart_data(page.read_text()) if d["kind"] == "curve")
    drawn = driver.execute_script(
        "return Array.from(document.querySelector('figure.chart svg').querySelectorAll('g.series'))"
        ".map(g => [g.getAttribute('data-row'), !!g.querySelector('path.band'),"
        " !!g.querySelector('path.nullline'), g.querySelector('path.dots').getAttribute('d'),"
        " g.querySelector('path.dots title').textContent])"
    )
    layers = main["ax"][0][1]
    assert [row for row, *_ in drawn] == [s["id"] for s in main["s"]]
    for (_, band, null, dots, title), s in zip(drawn, main["s"], strict=True):
        assert band and null and dots.count("h0") == len(layers) == len(s["p"])
        expected = [s["lb"]] + [
            f"{layer}: {v:.3f} [{tick_label(lo)}, {tick_label(hi)}] null {tick_label(n)} q95 "
            f"{tick_label(q)}"
            for layer, (v, lo, hi, n, q) in zip(layers, s["p"], strict=True)
        ]
        assert title.split("\n") == expected


def test_exact_ties_are_printed_as_python_prints_them(driver, tmp_path):
    """Known answer: 0.0625 and 0.03125 are exact binary ties at 3 and 4 decimals, 0.125 and 0.375
    at 2. Python rounds them to the even digit (0.062, 0.0312, 0.12, 0.38), JavaScript's toFixed
    away from zero (0.063, 0.0313, 0.13, 0.38): the page must print Python's, the numbers the
    raw result and every server-written table give."""
    from test_leaderboard import TASKS, put

    from leaderboard.synthetic import synthetic_result

    r = synthetic_result("org/ties", TASKS[0], n_layers=2)
    ties = [0.0625, 0.03125, 0.125, 0.375]
    curves = [r.curves[0].model_copy(update={"points": [
        p.model_copy(update={"value": 0.0625, "ci_low": 0.03125, "ci_high": 0.125,
                             "null_mean": 0.375, "null_q95": 0.4375})
        for p in r.curves[0].points
    ]})] + r.curves[1:]  # fmt: skip
    matrices = [
        m.model_copy(
            update={"values": [[ties[(i + j) % 4] for j in range(len(m.columns))] for i in range(len(m.rows))]}
        )
        for m in r.matrices
    ]  # fmt: skip
    put(tmp_path / "results", r.model_copy(update={"curves": curves, "matrices": matrices}))
    build_site(tmp_path / "results", tmp_path / "site")
    driver.get(next((tmp_path / "site" / "models").glob("org__ties--*.html")).as_uri())
    driver.execute_script("document.querySelectorAll('details').forEach(d => d.open = true)")
    hover = driver.execute_script("return document.querySelector('path.dots title').textContent")
    assert hover.split("\n")[1].endswith(": 0.062 [0.031, 0.125] null 0.375 q95 0.438")
    cells = driver.execute_script(
        "return Array.from(document.querySelectorAll('figure.heatmap g.celltext text'), t => t.textContent)"
    )
    assert set(cells) == {"0.06", "0.03", "0.12", "0.38"}  # 0.0625 -> 0.06, 0.03125 -> 0.03
    rows = driver.execute_script(
        "return Array.from(document.querySelectorAll('figure.heatmap rect.rowhit title'), t => t.textContent)"
    )
    assert rows and all(" 0.0312" in x and " 0.0625" in x and " 0.1250" in x for x in rows)
    driver.get(next((tmp_path / "site" / "languages").glob("org__ties--*.html")).as_uri())
    grid = driver.execute_script(
        "return Array.from(document.querySelectorAll('figure.langgrid rect.rowhit title'), t => t.textContent)"
    )
    assert grid and all(re.fullmatch(r"\w+: (\w+ \d\.\d{3}, )*\w+ \d\.\d{3}", x) for x in grid)
    assert not any("0.063" in x or "0.0313" in x for x in [hover, *cells, *rows, *grid])
