"""Representation and mode metrics: k-means on a model's encodings scored against the labels
(``latent_clustering``), the mode-collapse measure of samples on data with known modes
(``mode_coverage``), and the lossless-compression view of an autoencoder (``reconstruction``).

Only the specs live here, so listing plugins never imports torch; the maths is in ``compute``
(clustering, modes) and ``reconstruction``.
"""

from __future__ import annotations

import benchbench
from benchbench import BATCH_SIZE_PARAM, SPLIT_PARAM, MetricSpec, Param, Requirements, ValueSpec

_PACKAGE = "benchbench_plugins.metrics.clustering"


@benchbench.hookimpl
def benchbench_metrics() -> list[MetricSpec]:
    return [
        MetricSpec(
            name="latent_clustering",
            summary="k-means (k = classes) on encode(x): NMI and ARI against the labels, beside the same on a "
                    "random projection of the data",
            factory=f"{_PACKAGE}.compute:evaluate_latent_clustering",
            params=(
                Param("n", 10_000, "at most this many points of the split are clustered"),
                Param("n_init", 10, "k-means restarts; the best inertia is kept"),
                BATCH_SIZE_PARAM, SPLIT_PARAM,
            ),
            requires=Requirements(capabilities=frozenset({"encode"}), labels=True),
            # d: the model's code size, which the data's random projection matches
            values=(ValueSpec("nmi[latent]", "higher", "score", headline=True), ValueSpec("ari[latent]", "higher", "score"),
                    ValueSpec("nmi[random_projection_d{d}]", "higher", "score", reference=True),
                    ValueSpec("ari[random_projection_d{d}]", "higher", "score", reference=True)),
        ),
        MetricSpec(
            name="mode_coverage",
            summary="Modes covered (>= 20 high-quality samples) and reached (>= 1, VEEGAN / PacGAN's count), "
                    "fraction of high-quality samples (within 3 std of a mode) and KL of their mode histogram "
                    "to uniform, on data with known modes",
            factory=f"{_PACKAGE}.compute:evaluate_mode_coverage",
            params=(
                Param("n", 2500, "at most this many samples (2,500 in VEEGAN and PacGAN)"),
                Param("threshold", 3.0, "a sample is high quality within this many mode std of its nearest mode"),
                Param("min_count", 20, "high-quality samples a mode needs to count as covered (modes_reached counts one)"),
            ),
            requires=Requirements(samples=True, min_samples=1),
            values=(ValueSpec("modes_covered", "higher", "modes", headline=True), ValueSpec("modes_reached", "higher", "modes"),
                    ValueSpec("high_quality_fraction", "higher", "fraction", headline=True),
                    ValueSpec("mode_kl", "lower", "nats")),
        ),
        MetricSpec(
            name="reconstruction",
            summary="Autoencoder reconstruction: MSE per dim of decode(encode(x)) and -log p(x | z = encode(x)), "
                    "the code length of the residual (bits/dim on data with levels)",
            factory=f"{_PACKAGE}.reconstruction:evaluate_reconstruction",
            params=(BATCH_SIZE_PARAM, SPLIT_PARAM),
            requires=Requirements(capabilities=frozenset({"encode", "decode"})),
            values=(ValueSpec("reconstruction_mse", "lower", "squared data units/dim"),
                    ValueSpec("reconstruction_nll", "lower", "nats/example"), ValueSpec("reconstruction_bpd", "lower", "bits/dim")),
        ),
    ]
