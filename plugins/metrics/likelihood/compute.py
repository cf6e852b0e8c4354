"""Likelihood metrics in units that compare across model families.

Every number is about the data as stored (DESIGN.md, "Conventions that keep numbers comparable"):

* Data with ``L`` levels is stored as ``k / (L - 1)``. A model whose ``density`` is ``"discrete"``
  (Bernoulli, categorical) gives the mass ``log P(k)`` itself: exact, in nats.
* A model whose ``density`` is ``"continuous"`` is scored on such data at the dequantised point
  ``y = (k + u) / L``, ``u ~ U[0, 1)^D`` (Uria et al., 2013; Theis et al., 2016, "A note on the
  evaluation of generative models"). Since ``P(k) = ∫ p((k + u) / L) L^-D du``, Jensen's inequality
  gives ``log P(k) >= E_u[log p(y)] - D log L``: ``-log p(y) + D log L`` with one ``u`` per example
  is an unbiased Monte-Carlo estimate of an *upper bound* on ``-log P(k)``. Its exactness is
  ``bound`` however exact ``log p`` is; the noise of ``u`` averages out over the split, the gap does
  not. ``u`` comes from a generator seeded with the cell's seed, so a cell scores the same points.
* Continuous data (no levels): ``-log p(x)`` in nats per example; no bits/dim, which a density on
  ``R^D`` does not define.
* Bits/dim ``= -log P / (D ln 2)``, reported beside nats/example on data with levels.

The score is the model's ``log_prob`` when it has one (exact, or an ``estimate`` when the model says
its normaliser is estimated, with how in the protocol); else its importance-weighted bound
``log_prob_bound(x, K)`` (Burda et al., 2016, "Importance weighted autoencoders"), K in the metric's
name; else its ELBO, which is the same bound at K = 1 (hence ``nll_bound_k1``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from benchbench import EvalContext, MetricValue, Model, NotApplicable
from benchbench.nn import dequantize

LN2 = math.log(2.0)
ELBO_PARTS = ("elbo", "reconstruction", "kl")
Batchwise = Callable[[torch.Tensor], dict[str, torch.Tensor]]


# ---- units: the one place nats become bits/dim ----------------------------------------------------


def nats_to_bits_per_dim(nats: float, dim: int) -> float:
    """Nats per example → bits per dimension: divide by ``D ln 2``."""
    return nats / (dim * LN2)


def dequantization_nats(dim: int, levels: int) -> float:
    """``D log L`` nats: what a density on the unit cube pays to become a mass over its ``L^D`` cells
    of volume ``L^-D`` each."""
    return dim * math.log(levels)


# ---- how the model sees the data ------------------------------------------------------------------


def data_view(context: EvalContext) -> tuple[Callable[[torch.Tensor], torch.Tensor], float, str | None]:
    """The map from stored data to the model's input, the nats to subtract from its log-density to
    get ``log P`` of the stored data, and how it dequantised (``None``: it did not)."""
    model, data = context.model, context.dataset
    if data.levels is None and model.density == "discrete":
        raise NotApplicable(f"{type(model).__name__} gives a probability mass; {data.name!r} is continuous data")
    if data.levels is None or model.density == "discrete":
        return (lambda x: x), 0.0, None
    levels = data.levels
    generator = torch.Generator(device=context.device).manual_seed(context.seed)
    how = f"uniform: y = (k + u) / {levels}, one u per example, seed {context.seed}"
    return (lambda x: dequantize(x, levels, generator)), dequantization_nats(data.dim, levels), how


def choose_score(model: Model, k: int) -> tuple[str, Callable[[torch.Tensor], torch.Tensor], int | None]:
    """The tightest log-likelihood the model offers: its capability, the function, and K (None: exact)."""
    if model.supports("log_prob"):
        return "log_prob", model.log_prob, None
    if model.supports("log_prob_bound"):
        return "log_prob_bound", lambda x: model.log_prob_bound(x, k), k
    if model.supports("elbo"):
        return "elbo", lambda x: model.elbo(x)["elbo"], 1
    raise NotApplicable(f"{type(model).__name__} provides none of log_prob, log_prob_bound, elbo")


def score_exactness(model: Model, capability: str, dequantization: str | None) -> str:
    """``estimate`` when ``log_prob`` rests on an estimated normaliser (an energy-based model's log Z),
    whatever else holds; else ``exact`` for an exact ``log_prob`` of the data as stored, ``bound``
    for a bound or a dequantised density (module docstring)."""
    if capability == "log_prob" and model.log_prob_exactness == "estimate":
        return "estimate"
    return "exact" if capability == "log_prob" and dequantization is None else "bound"


@torch.no_grad()
def score(fn: Batchwise, x: torch.Tensor, batch_size: int) -> dict[str, torch.Tensor]:
    """``fn`` over ``x`` batch by batch, each of its outputs ``(B,)``; returns ``(N,)`` float64 on the CPU."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    parts: dict[str, list[torch.Tensor]] = {}
    for batch in x.split(batch_size):
        for key, value in fn(batch).items():
            if value.shape != (len(batch),):
                raise ValueError(f"{key} must be shaped (batch,) = ({len(batch)},), got {tuple(value.shape)}")
            parts.setdefault(key, []).append(value.detach().double().cpu())
    return {key: torch.cat(values) for key, values in parts.items()}


# ---- values ---------------------------------------------------------------------------------------


def mean_and_sem(values: torch.Tensor) -> tuple[float, float | None]:
    """Mean over examples and its standard error (None with one example)."""
    sem = (values.std() / math.sqrt(len(values))).item() if len(values) > 1 else None
    return values.mean().item(), sem


def nats_value(name: str, nats: torch.Tensor, exactness: str, protocol: dict[str, Any]) -> MetricValue:
    """The mean of per-example nats, lower is better, its standard error in the protocol."""
    mean, sem = mean_and_sem(nats)
    return MetricValue(name, mean, "lower", "nats/example", exactness, {**protocol, "sem": sem})


def bits_per_dim_value(nats: MetricValue, name: str, dim: int) -> MetricValue:
    """The same number in bits/dim."""
    sem = nats.protocol["sem"]
    protocol = {**nats.protocol, "sem": None if sem is None else nats_to_bits_per_dim(sem, dim)}
    return MetricValue(name, nats_to_bits_per_dim(nats.value, dim), "lower", "bits/dim", nats.exactness, protocol)


def base_protocol(context: EvalContext, split: str, n: int, dequantization: str | None) -> dict[str, Any]:
    """What defines every likelihood number: the examples scored and how the data was seen."""
    data = context.dataset
    return {"split": split, "n": n, "dim": data.dim, "levels": data.levels, "density": context.model.density,
            "dequantization": dequantization}


# ---- metrics --------------------------------------------------------------------------------------


def evaluate_nll(context: EvalContext, k: int = 100, batch_size: int | None = None,
                 split: str = "test") -> list[MetricValue]:
    """Negative log-likelihood of a split: ``nll`` / ``bpd`` when exact, ``nll_bound_k{K}`` /
    ``bpd_bound_k{K}`` from an importance-weighted bound or the ELBO (K = 1)."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    capability, log_prob, used_k = choose_score(context.model, k)
    view, offset, dequantization = data_view(context)
    x = context.split(split)
    log_p = score(lambda b: {"log_p": log_prob(view(b))}, x, batch_size or context.batch_size)["log_p"] - offset
    suffix = "" if used_k is None else f"_bound_k{used_k}"
    protocol = {**base_protocol(context, split, len(x), dequantization), "score": capability, "k": used_k,
                **context.model.log_prob_protocol()}
    nll = nats_value(f"nll{suffix}", -log_p, score_exactness(context.model, capability, dequantization), protocol)
    data = context.dataset
    return [nll] if data.levels is None else [nll, bits_per_dim_value(nll, f"bpd{suffix}", data.dim)]


def evaluate_elbo(context: EvalContext, batch_size: int | None = None, split: str = "test") -> list[MetricValue]:
    """The negative ELBO (Kingma & Welling, 2014) in nats/example, an upper bound on ``-log P``, and
    its parts when the model returns them: ``elbo_reconstruction_nll = -E_q[log p(x|z)]`` and
    ``elbo_kl = KL(q(z|x) || p(z))``, their sum being ``neg_elbo``. Both parts are marked
    lower-is-better as the nats each costs, but they are diagnostics: a small KL can mean an
    unused latent (posterior collapse), not a better model. A continuous density's parts carry the
    dequantisation offset ``D log L`` in the reconstruction term, so ``neg_elbo`` compares with
    ``nll_bound_k1``."""
    model = context.model
    view, offset, dequantization = data_view(context)
    x = context.split(split)

    def parts(batch: torch.Tensor) -> dict[str, torch.Tensor]:
        return {key: value for key, value in model.elbo(view(batch)).items() if key in ELBO_PARTS}

    scored = score(parts, x, batch_size or context.batch_size)
    if "elbo" not in scored:
        raise ValueError(f"{type(model).__name__}.elbo() returned no 'elbo'; it must return {{'elbo': (B,), ...}}")
    protocol = {**base_protocol(context, split, len(x), dequantization), **model.log_prob_protocol()}
    values = [nats_value("neg_elbo", offset - scored["elbo"], "bound", protocol)]
    if "reconstruction" in scored:
        values.append(nats_value("elbo_reconstruction_nll", offset - scored["reconstruction"], "estimate", protocol))
    if "kl" in scored:
        values.append(nats_value("elbo_kl", scored["kl"], "estimate", protocol))
    return values
