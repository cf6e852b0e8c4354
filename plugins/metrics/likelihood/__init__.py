"""Likelihood metrics: negative log-likelihood (exact or a named bound) and the ELBO.

Only the specs live here, so listing plugins never imports torch; the maths is in ``compute``.
"""

from __future__ import annotations

import benchbench
from benchbench import BATCH_SIZE_PARAM, SPLIT_PARAM, MetricSpec, Param, Requirements

_COMPUTE = "benchbench_plugins.metrics.likelihood.compute"


@benchbench.hookimpl
def benchbench_metrics() -> list[MetricSpec]:
    return [
        MetricSpec(
            name="nll",
            summary="Negative log-likelihood, nats/example and bits/dim on discrete data: exact, or a bound with its K",
            factory=f"{_COMPUTE}:evaluate_nll",
            params=(Param("k", 100, "importance samples for a model that gives only a bound"), BATCH_SIZE_PARAM, SPLIT_PARAM),
            requires=Requirements(any_capabilities=frozenset({"log_prob", "log_prob_bound", "elbo"})),
        ),
        MetricSpec(
            name="elbo",
            summary="Negative ELBO in nats/example, with its reconstruction and KL parts when the model gives them",
            factory=f"{_COMPUTE}:evaluate_elbo",
            params=(BATCH_SIZE_PARAM, SPLIT_PARAM),
            requires=Requirements(capabilities=frozenset({"elbo"})),
        ),
    ]
