"""A MAF as NCE's noise: flow contrastive estimation (Gao et al. 2020), without its joint training.

NCE learns fastest when the noise is close to the data (Gutmann & Hyvärinen 2012, §2.4), so the
noise may be the flow plugin's MAF (Papamakarios et al. 2017) at its defaults, fitted to the data by
maximum likelihood in the first ``noise_steps`` training steps and frozen afterwards. A MAF samples
in D sequential passes, which on images costs D passes per NCE step; its RealNVP (Dinh et al. 2017)
samples in one (``noise_flow``). Gao et al.
update the flow and the energy in turns, the flow minimising the same classification loss that the
energy maximises; a frozen maximum-likelihood flow is simpler, keeps the noise density fixed while
NCE's estimate of ``c`` converges, and is the first stage of their procedure.

NCE constrains the model only where noise or data fall. A maximum-likelihood flow has almost no
mass away from the data, so there the energy is free and, on 8 Gaussians, put most of its mass
outside the data's box. The noise is therefore a defensive mixture (Hesterberg 1995)

    q = (1 − w) q_flow + w q_fit,   w = ``DEFENSIVE_WEIGHT``,

with ``q_fit`` the fitted Gaussian that is the default noise: heavy enough tails everywhere, and
still mostly the flow.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from benchbench import Dataset
from benchbench_plugins.models.flow.model import Flow
from benchbench_plugins.models.flow.model import build as build_flow

DEFENSIVE_WEIGHT = 0.1  # share of the fitted Gaussian in the noise mixture


class FlowNoise(nn.Module):
    """``(1 − w) q_flow + w q_fit`` on the data space, the flow's samples before any quantisation."""

    def __init__(self, data: Dataset, fit: nn.Module, variant: str = "maf"):
        super().__init__()
        self.flow: Flow = build_flow(data, variant=variant)
        self.fit = fit

    def fit_step(self, x: torch.Tensor) -> float:
        """One maximum-likelihood step of the flow on a batch; its negative log-likelihood in nats."""
        return self.flow.train_step(x)["nll"]

    def sample(self, n: int) -> torch.Tensor:
        from_fit = int(torch.distributions.Binomial(n, torch.tensor(DEFENSIVE_WEIGHT)).sample())
        u, _ = self.flow.sample_latent(self.flow.flow, n - from_fit)
        return torch.cat([self.flow.preprocess.inverse(u)[0], self.fit.sample(from_fit)])

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        flow = self.flow.log_prob(x) + math.log(1 - DEFENSIVE_WEIGHT)
        return torch.logaddexp(flow, self.fit.log_prob(x) + math.log(DEFENSIVE_WEIGHT))
