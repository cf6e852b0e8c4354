"""Reconstruction: the lossless-compression view of an autoencoder's representation.

To send ``x`` without loss through a model that encodes and decodes, send its code ``z = encode(x)``
and then the residual, coded under the decoder's distribution ``p(x | z)``: that costs
``-log p(x | z)`` nats (Shannon; the ``reconstruction`` half of the ELBO, here at the code itself
rather than averaged over ``q(z | x)``). The fewer nats the residual needs, the more of ``x`` the
representation kept. The cost of ``z`` itself is not counted (that is the KL half of the ELBO,
``elbo_kl``): this measures the representation, not the model's likelihood, and is not comparable
with ``nll``.

Values, on a split:

* ``reconstruction_mse``: mean over examples of the mean over dimensions of
  ``(decode(z)["mean"] - x)²``, in squared data units per dimension (lower is better);
* ``reconstruction_nll``: ``-log p(x | z)`` in nats per example (lower); on data with levels also
  ``reconstruction_bpd``, the same in bits/dim, the likelihood metrics' one conversion.

``x`` is what the model sees (the likelihood metrics' ``data_view``): on data with levels a
continuous decoder is scored at ``y = (k + u) / L`` with ``D log L`` added, a Monte-Carlo upper bound
on the code length of the stored levels (``bound``); a discrete decoder (Bernoulli, categorical)
gives the code length itself (``exact``), as does a density on continuous data, where nats of a
density are not a code length and no bits/dim is given.

The model declares ``encode`` and ``decode``: ``decode(z, x=None)`` returns ``{"mean": (B, *shape),
"log_prob": (B,)}``: the mean of ``p(x | z)`` in data space and, given ``x``, ``log p(x | z)`` in
nats, measured as the model's ``density`` says.
"""

from __future__ import annotations

import torch

from benchbench import EvalContext, MetricValue, Model, NotApplicable
from benchbench_plugins.metrics.likelihood.compute import (
    base_protocol, bits_per_dim_value, data_view, mean_and_sem, nats_value, score,
)


def check_autoencoder(context: EvalContext) -> None:
    """n/a unless the model declares both ``encode`` and ``decode``."""
    model = context.model
    missing = [c for c in ("encode", "decode") if not model.supports(c)]
    if missing:
        raise NotApplicable(f"model {type(model).__name__} does not provide {', '.join(missing)}")


def reconstruct(model: Model, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per example ``(B,)``: the squared error per dimension of ``decode(encode(x))["mean"]`` and
    ``log p(x | z)`` at ``z = encode(x)``."""
    decoded = model.decode(model.encode(x), x)  # type: ignore[attr-defined]  (declared by capability)
    name = type(model).__name__
    if "mean" not in decoded or "log_prob" not in decoded:
        raise ValueError(f"{name}.decode(z, x) must return {{'mean': (B, ...), 'log_prob': (B,)}}, "
                         f"got keys {sorted(decoded)}")
    if decoded["mean"].shape != x.shape:
        raise ValueError(f"{name}.decode()['mean'] is shaped {tuple(decoded['mean'].shape)}, the data {tuple(x.shape)}")
    return {"squared_error": (decoded["mean"] - x).pow(2).flatten(1).mean(1), "log_prob": decoded["log_prob"]}


def evaluate_reconstruction(context: EvalContext, batch_size: int | None = None,
                            split: str = "test") -> list[MetricValue]:
    """``reconstruction_mse``, ``reconstruction_nll`` and, on data with levels, ``reconstruction_bpd``."""
    check_autoencoder(context)
    model, data = context.model, context.dataset
    view, offset, dequantization = data_view(context)
    x = context.split(split)
    scored = score(lambda b: reconstruct(model, view(b)), x, batch_size or context.batch_size)
    protocol = {**base_protocol(context, split, len(x), dequantization), "code": "z = encode(x)"}
    mse, sem = mean_and_sem(scored["squared_error"])
    values = [
        MetricValue("reconstruction_mse", mse, "lower", "squared data units/dim",
                    "exact" if dequantization is None else "estimate", {**protocol, "sem": sem}),
        nats_value("reconstruction_nll", offset - scored["log_prob"], "exact" if dequantization is None else "bound",
                   protocol),
    ]
    return values if data.levels is None else [*values, bits_per_dim_value(values[1], "reconstruction_bpd", data.dim)]
