"""Leaderboard at scale: synthetic results for 200 models x every task in tasks/ (valid
TaskResult objects, a tenth of them controls, text-only models among them), then
`leaderboard build`. Prints the build time, wall and CPU (target < 10 s on 2 cores), the site's total
size (target < 40 MB), its raw results' share (gzipped), and the largest page (target < 500 kB).

    python benchmarks/leaderboard_scale.py [--models 200] [--layers 12] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 10.0
SITE_BUDGET = 40_000_000  # bytes, the whole site (issue 19)
PAGE_BUDGET = 500_000  # bytes, any one page


def write_results(folder: Path, n_models: int, n_layers: int) -> int:
    from benchmark.results import result_path, write_result
    from benchmark.taskfiles import load_task, task_files
    from leaderboard.synthetic import synthetic_result

    configs = [load_task(name).model_dump(mode="json") for name in task_files()]
    count = 0
    for i in range(n_models):
        model = f"org{i % 17}/model-{i:03d}"
        modalities = ("text",) if i % 3 == 0 else ("speech", "text")
        init = "random(seed=0)" if i % 10 == 9 else "pretrained"
        for config in configs:
            result = synthetic_result(
                model,
                config,
                seed=i,
                init=init,
                model_modalities=modalities,
                n_layers=n_layers,
            )
            path = result_path(folder, model, result.model.revision, config["name"], result.key)
            write_result(path, result)
            count += 1
    return count


def site_sizes(site: Path) -> dict:
    """Total bytes, the raw copies' share, the largest page, and the pages over the page budget."""
    files = [p for p in site.rglob("*") if p.is_file()]
    pages = sorted((p for p in files if p.suffix == ".html"), key=lambda p: -p.stat().st_size)
    raw = site / "data" / "raw"
    return {
        "total": sum(p.stat().st_size for p in files),
        "raw": sum(p.stat().st_size for p in files if raw in p.parents),
        "largest": pages[0] if pages else None,
        "over": [p for p in pages if p.stat().st_size > PAGE_BUDGET],
        "kinds": {
            kind: sum(p.stat().st_size for p in (site / kind).rglob("*.html"))
            for kind in ("tasks", "models", "languages", "sizes")
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument(
        "--layers", type=int, default=12, help="layers per model (curve points - 1)"
    )
    parser.add_argument(
        "--keep", type=Path, help="write results and site here instead of a temp dir"
    )
    args = parser.parse_args(argv)

    from leaderboard import build_site

    with tempfile.TemporaryDirectory(prefix="interlingua-board-scale-") as tmp:
        root = args.keep or Path(tmp)
        clock = time.perf_counter()
        n = write_results(root / "results", args.models, args.layers)
        made = time.perf_counter() - clock
        results_mb = sum(p.stat().st_size for p in (root / "results").rglob("*.json")) / 1e6
        report = build_site(root / "results", root / "site")
        sizes = site_sizes(root / "site")
        index_kb = (root / "site" / "index.html").stat().st_size / 1e3
        print(f"{n} synthetic results ({args.models} models, {results_mb:.1f} MB) in {made:.1f} s")
        print(
            f"build: {report.seconds:.2f} s wall, {report.cpu_seconds:.2f} s CPU (target < "
            f"{TARGET_SECONDS:.0f} s), {report.n_pages} pages; load average now "
            f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        )
        largest = sizes["largest"]
        print(
            f"site: {sizes['total'] / 1e6:.1f} MB total (target < {SITE_BUDGET / 1e6:.0f} MB): "
            f"raw results {sizes['raw'] / 1e6:.1f} MB gzipped ({results_mb / max(sizes['raw'] / 1e6, 1e-9):.1f}x "
            f"smaller than the files), index {index_kb:.0f} kB, task pages "
            f"{sizes['kinds']['tasks'] / 1e6:.1f} MB, model pages {sizes['kinds']['models'] / 1e6:.1f} MB, "
            f"language pages {sizes['kinds']['languages'] / 1e6:.1f} MB, score-vs-size pages "
            f"{sizes['kinds']['sizes'] / 1e6:.1f} MB"
        )
        # the published board links its raw results from the results dataset (--results-repo)
        build_site(root / "results", root / "linked", results_repo="interlingua/results")
        linked = site_sizes(root / "linked")
        print(
            f"linked (--results-repo): {linked['total'] / 1e6:.1f} MB total, raw copies "
            f"{linked['raw'] / 1e6:.1f} MB, {len(linked['over'])} pages over the page budget"
        )
        print(
            f"largest page: {largest.relative_to(root / 'site')} {largest.stat().st_size / 1e3:.0f} kB "
            f"(target < {PAGE_BUDGET / 1e3:.0f} kB); {len(sizes['over'])} of {report.n_pages} "
            "pages over it"
        )
        # The build is one process: its CPU time is what it costs on an idle 2-core machine;
        # wall time on a shared machine also counts the other jobs' turns.
        fast = report.cpu_seconds < TARGET_SECONDS
        small = linked["total"] < SITE_BUDGET and not linked["over"]
        print(
            (
                "OK"
                if report.seconds < TARGET_SECONDS
                else "OK on CPU time (the wall time includes "
                "waiting for other jobs on this machine)"
                if fast
                else "SLOW: over the time target"
            )
            + ("; size OK" if small else "; TOO BIG: over the size targets")
        )
    return 0 if fast and small else 1


if __name__ == "__main__":
    sys.exit(main())
