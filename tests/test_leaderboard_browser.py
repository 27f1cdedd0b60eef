"""The built site in a real browser: headless Chromium from the system packages (`chromium`,
`chromium-driver`), driven by selenium, loading pages from file:// with no network.

Skipped when the browser is missing, unless INTERLINGUA_REQUIRE_BROWSER=1 (set by .ci/run, where
tools/bootstrap.sh installs it): there a missing browser is a failure.
"""

from __future__ import annotations

import os

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

    body = driver.find_element(By.CSS_SELECTOR, "#board tbody")
    return [r for r in body.find_elements(By.TAG_NAME, "tr")]


def column_values(driver, index):
    out = []
    for r in rows(driver):
        raw = r.find_elements("tag name", "td")[index].get_attribute("data-value")
        out.append(float(raw) if raw else None)
    return out


def no_alert(driver) -> bool:
    from selenium.common.exceptions import NoAlertPresentException

    try:
        _ = driver.switch_to.alert.text
    except NoAlertPresentException:
        return True
    return False


def test_index_loads_from_file_url_and_sorts(driver, site):
    from selenium.webdriver.common.by import By

    driver.get((site / "index.html").as_uri())
    assert driver.title.startswith("Leaderboard")
    headers = driver.find_elements(By.CSS_SELECTOR, "#board thead th")
    names = [h.text.split("\n")[0] for h in headers]
    index = names.index("gap_text_svcca")

    headers[0].click()  # by model name: a different order from the default (by score)
    by_name = [r.get_attribute("data-row") for r in rows(driver)]
    labels = [r.find_element(By.TAG_NAME, "td").get_attribute("data-value") for r in rows(driver)]
    assert labels == sorted(labels, key=str.lower)

    headers[index].click()
    values = column_values(driver, index)
    assert headers[index].get_attribute("aria-sort") == "descending"
    assert headers[0].get_attribute("aria-sort") == "none"
    assert values == sorted(values, reverse=True)
    by_score = [r.get_attribute("data-row") for r in rows(driver)]
    assert by_score != by_name and sorted(by_score) == sorted(by_name)

    headers[index].click()
    assert headers[index].get_attribute("aria-sort") == "ascending"
    assert column_values(driver, index) == sorted(values)

    modal = names.index("modal_svcca")  # n/a cells (text-only models) stay at the bottom
    headers[modal].click()
    values = column_values(driver, modal)
    assert values[-2:] == [None, None] and values[0] >= values[1]


def test_filters_hide_rows(driver, site):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver.get((site / "index.html").as_uri())
    Select(driver.find_element(By.ID, "f-modality")).select_by_value("speech")
    visible = [r for r in rows(driver) if r.is_displayed()]
    assert len(visible) == 2 and all(
        "speech" in r.get_attribute("data-modalities") for r in visible
    )
    driver.find_element(By.ID, "f-controls").click()
    visible = [r for r in rows(driver) if r.is_displayed()]
    assert len(visible) == 1 and visible[0].get_attribute("data-control") == "false"
    assert driver.find_element(By.ID, "f-count").text == "1 of 4 rows"


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
    assert {"index", "task", "model", "about"} <= set(saved)  # and "doc" when docs/tasks has it
    for path in saved.values():
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


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
