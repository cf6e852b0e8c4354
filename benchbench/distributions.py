"""Output distributions over data shared by model families: one per data kind.

Each maps a network's raw output to a log-likelihood of data stored as the host stores it
(binary 0/1, discrete ``k / (L - 1)``, continuous floats) and to samples in the same space.
Families pick one with :func:`for_data` (the natural one for the data kind), or with :func:`by_name`
when the user chooses (a mixture of Gaussians, a discretised logistic mixture), instead of writing
their own.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from .errors import CapabilityError
from .nn import gaussian_log_prob, to_levels


class Likelihood:
    """``params_per_dim`` raw outputs per data dimension parameterise p(x | ·)."""

    params_per_dim: int = 1
    density: str = "discrete"

    def log_prob(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``out`` (B, D * params_per_dim), ``x`` (B, D) → (B,) log-likelihood in nats."""
        raise NotImplementedError

    def sample(self, out: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def mean(self, out: torch.Tensor) -> torch.Tensor:
        """E[x] in data space, (B, D): what a decoder reconstructs."""
        raise NotImplementedError

    def level_probs(self, out: torch.Tensor) -> torch.Tensor:
        """``out`` (B, D * params_per_dim) → (B, D, L) probabilities of the data's L levels: what an
        entropy coder codes with. A density has none."""
        raise CapabilityError(f"{type(self).__name__} is a density, not probabilities over levels: nothing to entropy-code with")


class Bernoulli(Likelihood):
    """Binary data; ``out`` are logits."""

    def log_prob(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return -F.binary_cross_entropy_with_logits(out, x, reduction="none").sum(1)

    def sample(self, out: torch.Tensor) -> torch.Tensor:
        return torch.bernoulli(torch.sigmoid(out))

    def mean(self, out: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(out)

    def level_probs(self, out: torch.Tensor) -> torch.Tensor:
        return torch.stack([torch.sigmoid(-out), torch.sigmoid(out)], -1)


class Categorical(Likelihood):
    """Discrete data with L levels; ``out`` holds L logits per dimension, laid out (B, D, L)."""

    def __init__(self, levels: int):
        self.levels = self.params_per_dim = levels

    def log_prob(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        logits = out.view(len(x), -1, self.levels)
        return -F.cross_entropy(logits.transpose(1, 2), to_levels(x, self.levels), reduction="none").sum(1)

    def sample(self, out: torch.Tensor) -> torch.Tensor:
        logits = out.view(len(out), -1, self.levels)
        k = torch.distributions.Categorical(logits=logits).sample()
        return k.float() / (self.levels - 1)

    def mean(self, out: torch.Tensor) -> torch.Tensor:
        values = torch.arange(self.levels, device=out.device, dtype=out.dtype) / (self.levels - 1)
        return (out.view(len(out), -1, self.levels).softmax(-1) * values).sum(-1)

    def level_probs(self, out: torch.Tensor) -> torch.Tensor:
        return out.view(len(out), -1, self.levels).softmax(-1)


class Gaussian(Likelihood):
    """Continuous data; ``out`` holds a mean and a log-variance per dimension."""

    params_per_dim = 2
    density = "continuous"

    def log_prob(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        mean, log_var = out.view(len(x), -1, 2).unbind(-1)
        return gaussian_log_prob(x, mean, log_var.clamp(-12, 8))

    def sample(self, out: torch.Tensor) -> torch.Tensor:
        mean, log_var = out.view(len(out), -1, 2).unbind(-1)
        return mean + torch.randn_like(mean) * (0.5 * log_var.clamp(-12, 8)).exp()

    def mean(self, out: torch.Tensor) -> torch.Tensor:
        return out.view(len(out), -1, 2)[..., 0]


def for_data(kind: str, levels: int | None) -> Likelihood:
    """The natural output distribution for data of ``kind``: Bernoulli, categorical or Gaussian."""
    if kind == "binary":
        return Bernoulli()
    if kind == "discrete":
        return Categorical(int(levels or 0))
    return Gaussian()


class MixtureOfGaussians(Likelihood):
    """Continuous data, a mixture of ``K`` univariate Gaussians per dimension: ``out`` holds K
    mixture logits, K means and K log standard deviations per dimension, laid out (B, D, 3, K).
    The conditionals of RNADE (Uria et al. 2013) and of MADE-MoG (Papamakarios et al. 2017):
    one Gaussian cannot put a conditional's mass on two separate modes."""

    density = "continuous"

    def __init__(self, components: int):
        self.components, self.params_per_dim = components, 3 * components

    def _split(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        logits, mean, log_std = out.view(len(out), -1, 3, self.components).unbind(2)  # (B, D, K) each
        return F.log_softmax(logits, -1), mean, log_std.clamp(-7, 5)

    def log_prob(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        log_weight, mean, log_std = self._split(out)
        z = (x[..., None] - mean) * torch.exp(-log_std)
        log_normal = -0.5 * (z**2 + math.log(2 * math.pi)) - log_std  # (B, D, K)
        return torch.logsumexp(log_weight + log_normal, -1).sum(1)

    def sample(self, out: torch.Tensor) -> torch.Tensor:
        log_weight, mean, log_std = self._split(out)
        pick = _component(log_weight)
        return pick(mean) + pick(log_std).exp() * torch.randn_like(mean[..., 0])

    def mean(self, out: torch.Tensor) -> torch.Tensor:
        log_weight, mean, _ = self._split(out)
        return (log_weight.exp() * mean).sum(-1)


class DiscretizedLogisticMixture(Likelihood):
    """Discrete data with L levels under a mixture of ``K`` logistics per dimension, each
    integrated over the level's bin (Salimans et al. 2017, PixelCNN++): levels are placed at
    ``2k / (L - 1) - 1`` in [-1, 1], the first and last bins stretched to -inf and +inf, so the
    masses of the L levels sum to one exactly. ``out`` is laid out (B, D, 3, K) like
    :class:`MixtureOfGaussians`. Neighbouring levels share mass, which a categorical over 256
    levels must learn level by level."""

    def __init__(self, levels: int, components: int):
        self.levels, self.components, self.params_per_dim = levels, components, 3 * components

    def _split(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        logits, mean, log_scale = out.view(len(out), -1, 3, self.components).unbind(2)  # (B, D, K) each
        return F.log_softmax(logits, -1), mean, log_scale.clamp(min=-7)

    def log_mass(self, out: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """log P(level k) of each dimension: ``k`` (B, D, M) integer levels → (B, D, M)."""
        log_weight, mean, log_scale = (t[:, :, None] for t in self._split(out))  # (B, D, 1, K)
        k = k[..., None]  # (B, D, M, 1)
        half_bin, inv_scale = 1 / (self.levels - 1), torch.exp(-log_scale)
        centred = 2 * k / (self.levels - 1) - 1 - mean
        upper, lower = inv_scale * (centred + half_bin), inv_scale * (centred - half_bin)
        # log(sigmoid(a) - sigmoid(b)) = log sigmoid(a) + log sigmoid(-b) + log(1 - e^(b - a)), stable for a > b
        log_cdf_upper, log_sf_lower = F.logsigmoid(upper), F.logsigmoid(-lower)
        inside = log_cdf_upper + log_sf_lower + torch.log(-torch.expm1(-2 * half_bin * inv_scale))
        per_component = torch.where(k == 0, log_cdf_upper, torch.where(k == self.levels - 1, log_sf_lower, inside))
        return torch.logsumexp(log_weight + per_component, -1)

    def log_prob(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.log_mass(out, to_levels(x, self.levels)[..., None]).sum((1, 2))

    def level_probs(self, out: torch.Tensor) -> torch.Tensor:
        levels = torch.arange(self.levels, device=out.device)
        return self.log_mass(out, levels.expand(len(out), out.shape[1] // self.params_per_dim, -1)).exp()  # (B, D, L)

    def mean(self, out: torch.Tensor) -> torch.Tensor:
        levels = torch.arange(self.levels, device=out.device)
        return (self.level_probs(out) * levels.to(out.dtype) / (self.levels - 1)).sum(-1)

    def sample(self, out: torch.Tensor) -> torch.Tensor:
        log_weight, mean, log_scale = self._split(out)
        pick = _component(log_weight)
        u = torch.rand_like(mean[..., 0]).clamp(1e-5, 1 - 1e-5)
        y = pick(mean) + pick(log_scale).exp() * (torch.log(u) - torch.log1p(-u))  # logistic noise
        k = torch.round((y + 1) / 2 * (self.levels - 1)).clamp(0, self.levels - 1)
        return k / (self.levels - 1)


def _component(log_weight: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """Draw one mixture component per (example, dimension); returns a picker of its parameter."""
    index = torch.distributions.Categorical(logits=log_weight).sample()[..., None]  # (B, D, 1)
    return lambda t: t.gather(-1, index).squeeze(-1)


CONDITIONALS = ("auto", "bernoulli", "categorical", "logistic-mixture", "gaussian")


def by_name(name: str, kind: str, levels: int | None, components: int = 1) -> Likelihood:
    """The output distribution ``name`` (one of :data:`CONDITIONALS`) for data of ``kind``.

    ``auto`` is :func:`for_data`, with a mixture of ``components`` Gaussians on continuous data;
    ``gaussian`` is one Gaussian (``components = 1``) or a mixture, on any data (a density, which
    the host dequantises on data with levels). Raises ``ValueError`` naming the mismatch when the
    data cannot take it, e.g. Bernoulli on 17-level data; callers re-raise it with their name.
    """
    if components < 1:
        raise ValueError(f"components must be at least 1, got {components}")
    if name == "auto":
        name = {"binary": "bernoulli", "discrete": "categorical"}.get(kind, "gaussian")
    if name == "bernoulli" and kind != "binary":
        raise ValueError(f"Bernoulli conditionals need binary data, the data is {_describe(kind, levels)}")
    if name in ("categorical", "logistic-mixture") and not levels:
        raise ValueError(f"{name} conditionals need data with levels, the data is {_describe(kind, levels)}")
    if name == "bernoulli":
        return Bernoulli()
    if name == "categorical":
        return Categorical(int(levels or 0))
    if name == "logistic-mixture":
        return DiscretizedLogisticMixture(int(levels or 0), components)
    if name == "gaussian":
        return Gaussian() if components == 1 else MixtureOfGaussians(components)
    raise ValueError(f"unknown conditional {name!r}; choose one of {', '.join(CONDITIONALS)}")


def _describe(kind: str, levels: int | None) -> str:
    return f"discrete with {levels} levels" if kind == "discrete" else kind
