"""The about page: each task explained from its result's config, with its YAML file (and the files
it includes) and its kind's `docs/tasks/<kind>.md` page, rendered to HTML."""

from __future__ import annotations

import os
from pathlib import Path

from markupsafe import Markup

from benchmark.fileio import slug

REPO = Path(__file__).resolve().parent.parent


def default_tasks_dir() -> Path:
    env = os.environ.get("INTERLINGUA_TASKS_DIR")
    return Path(env) if env else REPO / "tasks"


def write_about(site) -> None:
    infos = []
    for task in site.task_names:
        info = site.task_info(task)
        info["yaml_page"], info["yaml_name"] = task_file_page(site, task)
        info["doc_page"] = doc_page(site, site.latest[task].task.kind)
        infos.append(info)
    site.render("about.html", "about.html", tasks=infos)


def task_file_page(site, task: str) -> tuple[str | None, str | None]:
    """A page showing `tasks/<task>.yaml` and the files it includes; the files copied too."""
    path = site.tasks_dir / f"{task}.yaml"
    if not path.is_file():
        return None, None
    files, seen = [], set()
    while path is not None and path.is_file() and path.resolve() not in seen:
        seen.add(path.resolve())
        text = path.read_text(encoding="utf-8")
        files.append({"name": path.name, "text": text})
        include = next(
            (
                line.split(":", 1)[1].strip().strip("\"'")
                for line in text.splitlines()
                if line.startswith("include:")
            ),
            None,
        )
        path = path.parent / include if include else None
    page = f"tasks/{slug(task)[:100]}.yaml.html"
    (site.out / "tasks").mkdir(exist_ok=True)
    for f in files:  # the raw files too, for download
        (site.out / "tasks" / slug(f["name"])).write_text(f["text"], encoding="utf-8")
    site.render("text.html", page, heading=f"tasks/{files[0]['name']}", body_html="", files=files)
    return page, files[0]["name"]


def doc_page(site, kind: str) -> str | None:
    """`docs/tasks/<kind>.md` rendered once per kind (None when the build has no docs)."""
    page = f"docs/{slug(kind)}.html"
    if (site.out / page).is_file():
        return page
    path = site.docs_dir / f"{kind}.md"
    if not path.is_file():
        return None
    from markdown_it import MarkdownIt

    # Project documentation, not user data; raw HTML in it is escaped (html=False).
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    body = Markup(md.render(path.read_text(encoding="utf-8")))
    site.render("text.html", page, heading=f"docs/tasks/{path.name}", body_html=body, files=[])
    return page
