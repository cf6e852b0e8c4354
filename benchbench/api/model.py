"""The model contract. A model is an ``nn.Module`` that owns its optimisers and knows one training
step; the host's single training loop drives every family.

Optional capabilities are declared in ``capabilities`` and implemented as methods; the host and
the metrics ask the declaration, never ``hasattr``:

======================  ==================================================================
``log_prob``            ``log_prob(x) -> (B,)`` exact log-likelihood in nats
``elbo``                ``elbo(x) -> {"elbo": (B,), "reconstruction": (B,), "kl": (B,)}`` (parts optional)
``log_prob_bound``      ``log_prob_bound(x, k) -> (B,)`` importance-weighted lower bound, K samples
``encode``              ``encode(x) -> (B, Z)`` a representation
``decode``              ``decode(z, x=None) -> {"mean": (B, ...), "log_prob": (B,)}`` for ``z = encode(x)``:
                        the mean of p(x | z) in data space and, given ``x``, log p(x | z) in nats (as
                        ``density``)
``conditional``         ``sample(n, labels)`` honours class labels
``pixel_conditionals``  ``pixel_order() -> list[int]``: the flat data dimensions in the order of the
                        model's chain rule; ``pixel_probs(x, d) -> (B, L)``: P(x_d = level | the
                        dimensions before ``d`` in that order), ``x`` (B, *shape) as stored, whatever it
                        holds at ``d`` and after; their product is ``exp(log_prob(x))``
``latent_coding``       ``latent_posterior(x) -> (mean, std)``, (B, Z) each: q(z | x) = N(mean, diag std²)
                        under the prior p(z) = N(0, I); ``decoder_probs(z) -> (B, D, L)``:
                        P(x_d = level | z), the dimensions independent given z, as in ``elbo``
======================  ==================================================================

The last two are what an entropy coder needs (the ``compression`` metric, which sets its streams
beside ``log_prob`` and ``elbo``, so a model declares those too): L is the data's levels (2 on
binary data), they are used only while the model's ``density`` is ``"discrete"``, and every
probability is a pure function of its inputs, so the coder's encoder and decoder, asking the same question with a batch of the
same composition, get the same floats bit for bit. ``pixel_probs`` must not look at ``x`` from
``d`` on: the decoder has not decoded those dimensions yet (it passes zeros there).

``density`` says what ``log_prob`` and its bounds measure: ``"discrete"`` for a probability mass
over the data's levels (Bernoulli, categorical), ``"continuous"`` for a density on the data space.
The likelihood metrics turn both into comparable bits/dim; models never convert units.

``log_prob_exactness`` is ``"estimate"`` for a model whose ``log_prob`` rests on an estimated
normaliser (an energy-based model's log Z by quadrature or annealed importance sampling); the
metrics then label every number from it ``estimate``, with ``log_prob_protocol()`` (how log Z was
obtained) in their protocol. ``sampling_values()`` reports what the last ``sample`` call measured
about itself (network evaluations per sample, an acceptance rate); the host records them beside
samples per second.

``sampling_protocol()`` says how ``sample`` draws (sampler, steps, spacing, eta, variance choice,
clipping, EMA weights, guidance weight): the host records it as ``protocol["sampling"]`` of every
number computed from the samples (the values of metrics that require samples, samples per second,
the ``sampling_values()`` rows), so two numbers from differently drawn samples never look alike.

A ``conditional`` model on data with labels is sampled as ``sample(n, labels)`` with class-balanced
labels (``(n,)`` int64 on its device; metrics see them as ``EvalContext.sample_labels``); any other
model, or data without labels, as ``sample(n)``. A variant that cannot sample without labels is
refused by its factory (``CapabilityError``) on data without them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import torch
from torch import nn

from .specs import CAPABILITIES

if TYPE_CHECKING:
    from .metric import MetricValue


class Model(nn.Module):
    """Base class of every model plugin."""

    capabilities: frozenset[str] = frozenset()
    density: Literal["discrete", "continuous"] = "continuous"
    log_prob_exactness: Literal["exact", "estimate"] = "exact"

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        unknown = set(cls.capabilities) - CAPABILITIES
        if unknown:
            raise TypeError(f"{cls.__name__} declares unknown capabilities {sorted(unknown)}; known: {sorted(CAPABILITIES)}")

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, float]:
        """One optimisation step on a batch ``x`` (labels ``y`` when the dataset has them).
        Returns the step's losses as floats, for progress and the divergence guard."""
        raise NotImplementedError

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        """``n`` samples in data space, shaped like the data, on the model's device; ``labels``
        ``(n,)`` int64, the class of each sample, only for a ``conditional`` model on labelled data."""
        raise NotImplementedError

    def log_prob_protocol(self) -> dict[str, Any]:
        """How ``log_prob`` or the bound was computed when that is not by a closed form (the
        normaliser's grid or AIS chains, a diffusion bound's terms): merged into the protocol of
        every likelihood number. Call after
        training; it may compute and cache what it reports."""
        return {}

    def sampling_protocol(self) -> dict[str, Any]:
        """How ``sample`` draws, for the protocol of every number computed from the samples
        (sampler, steps, guidance weight, EMA...): JSON-able, string keys. Empty by default."""
        return {}

    def sampling_values(self) -> list[MetricValue]:
        """Values the last ``sample`` call measured about itself, recorded as the cell's cost rows
        (exactness ``measured``), e.g. energy-gradient evaluations per sample. None by default."""
        return []

    def supports(self, capability: str) -> bool:
        return capability in self.capabilities

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def optimizers(self) -> list[torch.optim.Optimizer]:
        """The optimisers the model owns (found among its attributes), for checkpoints."""
        return [v for v in vars(self).values() if isinstance(v, torch.optim.Optimizer)]
