"""benchbench: a benchmark harness for deep generative models.

This module is the public face: plugins import everything they need from here. Names that need
torch (``Model``, ``EvalContext``'s tensors, the shared layers in ``benchbench.nn``) are loaded on
first use, so that listing plugins and validating suites stay fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .api.dataset import Dataset, split_by_seed
from .api.metric import EvalContext, MetricValue
from .api.executor import Executor
from .api.specs import (BATCH_SIZE_PARAM, SPLIT_PARAM, DatasetSpec, ExecutorSpec, MetricSpec, ModelSpec, Param, Requirements,
                        ValueSpec)
from .errors import (BenchError, CapabilityError, ContractError, ModelDiverged, NotApplicable, PluginError, SuiteError,
                     UsageError)
from .plugin.hookspecs import hookimpl, hookspec

if TYPE_CHECKING:
    import pandas as pd

    from .api.model import Model

__version__ = "0.1.0"

_LAZY = {"Model": "benchbench.api.model"}

__all__ = [
    "BATCH_SIZE_PARAM", "SPLIT_PARAM", "BenchError", "CapabilityError", "ContractError", "Dataset", "DatasetSpec", "EvalContext", "Executor",
    "ExecutorSpec",
    "MetricSpec", "MetricValue", "Model", "ModelDiverged", "ModelSpec", "NotApplicable", "Param", "PluginError", "Requirements", "SuiteError", "UsageError", "ValueSpec",
    "hookimpl", "hookspec", "run", "split_by_seed",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'benchbench' has no attribute {name!r}")


def run(suite: str, **options: Any) -> pd.DataFrame:
    """Run a suite from a notebook and return its leaderboard; options as ``run_suite`` takes them."""
    from .engine.runner import run_suite

    options.setdefault("progress", False)
    return run_suite(suite, **options).leaderboard
