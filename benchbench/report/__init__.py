"""The HTML report of a run (``bench report RUN_DIR``): one self-contained file; see :mod:`.build`.

Importing this package (as ``cli.py`` does for the ``report`` command) loads neither torch nor
matplotlib: :func:`write_report` is resolved on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = ["write_report"]


def __getattr__(name: str) -> Any:
    if name == "write_report":
        return import_module(".build", __name__).write_report
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
