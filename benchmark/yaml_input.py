"""YAML that a user hands us (task files, submissions, `--task-setting` values), read within
bounds: nothing executed (a SafeLoader), a file size cap, and aliases refused beyond a small
expansion (a 379-byte "billion laughs" file of nested aliases would otherwise take gigabytes).

Every refusal is one UsageError line naming the file or flag, the limit and what to do; malformed
YAML is still raised as yaml.YAMLError, so each reader words it with its line number.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from benchmark.errors import UsageError

MAX_BYTES = 64 * 1024  # a task file is about 1 KB, a submission less
MAX_ALIASES = 100  # alias nodes (`*name`) in one document
MAX_NODES = 10_000  # nodes once every alias is expanded; a task file has about a hundred


class BoundedSafeLoader(yaml.SafeLoader):
    """A SafeLoader that counts alias nodes while composing and stops past MAX_ALIASES."""

    def __init__(self, stream):
        super().__init__(stream)
        self.n_aliases = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self.n_aliases += 1
            if self.n_aliases > MAX_ALIASES:
                raise _TooLarge(f"more than {MAX_ALIASES} aliases (*name)")
        return super().compose_node(parent, index)


class _TooLarge(Exception):
    pass


def read_text(path: Path, what: str) -> str:
    """The text of a YAML file a user gave, refused past MAX_BYTES or when not UTF-8."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise UsageError(
                f"{path}: {size} bytes; a {what} is at most {MAX_BYTES} bytes (docs/errors.md)"
            )
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise UsageError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    except OSError as err:
        raise UsageError(f"{path}: cannot read ({err.strerror or err})") from None


def load(text: str, where: str) -> tuple[yaml.Node | None, Any]:
    """One YAML document as (its node tree, for line numbers; its data). Raises UsageError naming
    `where` when the document exceeds the bounds, yaml.YAMLError when it is malformed."""
    if len(text.encode("utf-8", "replace")) > MAX_BYTES:
        raise UsageError(f"{where}: more than {MAX_BYTES} bytes of YAML (docs/errors.md)")
    loader = BoundedSafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_expansion(node)
        return node, (loader.construct_document(node) if node is not None else None)
    except _TooLarge as err:
        raise UsageError(
            f"{where}: {err}; YAML aliases are refused past {MAX_ALIASES} aliases or "
            f"{MAX_NODES} nodes expanded: write the values out"
        ) from None
    except RecursionError:
        raise UsageError(f"{where}: YAML nested too deeply; write it flat") from None
    finally:
        loader.dispose()


def _check_expansion(root: yaml.Node) -> None:
    """Count the nodes the document would have with every alias expanded (each shared node counted
    once per use, computed once), refusing a recursive alias or more than MAX_NODES."""
    sizes: dict[int, int] = {}
    busy: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in busy:
            raise _TooLarge("an alias refers to a node that contains it")
        busy.add(key)
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        total = 1
        for child in children:
            total += size(child)
            if total > MAX_NODES:
                raise _TooLarge(f"aliases expand to more than {MAX_NODES} nodes")
        busy.discard(key)
        sizes[key] = total
        return total

    size(root)
