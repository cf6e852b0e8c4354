"""Typed errors. The core raises these; only ``cli.py`` turns them into a message and an exit status.

Every :class:`UsageError` is the user's to fix (a suite, an argument, a plugin they installed) and
ends the command with exit status 2 before anything is written.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class BenchError(Exception):
    """Base class of every error benchbench raises on purpose."""


class UsageError(BenchError):
    """Bad input from the user: exit status 2, nothing written."""


class SuiteError(UsageError):
    """A mistake in a suite file, located by file and dotted key path."""

    def __init__(self, file: str, key: str, expected: str, found: object = None, hint: str = ""):
        self.file, self.key, self.expected, self.found, self.hint = file, key, expected, found, hint
        found_text = "" if found is None else f", found {found!r}"
        hint_text = f". {hint}" if hint else ""
        super().__init__(f"{file}: {key}: expected {expected}{found_text}{hint_text}")


class PluginError(UsageError):
    """A plugin that cannot be loaded or registers something invalid; names the plugin."""


class ResultsError(UsageError):
    """A results directory that cannot be used as asked (busy, missing, not a run)."""


class CapabilityError(UsageError):
    """A model asked for something it cannot do, or given data it cannot model."""


class ContractError(BenchError):
    """A plugin's code returned something the plugin contract does not allow; names the plugin.

    Raised where the value crosses into the host, and recorded as that model's or metric's
    ``failed``: a bug in the plugin, not the user's input, so it never ends the run.
    """


class NotApplicable(BenchError):
    """Raised by a metric at evaluation time when it does not apply; recorded as ``n/a``."""


class CellTimeout(BenchError):
    """A cell ran past its time limit."""


class Diverged(BenchError):
    """A training loss became NaN or infinite, or the model's own guard tripped (``reason``)."""

    def __init__(self, step: int, losses: dict[str, float], reason: str = ""):
        self.step, self.losses, self.reason = step, losses, reason
        what = reason or "non-finite loss"
        super().__init__(f"{what} at step {step}: {losses}" if losses else f"{what} at step {step}")


class ModelDiverged(BenchError):
    """Raised by a model's ``train_step`` when its own guard trips before any loss is non-finite: a
    critic's output or an energy beyond any sane magnitude, a chain that left the data's range.
    The host records the cell ``diverged`` at that step with this message, as for a NaN loss."""


def suggest(name: str, choices: Iterable[str]) -> str:
    """'Did you mean: x? Available: a, b, c' for an unknown name."""
    choices = sorted(choices)
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.6)
    did_you_mean = f"Did you mean: {', '.join(close)}? " if close else ""
    return f"{did_you_mean}Available: {', '.join(choices) or '(none)'}"
