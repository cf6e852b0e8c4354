"""Likelihood metrics: negative log-likelihood (exact or a named bound) and the ELBO.

Only the specs live here, so listing plugins never imports torch; the maths is in ``compute``.
"""

from __future__ import annotations

import benchbench
from benchbench import BATCH_SIZE_PARAM, SPLIT_PARAM, MetricSpec, Param, Requirements, ValueSpec

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
            # K of a bound is the model's (1 for an ELBO), not always the parameter k: a free field
            values=(ValueSpec("nll", "lower", "nats/example", headline=True), ValueSpec("bpd", "lower", "bits/dim", headline=True),
                    ValueSpec("nll_bound_k{K}", "lower", "nats/example", headline=True, column="nll"),
                    ValueSpec("bpd_bound_k{K}", "lower", "bits/dim", headline=True, column="bpd")),
        ),
        MetricSpec(
            name="elbo",
            summary="Negative ELBO in nats/example, with its reconstruction and KL parts when the model gives them",
            factory=f"{_COMPUTE}:evaluate_elbo",
            params=(BATCH_SIZE_PARAM, SPLIT_PARAM),
            requires=Requirements(capabilities=frozenset({"elbo"})),
            values=(ValueSpec("neg_elbo", "lower", "nats/example"), ValueSpec("elbo_reconstruction_nll", "lower", "nats/example"),
                    ValueSpec("elbo_kl", "lower", "nats/example")),
        ),
    ]
