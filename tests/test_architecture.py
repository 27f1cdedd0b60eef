"""The house rules a reader relies on: no import cycles between the project's modules, and no
module much over 400 lines (each has one job)."""

from __future__ import annotations

import ast
import inspect
import io
import re
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("benchmark", "leaderboard")
MAX_LINES = 450


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imports(path: Path, name: str, known: set[str]) -> set[str]:
    """Every project module `name` imports: at module level, inside functions (lazy imports) and
    under TYPE_CHECKING alike — a loop through any of them is a loop in the design."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            for alias in node.names:
                target = f"{base}.{alias.name}"
                out.add(target if target in known else base)
    return {m for m in out if m in known and m != name}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    cycles, state = [], {}

    def dfs(node, stack):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                dfs(nxt, [*stack, nxt])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            dfs(name, [name])
    return cycles


def test_no_import_cycles():
    mods = modules()
    graph = {name: imports(path, name, set(mods)) for name, path in mods.items()}
    # a package's __init__ importing its own submodules is how packages work, not a cycle
    graph = {name: {t for t in ts if not t.startswith(name + ".")} for name, ts in graph.items()}
    cycles = find_cycles(graph)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)
    # the check itself finds a loop when there is one
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def test_no_module_much_over_400_lines():
    long = {
        str(path.relative_to(ROOT)): n
        for path in modules().values()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines (split them by job): {long}"


# Names of model families and of the checkpoints they serve. Only a family's own modules
# (benchmark/models/<family>*.py, found from the registry: the modules whose objects register a
# family, and the files named after them) and the registry may name them; shared code asks the
# family object (its stacks' roles, settings, config reading).
FAMILY_WORDS = (
    "whisper", "seamless", "sonar", "qwen", "llama", "wav2vec", "hubert", "wavlm", "e5", "bert",
    "gpt2", "mistral", "gemma", "phi",
)  # fmt: skip
FAMILY_PATTERN = re.compile(r"(?<![a-z0-9])(?:" + "|".join(FAMILY_WORDS) + r")(?![a-z])")


def family_words(source: str) -> list[tuple[int, str]]:
    """(line, word) for every family name in `source`'s code: names and string literals, not
    comments, docstrings or other prose (a citation, a data card: strings of three or more words)
    that explain a shared rule by a family's example."""
    docstrings = set()
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                docstrings.add(value.lineno)
    found = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type not in (tokenize.NAME, tokenize.STRING) or tok.start[0] in docstrings:
            continue
        if tok.type == tokenize.STRING and len(tok.string.split()) >= 3:
            continue
        found += [(tok.start[0], m.group(0)) for m in FAMILY_PATTERN.finditer(tok.string.lower())]
    return found


def family_leaks() -> dict[str, list[str]]:
    """file -> the family names its code uses, for every file outside the families' own."""
    leaks = {}
    for path in sorted((ROOT / "benchmark").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if family_module(rel):
            continue
        found = family_words(path.read_text(encoding="utf-8"))
        if found:
            leaks[rel] = sorted({word for _, word in found})
    return leaks


def test_the_family_name_finder_finds_names_in_code_not_prose():
    source = '"""Whisper\'s encoder."""\nx = build_tiny_whisper()  # BERT\ny = "seamless_m4t"\n'
    assert family_words(source) == [(2, "whisper"), (3, "seamless")]
    assert family_words('z = "a card that cites BERT"\nw = f"sonar:{x}"\n') == [(2, "sonar")]
    assert family_words("graphic = 1e5 + robert + phi3\n") == [(1, "phi")]


def family_module(rel: str) -> bool:
    """`rel` is a family's own module (named after one that registers a family) or the registry."""
    from benchmark.models import families

    modules = {inspect.unwrap(getattr(fam.load, "func", fam.load)) for fam in families().values()}
    stems = {fn.__module__.rsplit(".", 1)[1] for fn in modules}
    return rel == "benchmark/models/registry.py" or any(
        rel.startswith(f"benchmark/models/{stem}") for stem in stems
    )


def test_no_family_name_in_shared_code():
    leaks = family_leaks()
    assert not leaks, f"family names in shared code (ask the family object instead): {leaks}"
