"""Two-sample metrics: how far the cell's samples are from held-out data, with a test of "no difference".

Only the specs live here, so listing plugins never imports torch; the maths is in ``compute``.
"""

from __future__ import annotations

import benchbench
from benchbench import MetricSpec, Param, Requirements, ValueSpec


@benchbench.hookimpl
def benchbench_metrics() -> list[MetricSpec]:
    return [
        MetricSpec(
            name="mmd",
            summary="Unbiased MMD² in data space (Gaussian kernels, median heuristic) and its permutation p-value",
            factory="benchbench_plugins.metrics.two_sample.compute:evaluate_mmd",
            params=(
                Param("n", 1000, "at most this many samples and as many data points"),
                Param("permutations", 500, "permutations for the p-value; 0 skips it"),
                Param("split", "test", "the dataset split compared with", choices=("train", "val", "test")),
                Param("max_dim", 4096, "n/a above this many dimensions (data-space MMD is uninformative there)"),
            ),
            requires=Requirements(samples=True, min_samples=2),
            values=(ValueSpec("mmd2", "lower", "kernel", headline=True), ValueSpec("mmd_pvalue", "higher", "p-value")),
        ),
    ]
