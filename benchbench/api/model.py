"""The model contract. A model is an ``nn.Module`` that owns its optimisers and knows one training
step; the host's single training loop drives every family.

Optional capabilities are declared in ``capabilities`` and implemented as methods; the host and
the metrics ask the declaration, never ``hasattr``:

=================  =======================================================================
``log_prob``       ``log_prob(x) -> (B,)`` exact log-likelihood in nats
``elbo``           ``elbo(x) -> {"elbo": (B,), "reconstruction": (B,), "kl": (B,)}`` (parts optional)
``log_prob_bound`` ``log_prob_bound(x, k) -> (B,)`` importance-weighted lower bound, K samples
``encode``         ``encode(x) -> (B, Z)`` a representation
``decode``         ``decode(z, x=None) -> {"mean": (B, ...), "log_prob": (B,)}`` for ``z = encode(x)``: the
                   mean of p(x | z) in data space and, given ``x``, log p(x | z) in nats (as ``density``)
``conditional``    ``sample(n, labels)`` honours class labels
=================  =======================================================================

``density`` says what ``log_prob`` and its bounds measure: ``"discrete"`` for a probability mass
over the data's levels (Bernoulli, categorical), ``"continuous"`` for a density on the data space.
The likelihood metrics turn both into comparable bits/dim; models never convert units.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from .specs import CAPABILITIES


class Model(nn.Module):
    """Base class of every model plugin."""

    capabilities: frozenset[str] = frozenset()
    density: Literal["discrete", "continuous"] = "continuous"

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
        """``n`` samples in data space, shaped like the data, on the model's device."""
        raise NotImplementedError

    def supports(self, capability: str) -> bool:
        return capability in self.capabilities

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def optimizers(self) -> list[torch.optim.Optimizer]:
        """The optimisers the model owns (found among its attributes), for checkpoints."""
        return [v for v in vars(self).values() if isinstance(v, torch.optim.Optimizer)]
