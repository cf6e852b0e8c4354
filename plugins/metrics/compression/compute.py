"""The ``compression`` metric: code the first n images of a split into one stream with the model's
own probabilities, decode it, check every level came back, and report the stream's real length.

* ``range`` (a model with ``pixel_conditionals``): range coding, :mod:`.range_coding`. The stream
  realises -log2 p(x), set beside the model's exact ``log_prob`` (``model_bpd[range]``).
* ``bits_back`` (a model with ``latent_coding``): BB-ANS, :mod:`.bits_back`. The stream realises the
  negative ELBO on average, set beside the model's own ``elbo`` (``model_bpd[bits_back]``, a bound,
  averaged over ``ELBO_SAMPLES`` draws of its reconstruction term).

``stream_bpd`` is the stream's length in whole 32-bit words over n·D: everything the decoder
reads, the coder's final words and bits-back's initial words included. The decoder is given n,
the data's shape and levels, and the model (architecture and weights), as a codec's decoder is
given its program; none of these is counted. ``stream_overhead_bpd`` is the stream less the model's
figure: the coder's quantisation of probabilities to ``PRECISION`` bits and its last words for range
coding (under 1% plus 64 bits on our data), plus the initial words and the latents' discretisation
for bits-back, the first shrinking as 1/n. Encoding and decoding run one after the other on the
cell's device; their rates in images per second include every network pass.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from benchbench import EvalContext, MetricValue, Model, NotApplicable

from . import bits_back, range_coding
from .codecs import SETTINGS, codec_bits
from .levels import PRECISION, WORD_BITS, integer_levels, stored

LN2 = math.log(2.0)
ELBO_SAMPLES = 16  # draws of z ~ q(z|x) in the negative ELBO set beside the bits-back stream
CAPABILITY = {"range": "pixel_conditionals", "bits_back": "latent_coding"}
NEEDS = {"range": "range coding needs the conditionals p(x_d | x_<d) over the data's levels",
         "bits_back": "bits-back coding needs a posterior q(z|x) and a decoder p(x|z) over the data's levels"}
FIGURE = {"range": "log_prob", "bits_back": "elbo"}  # the model's own number each stream is set beside


@dataclass
class Coded:
    """One coder's run: the stream, the model's own figure for the same images, and the timings."""

    words: np.ndarray
    model_bits: float
    encode_seconds: float
    decode_seconds: float
    protocol: dict[str, Any]  # what defines this coder's run, beyond the metric's own


def choose_coder(model: Model, coder: str) -> str:
    """The coder asked for, or under ``auto`` the first the model offers; n/a with the reason."""
    name = type(model).__name__
    if coder == "auto":
        offered = [c for c in CAPABILITY if model.supports(CAPABILITY[c])]
        if not offered:
            raise NotApplicable(f"{name} provides neither pixel_conditionals (for range coding) nor latent_coding "
                                "(for bits-back coding): no entropy coder is defined for it")
        coder = offered[0]
    elif not model.supports(CAPABILITY[coder]):
        raise NotApplicable(f"{name} does not provide {CAPABILITY[coder]}: {NEEDS[coder]}")
    if model.density != "discrete":
        raise NotApplicable(f"{name} is a continuous density here: {NEEDS[coder]}")
    if not model.supports(FIGURE[coder]):
        raise NotApplicable(f"{name} provides {CAPABILITY[coder]} but not {FIGURE[coder]}, the figure its stream is set beside")
    return coder


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def checked(decoded: np.ndarray, k: np.ndarray, coder: str) -> None:
    """A decoder that does not give back every level is a broken coder or an impure model, never a number."""
    if not np.array_equal(decoded, k):
        wrong = int((decoded != k).any(1).sum())
        raise RuntimeError(f"{coder}: {wrong} of {len(k)} images did not decode back to themselves; the model's "
                           "probabilities must be the same at both ends")


@torch.no_grad()
def total_bits(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, batch_size: int) -> float:
    """Σ fn(batch) over the images, (B,) nats each, in bits."""
    return sum(fn(batch).double().sum().item() for batch in x.split(batch_size)) / LN2


def code_range(model: Model, k: np.ndarray, levels: int, shape: tuple[int, ...], batch_size: int,
               device: str) -> Coded:
    probs, order = model.pixel_probs, model.pixel_order()
    words, encode_seconds = timed(lambda: range_coding.encode(probs, order, k, levels, shape, batch_size, device))
    decoded, decode_seconds = timed(lambda: range_coding.decode(probs, order, words, len(k), levels, shape, batch_size,
                                                                device))
    checked(decoded, k, "range")
    model_bits = total_bits(lambda b: -model.log_prob(b), stored(k, levels, shape, device), batch_size)
    return Coded(words, model_bits, encode_seconds, decode_seconds, {"coding_batch": batch_size})


def code_bits_back(model: Model, k: np.ndarray, levels: int, shape: tuple[int, ...], batch_size: int, device: str,
                   latent_bins: int, seed: int) -> Coded:
    x = stored(k, levels, shape, device)
    latent_dim = model.latent_posterior(x[:1])[0].shape[1]
    coder = bits_back.Coder(model, bits_back.Buckets.of(latent_bins), levels, shape, device)
    initial = bits_back.initial_words(latent_dim, seed)
    words, encode_seconds = timed(lambda: coder.encode(k, initial))
    (decoded, left), decode_seconds = timed(lambda: coder.decode(words, len(k), latent_dim))
    checked(decoded, k, "bits_back")
    if not np.array_equal(left, initial):
        raise RuntimeError("bits_back: the decoder did not end on the initial words; the stack is out of step")
    model_bits = sum(total_bits(lambda b: -model.elbo(b)["elbo"], x, batch_size) for _ in range(ELBO_SAMPLES)) / ELBO_SAMPLES
    protocol = {"latent_bins": latent_bins, "latent_dim": latent_dim, "initial_words": len(initial),
                "initial_bits": WORD_BITS * len(initial), "seed": seed, "elbo_samples": ELBO_SAMPLES,
                "coding_batch": 1}
    return Coded(words, model_bits, encode_seconds, decode_seconds, protocol)


def model_values(coder: str, coded: Coded, n: int, dim: int, protocol: dict[str, Any]) -> list[MetricValue]:
    """The stream, the model's figure, their difference and the two rates, each named by the coder."""
    per_dim = n * dim
    stream, figure = WORD_BITS * len(coded.words) / per_dim, coded.model_bits / per_dim
    protocol = {**protocol, **coded.protocol, "stream_words": len(coded.words), "stream_bits": WORD_BITS * len(coded.words),
                "model_figure": FIGURE[coder]}
    exact = coder == "range"  # log_prob is exact; the negative ELBO is a bound, estimated over ELBO_SAMPLES draws
    return [MetricValue(f"stream_bpd[{coder}]", stream, "lower", "bits/dim", "exact", protocol),
            MetricValue(f"model_bpd[{coder}]", figure, "lower", "bits/dim", "exact" if exact else "bound", protocol),
            MetricValue(f"stream_overhead_bpd[{coder}]", stream - figure, "lower", "bits/dim",
                        "exact" if exact else "estimate", protocol),
            MetricValue(f"encode_images_per_second[{coder}]", n / coded.encode_seconds, "higher", "images/s",
                        "measured", protocol),
            MetricValue(f"decode_images_per_second[{coder}]", n / coded.decode_seconds, "higher", "images/s",
                        "measured", protocol)]


def codec_values(k: np.ndarray, shape: tuple[int, ...], levels: int, protocol: dict[str, Any]) -> list[MetricValue]:
    per_dim = k.size
    return [MetricValue(f"stream_bpd[{name}]", bits / per_dim, "lower", "bits/dim", "exact",
                        {**protocol, "codec": SETTINGS[name], "file_bits": bits})
            for name, bits in codec_bits(k, shape, levels).items()]


def evaluate_compression(context: EvalContext, coder: str = "auto", n: int = 200, latent_bins: int = 256, seed: int = 0,
                         batch_size: int | None = None, split: str = "test") -> list[MetricValue]:
    """Code the first ``n`` images of ``split`` with the model's coder and with the standard codecs."""
    data, model = context.dataset, context.model
    if data.levels is None:
        raise NotApplicable(f"{data.name!r} is continuous data: lossless coding needs levels")
    if n < 1 or latent_bins < 2:
        raise ValueError(f"n must be at least 1 and latent_bins at least 2, got n={n}, latent_bins={latent_bins}")
    coder = choose_coder(model, coder)
    k = integer_levels(context.split(split)[:n], data.levels)
    shape, batch = tuple(data.shape), batch_size or context.batch_size
    if coder == "range":
        coded = code_range(model, k, data.levels, shape, batch, context.device)
    else:
        coded = code_bits_back(model, k, data.levels, shape, batch, context.device, latent_bins, seed)
    protocol = {"split": split, "n": len(k), "dim": data.dim, "levels": data.levels}
    coder_protocol = {**protocol, "coder": coder, "precision_bits": PRECISION, "word_bits": WORD_BITS,
                      "library": "constriction"}
    return model_values(coder, coded, len(k), data.dim, coder_protocol) + codec_values(k, shape, data.levels, protocol)
