"""The errors a user can fix, their exit codes, and the one "did you mean" helper.

Expected failures (a bad flag, task file, probe set or submission; a model that cannot be had)
raise one of these with a message that names the flag, file, field or item and what would fix it.
The command line prints that message on one line and exits with the class's code; a traceback
only with `--debug`. The exit codes are documented in docs/errors.md.
"""

from __future__ import annotations

import difflib

EXIT_OK = 0
EXIT_TASK_FAILED = 1  # a task (or a comparison) failed; what finished is kept
EXIT_BAD_INPUT = 2
EXIT_MODEL_UNAVAILABLE = 3
EXIT_BUG = 70  # an error no check foresaw: a bug to report, not the user's mistake (EX_SOFTWARE)
EXIT_INTERRUPTED = 130
REPORT_TO = "the Interlingua Bench issue tracker"


class InterlinguaError(Exception):
    """Base of the errors a user can fix; `exit_code` is what the command line returns."""

    exit_code = EXIT_BAD_INPUT


class UsageError(InterlinguaError, ValueError):
    """A flag, task setting, file or item is not usable as given."""


class ConfigError(UsageError):
    """A task file is malformed; the message names file, line and field."""


class ModelUnavailableError(InterlinguaError, RuntimeError):
    """The model cannot be resolved or loaded: the message says why and what would fix it."""

    exit_code = EXIT_MODEL_UNAVAILABLE


class NotApplicable(Exception):  # noqa: N818 - a verdict, not an error
    """Raised by a task kind when the task does not apply to this model or probe set; the runner
    writes a `not_applicable` result with the reason."""


def close_matches(name: str, known, n: int = 3, cutoff: float = 0.5) -> list[str]:
    """The names in `known` spelled most like `name` (the one place spelling is compared)."""
    return difflib.get_close_matches(str(name), list(known), n=n, cutoff=cutoff)


def did_you_mean(what: str, name: str, known: list[str] | tuple[str, ...]) -> str:
    """'Unknown <what> <name>. Did you mean ...? Known: ...' for any list of names."""
    known = list(known)
    close = close_matches(name, known)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return f"Unknown {what} {name!r}.{hint} Known: {', '.join(sorted(known)) or '(none)'}."
