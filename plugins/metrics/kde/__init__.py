"""Parzen-window (Gaussian KDE) log-likelihood of held-out data under the model's samples.

The protocol of Breuleux et al. (2011) and of the GAN paper (Goodfellow et al. 2014): place a
Gaussian kernel of width ``h`` on each sample, choose ``h`` on the validation split, report the test
split's negative log-likelihood under the resulting mixture. It applies to any model that samples,
which is why the GAN literature used it; it is also **strongly biased** in more than a few
dimensions (Theis et al. 2016, "A note on the evaluation of generative models"): with a feasible
number of samples it can rank models opposite to their true likelihood, and it is not a likelihood
you can compare with the exact or bounded NLLs of the ``nll`` metric. See ``README.md`` here.

Only the spec lives here, so listing plugins never imports torch; the maths is in ``compute``.
"""

from __future__ import annotations

import benchbench
from benchbench import MetricSpec, Param, Requirements, ValueSpec


@benchbench.hookimpl
def benchbench_metrics() -> list[MetricSpec]:
    return [
        MetricSpec(
            name="parzen",
            summary="Parzen-window (Gaussian KDE) NLL of test data under the samples, bandwidth chosen on "
                    "validation; biased in high dimension, not comparable with nll",
            factory="benchbench_plugins.metrics.kde.compute:evaluate_parzen",
            params=(
                Param("n_samples", 10_000, "at most this many of the cell's samples are the kernel centres"),
                Param("n_test", 10_000, "at most this many points of the scored split"),
                Param("n_val", 10_000, "at most this many validation points choose the bandwidth"),
                Param("bandwidth_min", 0.01, "smallest bandwidth of the grid, in data units"),
                Param("bandwidth_max", 1.0, "largest bandwidth of the grid, in data units"),
                Param("bandwidths", 21, "bandwidths in the grid, log-spaced from min to max"),
                Param("split", "test", "the split scored; the bandwidth is always chosen on val",
                      choices=("test", "train")),
            ),
            requires=Requirements(samples=True, min_samples=2),
            values=(ValueSpec("parzen_nll", "lower", "nats/example"), ValueSpec("parzen_bpd", "lower", "bits/dim")),
        ),
    ]
