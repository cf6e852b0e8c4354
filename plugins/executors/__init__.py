"""The built-in ``ray`` executor: Ray core tasks on a local instance or an existing cluster (the
extra ``benchbench[ray]``). The spec only: ray is imported when a run asks for it, never by a
command that runs no cells. (``local`` is the host's own, in ``benchbench.engine.executors``.)"""

from __future__ import annotations

import benchbench
from benchbench import ExecutorSpec, Param


@benchbench.hookimpl
def benchbench_executors() -> list[ExecutorSpec]:
    return [
        ExecutorSpec(
            name="ray",
            summary="Ray core tasks, on a local instance or an existing cluster (pip install 'benchbench[ray]')",
            factory="benchbench_plugins.executors.ray_tasks:RayExecutor",
            params=(
                Param("address", "local", "local: start a Ray instance on this machine; auto: the cluster this machine "
                      "belongs to (RAY_ADDRESS or the latest `ray start`); HOST:PORT: that cluster's head"),
                Param("cpus", 1.0, "CPUs per cell, also its torch threads (a model entry's resources.cpus overrides)"),
                Param("gpus", 0.0, "GPUs per cell, fractions share one (a model entry's resources.gpus overrides)"),
                Param("retries", 2, "times a cell whose worker process died (killed, out of memory, node lost) is re-run"),
                Param("in_flight", 4, "cells submitted at once, in multiples of the cells the cluster can run at once"),
                Param("grace", 60.0, "seconds past a cell's time limit before it is cancelled and recorded as timeout"),
                Param("local_cpus", 0, "CPUs of a local instance (0: every core)"),
                Param("local_gpus", 0, "GPUs a local instance declares (0: those it detects)"),
            ),
        ),
    ]
