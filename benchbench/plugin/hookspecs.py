"""Hook specifications: the reference documentation of every hook a plugin may implement.

Discovery hooks are called once per command, each plugin's result kept apart so that duplicate
names can be traced to both plugins. Event hooks are called by the runner as a run progresses.
A plugin implements a hook by defining a function of the same name marked with
``@benchbench.hookimpl``; a ``benchbench_*`` function that matches no spec, or is not marked,
is reported as a problem of that plugin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from ..api.specs import DatasetSpec, ExecutorSpec, MetricSpec, ModelSpec

PROJECT = "benchbench"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# -------------------------------------------------------------------------------------------------
# Discovery: what a plugin provides. Called when the registry is built (every command that reads
# suites or lists plugins). All results are collected; none stops the others.
# -------------------------------------------------------------------------------------------------


@hookspec
def benchbench_models() -> list[ModelSpec]:
    """Return the model families this plugin provides.

    :return: a list of :class:`benchbench.ModelSpec`. A name another plugin registers too is a
        clash: every command that uses the name stops, naming both plugins, until the user
        disables one. A spec declaring an unknown data kind is ignored and reported.

    Must be cheap: return specs only, with factories given as ``"module:attribute"`` strings if
    building a model needs heavy imports such as torch.
    """


@hookspec
def benchbench_metrics() -> list[MetricSpec]:
    """Return the metrics this plugin provides.

    :return: a list of :class:`benchbench.MetricSpec`, each with its requirements. Names must be
        unique across plugins (a clash is handled as for models). The factory's return is checked
        where it enters the host: see docs/plugins.md, "The metric contract".
    """


@hookspec
def benchbench_datasets() -> list[DatasetSpec]:
    """Return the datasets this plugin provides.

    :return: a list of :class:`benchbench.DatasetSpec`. A dataset's factory must never download;
        missing local files raise :class:`benchbench.UsageError` naming the file and the command
        that provides it.
    """


@hookspec
def benchbench_executors() -> list[ExecutorSpec]:
    """Return the executors this plugin provides: what runs a suite's cells (``bench run
    --executor NAME`` or the suite's ``[executor]`` table).

    :return: a list of :class:`benchbench.ExecutorSpec`; names clash as for models. The factory
        builds a :class:`benchbench.Executor` (the contract is in ``benchbench/api/executor.py``)
        and must import a cluster's client only when called, so a command that runs no cells
        never imports it.
    """


# -------------------------------------------------------------------------------------------------
# Events: called by the runner in the driver process, in order. Return values are ignored.
# -------------------------------------------------------------------------------------------------


@hookspec
def benchbench_cell_finished(cell: dict[str, Any], records: list[dict[str, Any]]) -> None:
    """Called after a cell's records were written to the results store, whatever its status.

    :param cell: the cell's summary record (``cell_id``, ``dataset``, ``model``, ``variant``,
        ``seed``, ``status``, ``error``, timings).
    :param records: the metric records of the cell, as written to ``cells.jsonl``.

    Use it for reporters (loggers, dashboards). An exception raised here is reported as a warning
    naming the plugin; it never changes the cell's results.
    """
