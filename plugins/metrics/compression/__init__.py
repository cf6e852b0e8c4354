"""Lossless compression: the test images coded into a real bit stream with the model's own
probabilities and decoded back bit for bit, its length beside the model's bits/dim and beside
standard codecs (PNG, WebP, gzip, bz2, lzma) on the same images.

Only the spec lives here, so listing plugins never imports torch; the coders are in ``range_coding``
(autoregressive conditionals) and ``bits_back`` (BB-ANS for a VAE), the codecs in ``codecs``, the
metric in ``compute``.
"""

from __future__ import annotations

from typing import Literal

import benchbench
from benchbench import BATCH_SIZE_PARAM, SPLIT_PARAM, MetricSpec, Param, Requirements, ValueSpec

Direction = Literal["lower", "higher"]

CODERS = ("range", "bits_back")  # the model coders, repeated in compute.py's choice
CODECS = ("png", "webp", "gzip", "bz2", "lzma")


def _per_coder(name: str, direction: Direction, unit: str, headline: bool = False) -> tuple[ValueSpec, ...]:
    """``name[range]`` and ``name[bits_back]``, one wide-table column ``name``: each model has one coder."""
    return tuple(ValueSpec(f"{name}[{coder}]", direction, unit, headline=headline, column=name) for coder in CODERS)


@benchbench.hookimpl
def benchbench_metrics() -> list[MetricSpec]:
    return [
        MetricSpec(
            name="compression",
            summary="Real lossless code length: range coding under autoregressive conditionals or bits-back "
                    "ANS under a VAE, decoded back exactly; beside the model's bits/dim and PNG, WebP, gzip, "
                    "bz2, lzma on the same images",
            factory="benchbench_plugins.metrics.compression.compute:evaluate_compression",
            params=(
                Param("coder", "auto", "range (a model with pixel_conditionals), bits_back (a model with "
                      "latent_coding), or auto: range when the model offers it, else bits_back",
                      choices=("auto", *CODERS)),
                Param("n", 200, "images coded: the first n of the split"),
                Param("latent_bins", 256, "bits_back: buckets per latent dimension, of equal mass under the prior "
                      "N(0, 1) (2^8, Townsend et al. 2019)"),
                Param("seed", 0, "bits_back: seed of the random initial words the first latent is decoded from"),
                BATCH_SIZE_PARAM, SPLIT_PARAM,
            ),
            requires=Requirements(data_kinds=frozenset({"binary", "discrete"})),
            values=(
                *_per_coder("stream_bpd", "lower", "bits/dim", headline=True),  # the stream's length, all overhead
                *_per_coder("model_bpd", "lower", "bits/dim", headline=True),  # what the coder realises
                *_per_coder("stream_overhead_bpd", "lower", "bits/dim"),
                *_per_coder("encode_images_per_second", "higher", "images/s"),
                *_per_coder("decode_images_per_second", "higher", "images/s"),
                *(ValueSpec(f"stream_bpd[{codec}]", "lower", "bits/dim", headline=True, reference=True)
                  for codec in CODECS),
            ),
        )
    ]
