"""Denoising diffusion probabilistic models (Ho et al. 2020; Sohl-Dickstein et al. 2015; Lecture 16):
a fixed forward process adds Gaussian noise over ``T`` steps (``schedules.py``, ``process.py``) and
a network ``ε_θ(x_t, t)`` learns to predict the noise, which defines the reverse process.

Training is Ho et al.'s ``L_simple`` (eq. 14, Algorithm 1): ``t ~ U{1..T}``, ``ε ~ N(0, I)``,
``‖ε − ε_θ(√ᾱ_t x_0 + √(1 − ᾱ_t) ε, t)‖²``, averaged over the dimensions as in their code; one
Adam step per ``train_step``, gradients clipped to norm ``grad_clip``, then an update of the
exponential moving average of the weights (``benchbench.nn.EMA``) that sampling and the bound use.

* ``ddpm``: ancestral sampling (Algorithm 2) with ``σ² = β_t`` or ``β̃_t``.
* ``ddim``: the same training, sampled by DDIM (Song et al. 2021) in ``sample_steps`` steps.
* ``cfg``: class-conditional training with labels dropped to the null label with probability
  ``p_uncond``, sampled with classifier-free guidance (Ho & Salimans 2022),
  ``ε̃ = (1 + w) ε_θ(x, y) − w ε_θ(x, ∅)``; ``w = 0`` is plain conditional sampling. The lecture
  notes write the same rule as ``ε_u + w' (ε_c − ε_u)`` with ``w' = 1 + w``.

Every variant gives the variational bound as its ``elbo`` (``bound.py``): a mass over the levels of
data with levels (the model's ``density`` is then ``"discrete"``), a density otherwise; cfg's is
the bound of its unconditional model (the null label). The sampler's settings (``sampling.py``)
are one value, ``model.sampling``; ``sample_with`` draws with others from the same weights.

Where this departs from the papers, and why:

* Ho et al. warm the learning rate up over 5000 steps; CPU budgets of a few thousand steps
  cannot spend them, so the rate is constant.
* The EMA warms up as TensorFlow's with ``num_updates`` (``benchbench.nn.EMA``): a fixed 0.9999 would sample
  the initial weights after a short budget.
* DDIM's quadratic subsequence drops the repeated steps of the paper's rounding (``process.py``),
  and DDIM re-derives ``ε`` from a clipped ``x̂_0`` (as ``improved-diffusion``).
* The discretised decoder's bin masses are computed without Ho et al.'s ``1e-12`` floor (``bound.py``).
* Toy data on ``R^D`` are neither rescaled nor clipped (``space.py``); images are, as in the paper.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from benchbench import CapabilityError, Dataset, MetricValue, Model, ModelDiverged
from benchbench.nn import EMA, gradient_step

from . import config as settings
from .bound import variational_bound
from .process import NoisePrediction, q_sample
from .sampling import Sampling
from .schedules import Schedule
from .space import DataSpace

SAMPLE_CHUNK = 2048  # samples drawn at once: bounds memory, not the result


class DiffusionModel(Model):
    """An ε-prediction DDPM on ``space``; unconditional (see :class:`GuidedDiffusion`)."""

    capabilities = frozenset({"elbo"})

    def __init__(self, label: str, net: nn.Module, schedule: Schedule, space: DataSpace, shape: tuple[int, ...],
                 sampling: Sampling, *, lr: float, grad_clip: float, ema_decay: float, bound_timesteps: int):
        super().__init__()
        self.label, self.net, self.schedule, self.space, self.shape = label, net, schedule, space, shape
        self.sampling, self.grad_clip, self.bound_timesteps = sampling, grad_clip, bound_timesteps
        self.density = space.density  # type: ignore[assignment]
        self.ema = EMA(net, ema_decay) if ema_decay > 0 else None
        self.opt = torch.optim.Adam(net.parameters(), lr=lr)
        self.last_sampling: tuple[Sampling, int] | None = None  # settings and sample count of the last sample()

    @property
    def sampling_net(self) -> nn.Module:
        """The network that samples and scores: the EMA of the weights, or the weights without one."""
        return self.ema.shadow if self.ema is not None else self.net

    def training_labels(self, y: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor | None:
        """The labels the network sees in training on the batch ``x``; none for an unconditional model."""
        return None

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, float]:
        x0 = self.space.to_model(x)
        t = torch.randint(len(self.schedule), (len(x0),), device=x0.device)
        noise = torch.randn_like(x0)
        eps = self.net(q_sample(self.schedule, x0, t, noise), t.float(), self.training_labels(y, x0))
        loss = F.mse_loss(eps, noise)  # L_simple: mean over batch and dimensions
        if not torch.isfinite(loss):
            raise ModelDiverged(f"{self.label}: the loss L_simple is {loss.item()}")
        gradient_step(loss, self.opt, self.grad_clip or None)
        if self.ema is not None:
            self.ema.update(self.net)
        return {"loss": loss.item()}

    def noise_prediction(self, labels: torch.Tensor | None, guidance: float) -> NoisePrediction:
        """``ε_θ`` of the sampling network; an unconditional model ignores labels and guidance."""
        net = self.sampling_net
        return lambda x, t: net(x, t.float())

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.sample_with(self.sampling, n, labels)

    @torch.no_grad()
    def sample_with(self, sampling: Sampling, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        """``n`` samples drawn with ``sampling``'s settings from the same weights, shaped like the data."""
        if problem := sampling.problem(len(self.schedule)):
            raise CapabilityError(f"{self.label}: {problem}")
        labels = self.sampling_labels(labels, n)
        chunks = []
        for start in range(0, n, SAMPLE_CHUNK):
            m = min(SAMPLE_CHUNK, n - start)
            chunk_labels = None if labels is None else labels[start:start + m]
            x = torch.randn(m, *self.shape, device=self.device)  # x_T
            predict = self.noise_prediction(chunk_labels, sampling.guidance)
            chunks.append(sampling.run(predict, self.schedule, x, self.space.clip))
        self.last_sampling = (sampling, n)
        x0 = torch.cat(chunks) if chunks else torch.zeros(0, *self.shape, device=self.device)
        return self.space.to_data(x0)

    def sampling_labels(self, labels: torch.Tensor | None, n: int) -> torch.Tensor | None:
        """The labels samples are drawn for; none for an unconditional model."""
        return None

    def sampling_protocol(self) -> dict[str, Any]:
        """How ``sample`` draws: the sampler's settings, the schedule and the EMA."""
        return self.protocol_of(self.sampling)

    def protocol_of(self, sampling: Sampling) -> dict[str, Any]:
        """How samples drawn with ``sampling`` are drawn, schedule and EMA included."""
        conditional = self.supports("conditional")
        return {**sampling.protocol(len(self.schedule), self.space.clip, conditional), **self.weights_protocol()}

    def weights_protocol(self) -> dict[str, Any]:
        """The schedule and whether the EMA of the weights is used."""
        return {"schedule": self.schedule.name, "timesteps": len(self.schedule), "ema": self.ema is not None,
                "ema_decay": self.ema.decay if self.ema is not None else None}

    def sampling_values(self) -> list[MetricValue]:
        """Network evaluations per sample of the last ``sample`` call (two per step with guidance)."""
        if self.last_sampling is None:
            return []
        sampling, n = self.last_sampling
        evals = sampling.network_evals(len(self.schedule), self.supports("conditional"))
        return [MetricValue("network_evals_per_sample", float(evals), "lower", "evals/sample", "measured",
                            {**self.protocol_of(sampling), "n": n})]

    @torch.no_grad()
    def elbo(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The variational bound in nats, with the EMA weights: ``elbo``, ``reconstruction``
        ``log p(x_0 | x_1)`` and ``kl`` (prior and reverse-step terms), each ``(B,)``."""
        predict = self.noise_prediction(None, 0.0)
        return variational_bound(predict, self.schedule, self.space.to_model(x), self.sampling.variance,
                                 self.space.clip, self.space.decoder, self.bound_timesteps)

    def log_prob_protocol(self) -> dict[str, Any]:
        """How the bound is computed: its terms, decoder and reverse variance."""
        kl_terms = len(self.schedule) - 1
        terms = (f"all {len(self.schedule)}: prior, {kl_terms} KL, decoder" if not self.bound_timesteps else
                 f"prior, decoder and an unbiased estimate of the {kl_terms} KL terms from {self.bound_timesteps} "
                 f"sampled t per example, times {kl_terms}/{self.bound_timesteps}")
        return {"terms": terms, **self.space.describe(), "variance": self.sampling.variance,
                "clipping": self.space.clip is not None, **self.weights_protocol()}


class GuidedDiffusion(DiffusionModel):
    """Class-conditional, for classifier-free guidance (Ho & Salimans 2022): labels are replaced by
    the null label ``num_classes`` with probability ``p_uncond`` in training (all of them when a
    batch comes without labels), and ``sample(n, labels)`` draws for the given labels, or for
    uniformly random ones."""

    capabilities = frozenset({"elbo", "conditional"})

    def __init__(self, *, num_classes: int, p_uncond: float, **base: Any):
        super().__init__(**base)
        self.num_classes, self.p_uncond = num_classes, p_uncond

    def null_labels(self, n: int, device: torch.device) -> torch.Tensor:
        return torch.full((n,), self.num_classes, dtype=torch.long, device=device)

    def training_labels(self, y: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor:
        if y is None:
            return self.null_labels(len(x), x.device)
        dropped = torch.rand(len(y), device=y.device) < self.p_uncond
        return torch.where(dropped, self.null_labels(len(y), y.device), y.long())

    def sampling_labels(self, labels: torch.Tensor | None, n: int) -> torch.Tensor:
        if labels is None:
            return torch.randint(self.num_classes, (n,), device=self.device)
        return labels.to(self.device, torch.long)

    def noise_prediction(self, labels: torch.Tensor | None, guidance: float) -> NoisePrediction:
        """``ε̃ = (1 + w) ε_θ(x, y) − w ε_θ(x, ∅)``, both halves in one batch; ``labels`` None: ``ε_θ(x, ∅)``."""
        net = self.sampling_net
        if labels is None or guidance == 0:
            return lambda x, t: net(x, t.float(), labels)

        def guided(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            both = torch.cat([labels, self.null_labels(len(labels), labels.device)])
            conditional, unconditional = net(torch.cat([x, x]), torch.cat([t, t]).float(), both).chunk(2)
            return (1 + guidance) * conditional - guidance * unconditional
        return guided


# ---- build ------------------------------------------------------------------------------------------


def build(data: Dataset, variant: str = "ddpm", **params: Any) -> DiffusionModel:
    """The variant on ``data``."""
    label = f"model 'diffusion', variant {variant!r}"
    config = settings.checked(label, data, variant, params)
    schedule = Schedule.named(config.schedule, config.timesteps, config.beta_start, config.beta_end,
                              config.cosine_s, config.max_beta)
    num_classes = data.num_classes if variant == "cfg" else None
    base = {"label": label, "net": config.build_denoiser(data.shape, num_classes), "schedule": schedule,
            "space": DataSpace.of(data), "shape": data.shape, "sampling": config.sampling(), "lr": config.lr,
            "grad_clip": config.grad_clip, "ema_decay": config.ema_decay, "bound_timesteps": config.bound_timesteps}
    if variant == "cfg":
        return GuidedDiffusion(num_classes=num_classes, p_uncond=config.p_uncond, **base)  # type: ignore[arg-type]
    return DiffusionModel(**base)
