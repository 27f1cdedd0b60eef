"""The board's extra views (issue 19, point 5), wired into a build in two calls: `plan` before any
page is drawn (the navigation and the model pages link the views), `write_pages` after.

* languages/<model>--<id>.html  which languages a model merges (leaderboard/languages.py)
* sizes/<group>.html            each ranked column's score against parameter count (sizes.py)
* compare.html                  two models side by side, the pair in the URL (compare_page.py)
"""

from __future__ import annotations

from leaderboard import compare_page, languages, sizes


def plan(site) -> None:
    site.language_pages = languages.plan(site)
    site.size_groups = sizes.group_pages(site)
    links = []
    if site.size_groups:
        links.append(
            {"page": site.size_groups[0]["path"], "label": "Score vs size", "kind": "sizes"}
        )
    if len(site.rows) >= 2:
        links.append({"page": compare_page.PAGE, "label": "Compare", "kind": "compare"})
    site.env.globals.update(language_pages=site.language_pages, view_links=links)


def write_pages(site) -> None:
    languages.write_pages(site, site.language_pages)
    sizes.write_pages(site, site.size_groups)
    if len(site.rows) >= 2:
        compare_page.write_page(site)
