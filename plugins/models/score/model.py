"""Score-based generative models: a network ``s_θ(x, t) ≈ ∇_x log p_t(x)`` for the data perturbed by
Gaussian noise at every level ``t``, sampled by following the score from noise back to data
(Lectures 13–14 and 16).

Every variant shares one parameterisation, NCSNv2's technique 3 (Song & Ermon 2020, §3.3):

    s_θ(x, t) = net(x, τ(t)) / std(t),

the denoiser (:func:`benchbench.denoisers.denoiser`) seeing the noise level through ``τ`` on its
0..1000 scale; ``std`` is the perturbation's standard deviation (for VP this is Song et al.'s
ε-parameterisation, ``s = −ε_θ / std``, with the sign in ``net``). Each is trained on the
perturbed data at a random level by :mod:`.objectives`, weighted by ``std²``:

* :class:`NoiseConditionalModel` (``ncsn``; Song & Ermon 2019): ``L`` levels ``σ_1 > … > σ_L``
  (:mod:`.noise_levels`), one drawn uniformly per example, ``τ`` affine in ``log σ``; denoising
  score matching; sampled by annealed Langevin dynamics (:func:`.samplers.annealed_langevin`)
  from ``N(0, σ_1² I)``, the final Tweedie step by default.
* :class:`SlicedNoiseConditionalModel` (``ssm``): the same network and levels trained by sliced
  score matching on the perturbed data (Song et al. 2019), for comparison on equal budgets.
* :class:`ScoreSDEModel` (``sde-ve``, ``sde-vp``; Song et al. 2021): ``t ~ U(eps, 1)``, the VE or
  VP kernel (:mod:`.sdes`), ``τ = 999 t``; sampled by a reverse-SDE predictor, predictor-corrector
  or the probability-flow ODE from the prior, and scored by that ODE's change of variables
  (:mod:`.likelihood`), an ``estimate``: the score is learned, the integral solved numerically,
  the divergence exact in few dimensions or estimated by Hutchinson probes.

The EMA copy of the network (:mod:`.ema`, NCSNv2 technique 5) samples and scores; the optimiser
trains the live one. Images and data with levels (dequantised by the host to ``[0, 1)^D``) are
mapped to ``[−1, 1]^D`` inside (Ho et al. 2020; Song et al.'s centred data) and the log-Jacobian
``D log 2`` is added to ``log_prob``, so it stays a density on the data space; samples are mapped
back to stored values.

Where this departs from the papers, and why:

* Technique 2 asks no particular ``L`` in ``D ≤ 4`` dimensions (every ratio overlaps enough there;
  :mod:`.noise_levels`), and on larger images more levels than a CPU budget can sample (219 on
  CIFAR-10): ``L`` is capped at ``max_noise_levels`` (30 by default), which sets ``L`` for 2-D
  data; 8x8 digits get technique 2's 24.
* Annealed Langevin starts from ``N(0, σ_1² I)`` (the VE prior, Song et al. 2021) rather than
  NCSN's uniform noise, which is defined only for data in a box.
* The VE and VP reverse-diffusion steps come from the exact kernels between grid times
  (:meth:`.sdes.SDE.discretize`), not Song et al.'s separate discrete schedules; for VE they agree
  and for VP they differ by ``O(1/N²)``.
* One ``eps`` (1e-5) for training, sampling and likelihood; Song et al. sample VP from 1e-3.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from benchbench import CapabilityError, Dataset, MetricValue, Model, ModelDiverged
from benchbench.nn import EMA, gradient_step, quantize

from . import config as settings
from . import noise_levels, objectives, samplers
from .likelihood import ode_log_likelihood
from .sdes import SDE, VESDE, VPSDE, per_example

SAMPLE_CHUNK = 4096  # samples drawn at once by ``sample``: bounds memory, not the result
DISTANCE_POINTS = 2000  # technique 1 on at most this many train points: pdist is quadratic
TIME_SCALE = 999.0  # the network's time input: Song et al.'s 999 t on the denoiser's 0..1000 scale


@dataclass(frozen=True)
class DataSpace:
    """Where the model works: ``[−1, 1]^D`` for data in the cube (images, data with levels), the
    data space itself otherwise."""

    bounded: bool
    levels: int | None
    dim: int

    @classmethod
    def of(cls, data: Dataset) -> DataSpace:
        return cls(data.is_image or data.levels is not None, data.levels, data.dim)

    def to_model(self, x: torch.Tensor) -> torch.Tensor:
        return 2 * x - 1 if self.bounded else x

    def to_data(self, y: torch.Tensor) -> torch.Tensor:
        """Model-space points as data: the stored value of their cell for data with levels, clamped
        to the cube for other images."""
        if not self.bounded:
            return y
        x = (y + 1) / 2
        return quantize(x, self.levels) if self.levels else x.clamp(0, 1)

    def log_jacobian(self) -> float:
        """``log |det ∂y/∂x|`` of ``y = 2x − 1``: ``D log 2`` nats (0 off the cube)."""
        return self.dim * math.log(2) if self.bounded else 0.0


class ScoreModel(Model):
    """``s(x, t) = net(x, τ(t)) / std(t)``; a subclass gives the levels (``draw_levels``, ``kernel``,
    ``network_time``) and the sampler (``draw``)."""

    def __init__(self, label: str, net: nn.Module, space: DataSpace, shape: tuple[int, ...],
                 config: settings.Config):
        super().__init__()
        self.label, self.net, self.space, self.shape, self.config = label, net, space, shape, config
        self.ema = EMA(net, config.ema_decay) if config.ema_decay > 0 else None
        # fused: Adam's per-tensor loop took a third of a toy MLP's step on one CPU thread
        self.opt = torch.optim.Adam(net.parameters(), lr=config.lr, fused=True)
        self.last_sampling: list[tuple[int, int]] = []  # (samples, score evaluations each) per chunk

    # ---- the score ----------------------------------------------------------------------------------

    def kernel(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``scale(t)`` and ``std(t)`` of the perturbation at level ``t``."""
        raise NotImplementedError

    def network_time(self, t: torch.Tensor) -> torch.Tensor:
        """The denoiser's time input ``τ(t)`` on its 0..1000 scale."""
        raise NotImplementedError

    def draw_levels(self, n: int) -> torch.Tensor:
        """Random levels ``t`` for a training batch, ``(n,)`` float64."""
        raise NotImplementedError

    @property
    def sampling_net(self) -> nn.Module:
        """The network that samples and scores: the EMA copy when there is one."""
        return self.ema.shadow if self.ema is not None else self.net

    def score(self, x: torch.Tensor, t: torch.Tensor, net: nn.Module | None = None) -> torch.Tensor:
        """``s(x, t)`` shaped like ``x``; ``t`` 0-d or ``(B,)``; ``net`` defaults to :attr:`sampling_net`."""
        net = self.sampling_net if net is None else net
        tau = self.network_time(t).to(x.dtype).expand(len(x))
        return net(x, tau) / per_example(self.kernel(t)[1], x)

    # ---- training -----------------------------------------------------------------------------------

    def objective(self, x0: torch.Tensor, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Denoising score matching per example ``(B,)`` (:mod:`.objectives`)."""
        scale, std = self.kernel(t)
        return objectives.denoising_score_matching(lambda y: self.score(y, t, self.net), x0, scale, std, z)

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, float]:
        x0 = self.space.to_model(x)
        t = self.draw_levels(len(x0)).to(x0.device)
        loss = self.objective(x0, t, torch.randn_like(x0)).mean()
        if not torch.isfinite(loss):
            raise ModelDiverged(f"{self.label}: the loss is {loss.item()}")
        gradient_step(loss, self.opt, self.config.grad_clip)
        if self.ema is not None:
            self.ema.update(self.net)
        return {"loss": loss.item()}

    # ---- sampling -----------------------------------------------------------------------------------

    def draw(self, n: int) -> tuple[torch.Tensor, int]:
        """``n`` samples in model space and the score evaluations each cost."""
        raise NotImplementedError

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        sizes = [min(SAMPLE_CHUNK, n - i) for i in range(0, n, SAMPLE_CHUNK)]
        runs = [self.draw(m) for m in sizes]
        self.last_sampling = [(m, evals) for m, (_, evals) in zip(sizes, runs)]
        states = torch.cat([x for x, _ in runs]) if runs else torch.zeros(0, *self.shape, device=self.device)
        return self.space.to_data(states)

    def sampling_protocol(self) -> dict[str, Any]:
        """How ``sample`` draws: the sampler's settings, the final step, the EMA."""
        denoise = "tweedie" if self.config.denoise else None
        return {**self.sampler_protocol(), "denoise": denoise, "ema_decay": self.config.ema_decay}

    def sampler_protocol(self) -> dict[str, Any]:
        raise NotImplementedError

    def sampling_values(self) -> list[MetricValue]:
        """Score-network evaluations per sample of the last ``sample`` call (the host adds
        :meth:`sampling_protocol` to the row's protocol)."""
        if not self.last_sampling:
            return []
        n = sum(m for m, _ in self.last_sampling)
        evals = sum(m * e for m, e in self.last_sampling) / max(n, 1)
        return [MetricValue("network_evals_per_sample", float(evals), "lower", "evals/sample", "measured", {"n": n})]


class NoiseConditionalModel(ScoreModel):
    """NCSN: the levels ``sigmas`` ``(L,)`` (decreasing), annealed Langevin with ``step_size`` ε."""

    def __init__(self, *, sigmas: torch.Tensor, step_size: float, step_size_rule: str, **base: Any):
        super().__init__(**base)
        self.register_buffer("sigmas", sigmas)
        self.step_size, self.step_size_rule = step_size, step_size_rule

    def kernel(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.ones_like(t), t  # the level is σ itself

    def network_time(self, t: torch.Tensor) -> torch.Tensor:
        """``999 log(σ / σ_L) / log(σ_1 / σ_L)``: σ_L ↦ 0, σ_1 ↦ 999."""
        low, high = self.sigmas[-1], self.sigmas[0]
        return TIME_SCALE * torch.log(t / low) / torch.log(high / low)

    def draw_levels(self, n: int) -> torch.Tensor:
        return self.sigmas[torch.randint(len(self.sigmas), (n,), device=self.sigmas.device)]

    def draw(self, n: int) -> tuple[torch.Tensor, int]:
        start = float(self.sigmas[0]) * torch.randn(n, *self.shape, device=self.device)
        return samplers.annealed_langevin(self.score, start, self.sigmas, self.config.langevin_steps,
                                          self.step_size, self.config.denoise)

    def sampler_protocol(self) -> dict[str, Any]:
        return {"sampler": "annealed-langevin", "noise_levels": len(self.sigmas), "sigma_max": float(self.sigmas[0]),
                "sigma_min": float(self.sigmas[-1]), "steps_per_level": self.config.langevin_steps,
                "step_size": self.step_size, "step_size_rule": self.step_size_rule,
                "start": "N(0, sigma_max^2 I)"}


class SlicedNoiseConditionalModel(NoiseConditionalModel):
    """NCSN trained by sliced score matching (SSM-VR) at each level instead of DSM."""

    def objective(self, x0: torch.Tensor, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        scale, std = self.kernel(t)
        return objectives.sliced_score_matching_at(lambda y: self.score(y, t, self.net), x0, scale, std, z,
                                                   self.config.projections, self.config.projection)


class ScoreSDEModel(ScoreModel):
    """A score SDE (VE or VP): ``t ~ U(eps, 1)``; reverse-SDE or ODE sampling; ODE likelihood."""

    capabilities = frozenset({"log_prob"})
    log_prob_exactness = "estimate"

    def __init__(self, *, sde: SDE, **base: Any):
        super().__init__(**base)
        self.sde = sde
        self.likelihood_nfev: list[int] = []  # solver evaluations of each log_prob call since training

    def kernel(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.sde.scale(t), self.sde.std(t)

    def network_time(self, t: torch.Tensor) -> torch.Tensor:
        return TIME_SCALE * t

    def draw_levels(self, n: int) -> torch.Tensor:
        eps = self.config.eps
        return eps + (1 - eps) * torch.rand(n, dtype=torch.float64)

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, float]:
        self.likelihood_nfev = []
        return super().train_step(x, y)

    def draw(self, n: int) -> tuple[torch.Tensor, int]:
        c = self.config
        start = self.sde.prior_sampling((n, *self.shape), self.device)
        if c.sampler == "ode":
            return samplers.probability_flow_sample(self.sde, self.score, start, c.eps, c.rtol, c.atol, c.denoise)
        predictor = c.predictor if c.sampler == "pc" else c.sampler
        correctors = c.corrector_steps if c.sampler == "pc" else 0
        return samplers.reverse_sde_sample(self.sde, self.score, start, c.sample_steps, c.eps, predictor, correctors,
                                           c.snr, c.denoise)

    def sampler_protocol(self) -> dict[str, Any]:
        c = self.config
        if c.sampler == "ode":
            return {"sampler": "ode", "solver": "RK45 (scipy solve_ivp)", "rtol": c.rtol, "atol": c.atol, "eps": c.eps}
        protocol = {"sampler": c.sampler, "steps": c.sample_steps, "eps": c.eps}
        if c.sampler == "pc":
            protocol |= {"predictor": c.predictor, "corrector": "langevin", "snr": c.snr,
                         "corrector_steps": c.corrector_steps}
        return protocol

    def probes(self) -> int | None:
        """Hutchinson probes per solve, or None for the exact divergence."""
        return None if self.config.exact_divergence(self.space.dim) else self.config.probes

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """``log p_eps(x)`` in nats on the data space, ``(B,)``."""
        c = self.config
        log_p, nfev = ode_log_likelihood(self.sde, self.score, self.space.to_model(x), c.eps, c.rtol, c.atol,
                                         self.probes())
        self.likelihood_nfev.append(nfev)
        return (log_p + self.space.log_jacobian()).to(x.dtype)

    def log_prob_protocol(self) -> dict[str, Any]:
        c, probes = self.config, self.probes()
        divergence = "exact trace" if probes is None else "hutchinson (rademacher)"
        evals = sum(self.likelihood_nfev) / len(self.likelihood_nfev) if self.likelihood_nfev else None
        return {"log_prob_method": "probability-flow ODE, instantaneous change of variables",
                "solver": "RK45 (scipy solve_ivp)", "rtol": c.rtol, "atol": c.atol, "eps": c.eps,
                "divergence": divergence, "probes": probes, "prior": f"N(0, {self.sde.prior_std:g}^2 I)",
                "solver_evals_per_batch": evals, "ema_decay": c.ema_decay}


# ---- build ------------------------------------------------------------------------------------------


def largest_sigma(label: str, config: settings.Config, train: torch.Tensor) -> float:
    """``sigma_max``, or technique 1's largest train distance; a CapabilityError if not above sigma_min."""
    if config.sigma_max is not None:
        return config.sigma_max
    sigma = noise_levels.largest_distance(train, DISTANCE_POINTS)
    if not sigma > config.sigma_min:
        raise CapabilityError(f"{label}: sigma_min ({config.sigma_min}) must be below sigma_max, here technique 1's "
                              f"largest train distance ({sigma:.4g}); set sigma_max")
    return sigma


def noise_conditional(config: settings.Config, dim: int, sigma_max: float) -> dict[str, Any]:
    """The levels (techniques 2 and the cap) and annealed Langevin's ε (technique 4, unless given)."""
    levels = noise_levels.levels_for_ratio(sigma_max, config.sigma_min, noise_levels.overlap_ratio(dim),
                                           config.max_noise_levels)
    sigmas = noise_levels.geometric_sigmas(sigma_max, config.sigma_min, levels)
    if config.step_size is not None:
        return {"sigmas": sigmas, "step_size": config.step_size, "step_size_rule": "given"}
    ratio = float(sigmas[0] / sigmas[1])
    step = noise_levels.langevin_step_size(ratio, config.langevin_steps, config.sigma_min)
    return {"sigmas": sigmas, "step_size": step, "step_size_rule": "NCSNv2 technique 4"}


def build(data: Dataset, variant: str = "ncsn", **params: Any) -> ScoreModel:
    """The variant on ``data``, every parameter checked before the network is built."""
    label = f"model 'score', variant {variant!r}"
    config = settings.checked(label, data, variant, params)
    space = DataSpace.of(data)
    train = space.to_model(torch.as_tensor(data.train))
    sigma_max = largest_sigma(label, config, train) if variant != "sde-vp" else None  # VP has no σ_max
    base = {"label": label, "net": config.build_denoiser(data.shape), "space": space, "shape": data.shape,
            "config": config}
    if variant == "sde-vp":
        return ScoreSDEModel(sde=VPSDE(config.beta_min, config.beta_max), **base)
    if variant == "sde-ve":
        return ScoreSDEModel(sde=VESDE(config.sigma_min, sigma_max), **base)
    kind = NoiseConditionalModel if variant == "ncsn" else SlicedNoiseConditionalModel
    return kind(**noise_conditional(config, data.dim, sigma_max), **base)
