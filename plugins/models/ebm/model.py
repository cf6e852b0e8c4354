"""Energy-based models: a density ``p(x) = exp(−E(x)) / Z`` with an energy network ``E`` and the
normaliser ``Z = ∫ exp(−E)`` never needed in training (Lecture 11–12; LeCun et al. 2006).

The variants differ only in how they avoid ``Z`` while training (the maths in ``objectives.py``):

* :class:`ContrastiveDivergenceEBM` (``cd``): the likelihood's gradient with the model's
  expectation from short-run Langevin chains that persist in a replay buffer (IGEBM, Du & Mordatch
  2019; ``buffer.py``).
* :class:`ScoreMatchingEBM` (``score-matching``): the Fisher divergence to the data, ``Z``-free since
  ``∇_x log Z = 0`` (Hyvärinen 2005; sliced, Song et al. 2019).
* :class:`NoiseContrastiveEBM` (``nce``): logistic regression of data against a known noise, the
  log-normaliser a learned constant ``c`` (Gutmann & Hyvärinen 2010).

Every variant samples the same way: unadjusted Langevin (or MALA) on ``log f = −E``
(:mod:`benchbench.mcmc`), from uniform noise over the data's range (``support.py``), from the
full-covariance Gaussian fitted to the train split (``sample_init = "base"``: NCE's default noise,
a start that short chains of an imperfect energy refine or spoil, which comparing the two shows), or,
for ``cd``, from the replay buffer as IGEBM samples; and scores data the same way:
``log p(x) = −E(x) − log Z``, with ``log Z`` by quadrature in 2-D and AIS otherwise (``normaliser.py``),
computed on first use after training and cached until the next ``train_step``. The model says so:
``log_prob_exactness = "estimate"``, with how ``log Z`` was obtained in ``log_prob_protocol()``.

The chains, the buffer and any noise model are state of the model, advanced inside ``train_step``.

Where this departs from the papers, and why (numbers from 8 Gaussians, ``tests/models/test_ebm.py``):

* cd: α = 0.1, not IGEBM's 1, which flattened the 2-D density (test NLL 4.8 nats against 2.4, 71%
  of the mass beyond the data's box). Chains use proper Langevin noise √(2ε) by default; IGEBM's
  far smaller noise (0.005 with ε = 10) samples a colder density and is one setting away
  (``noise_scale``). The buffer is written back in place (JEM) instead of IGEBM's FIFO list.
* nce: ν = 4 by default (ν = 1 left ``∫ exp(−E − c)`` 5–30% from 1); ``c`` settles only when the
  learning rate decays (``lr_half_life``). Flow noise is fitted first, then frozen (``flow_noise.py``).
* AIS of an energy on the cube runs in logit coordinates (``normaliser.py``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from benchbench import Dataset, MetricValue, Model, ModelDiverged, mcmc
from benchbench.nn import Critic, dequantize, gradient_step, set_halving_lr

from . import config as settings
from .buffer import ReplayBuffer
from .densities import Gaussian, LogitGaussian
from .flow_noise import FlowNoise
from .normaliser import LogZ, Normaliser, for_data
from .objectives import contrastive_divergence, exact_score_matching, noise_contrastive, sliced_score_matching
from .support import Support

SAMPLE_CHUNK = 4096  # chains run at once by ``sample``: bounds memory, not the result


@dataclass(frozen=True)
class Sampler:
    """How a chain runs: ``method`` "langevin" (ULA) or "mala", ``steps`` of size ``step_size``, the
    Langevin noise std (None: √(2 step_size); MALA always uses √(2 step_size)), and where it starts."""

    method: str
    steps: int
    step_size: float
    noise_scale: float | None
    init: str

    def run(self, log_density: mcmc.LogDensity, x: torch.Tensor, bounds: mcmc.Bounds
            ) -> tuple[torch.Tensor, mcmc.ChainStats]:
        if self.method == "mala":
            return mcmc.mala(log_density, x, self.steps, self.step_size, bounds)
        return mcmc.langevin(mcmc.score_of(log_density), x, self.steps, self.step_size, self.noise_scale, bounds)

    def protocol(self) -> dict[str, Any]:
        noise = self.noise_scale if self.method == "langevin" and self.noise_scale is not None else "sqrt(2 step_size)"
        return {**asdict(self), "noise_scale": noise}


class EnergyModel(Model):
    """``p(x) = exp(−E(x)) / Z`` on the data's support; a subclass supplies ``objective``.

    ``objective(x)`` returns the loss to descend, diagnostics as floats and every energy it computed
    (data and negatives), which ``train_step`` checks against ``energy_limit`` before the update:
    a CD chain or an NCE fit running away shows as energies growing without bound long before any
    loss is non-finite."""

    capabilities = frozenset({"log_prob"})
    log_prob_exactness = "estimate"

    def __init__(self, label: str, energy: nn.Module, support: Support, base: nn.Module, normaliser: Normaliser,
                 sampler: Sampler, lr: float, lr_half_life: int, energy_limit: float):
        super().__init__()
        self.label, self.energy, self.support, self.base, self.normaliser = label, energy, support, base, normaliser
        self.sampler, self.energy_limit, self.lr_half_life = sampler, energy_limit, lr_half_life
        self.opt = torch.optim.Adam(self.energy.parameters(), lr=lr)
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))  # the schedule survives a resume
        self.cached_log_z: LogZ | None = None
        self.last_sampling: list[tuple[int, mcmc.ChainStats]] = []  # chains per chunk and their stats
        self.register_load_state_dict_post_hook(forget_log_z_after_load)

    def log_density(self, x: torch.Tensor) -> torch.Tensor:
        """``log f(x) = −E(x)``, unnormalised, ``(B,)``."""
        return -self.energy(x)

    def objective(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, float], torch.Tensor]:
        raise NotImplementedError

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, float]:
        step = int(self.steps_done)
        self.steps_done += 1
        return self.energy_step(x, step)

    def energy_step(self, x: torch.Tensor, step: int) -> dict[str, float]:
        """One descent of the objective, the ``step``-th of the energy's training."""
        loss, report, energies = self.objective(x)
        self.check_energies(energies)
        set_halving_lr(self.opt, step, self.lr_half_life)
        gradient_step(loss, self.opt)
        self.cached_log_z = None
        return {"loss": loss.item(), **report}

    def check_energies(self, energies: torch.Tensor) -> None:
        worst = energies.detach().abs().max().item()
        if not worst <= self.energy_limit:  # NaN fails too
            raise ModelDiverged(f"{self.label}: an energy reached {worst:.3g} in magnitude, beyond "
                                f"energy_limit = {self.energy_limit:g}")

    def log_z(self) -> LogZ:
        """``log Z`` in nats and how it was obtained, computed once per trained state."""
        if self.cached_log_z is None:
            self.cached_log_z = self.normaliser(self.log_density, self.support.box.low)
        return self.cached_log_z

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return -self.energy(x) - self.log_z().value

    def log_prob_protocol(self) -> dict[str, Any]:
        log_z = self.log_z()
        return {"log_z": log_z.value, **log_z.protocol, "support": self.support.describe()}

    def initial_states(self, n: int) -> torch.Tensor:
        """Where ``sample``'s chains start: uniform noise over the support's box, or the Gaussian
        fitted to the train split (``base``)."""
        return self.base.sample(n) if self.sampler.init == "base" else self.support.noise(n)

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        sizes = [min(SAMPLE_CHUNK, n - i) for i in range(0, n, SAMPLE_CHUNK)]
        runs = [self.sampler.run(self.log_density, self.initial_states(m), self.support.bounds) for m in sizes]
        self.last_sampling = [(m, stats) for m, (_, stats) in zip(sizes, runs)]
        states = torch.cat([x for x, _ in runs]) if runs else self.support.noise(0)
        return self.support.to_data(states)

    def sampling_protocol(self) -> dict[str, Any]:
        protocol = self.sampler.protocol()
        if self.sampler.init == "base":
            on = "the logits of " if self.support.bounded else ""
            protocol["init_density"] = f"full-covariance Gaussian fitted to {on}the train split"
        return protocol

    def sampling_values(self) -> list[MetricValue]:
        """Energy-gradient evaluations per sample and, for MALA, the acceptance rate of the last ``sample``."""
        if not self.last_sampling:
            return []
        n = sum(m for m, _ in self.last_sampling)
        protocol = {"n": n}
        evals = self.last_sampling[0][1].gradient_evals  # the same for every chain
        values = [MetricValue("energy_gradient_evals_per_sample", float(evals), "lower", "evals/sample", "measured",
                              protocol)]
        if self.sampler.method == "mala":
            rate = sum(m * (stats.acceptance_rate or 0.0) for m, stats in self.last_sampling) / n
            values.append(MetricValue("mala_acceptance_rate", rate, "higher", "fraction", "measured", protocol))
        return values


def forget_log_z_after_load(module: nn.Module, incompatible_keys: Any) -> None:
    """New weights from a checkpoint: the cached ``log Z`` belongs to the old ones."""
    module.cached_log_z = None  # type: ignore[assignment]


class ContrastiveDivergenceEBM(EnergyModel):
    """IGEBM (Du & Mordatch 2019): each step draws chains from the replay buffer (a fraction
    ``reinit`` from noise), runs ``chain`` (Langevin; clamped to the cube on images), writes them
    back, and descends ``E(x+) − E(x−) + α (E(x+)² + E(x−)²)`` with the chains' states as constants."""

    def __init__(self, *, buffer_size: int, chain: Sampler, reinit: float, alpha: float, **common: Any):
        super().__init__(**common)
        self.buffer = ReplayBuffer(self.support.noise(buffer_size))
        self.chain, self.reinit, self.alpha = chain, reinit, alpha

    def negatives(self, n: int) -> tuple[torch.Tensor, mcmc.ChainStats]:
        start, slots = self.buffer.draw(n, self.support.noise, self.reinit)
        x, stats = self.chain.run(self.log_density, start, self.support.bounds)
        self.buffer.store(slots, x)
        return x, stats

    def objective(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, float], torch.Tensor]:
        negatives, stats = self.negatives(len(x))
        e_data, e_model = self.energy(x), self.energy(negatives)
        report = {"energy_gap": (e_data.mean() - e_model.mean()).item(), "chain_grad_norm": stats.grad_norm}
        return contrastive_divergence(e_data, e_model, self.alpha), report, torch.cat([e_data, e_model])

    def initial_states(self, n: int) -> torch.Tensor:
        return self.buffer.sample_states(n) if self.sampler.init == "buffer" else super().initial_states(n)


class ScoreMatchingEBM(EnergyModel):
    """Score matching (Hyvärinen 2005), the Hessian's trace ``exact`` or sliced (Song et al. 2019).
    Without negatives, ``energy_gap`` compares the data with uniform noise over the support's box."""

    def __init__(self, *, exact: bool, projections: int, projection: str, **common: Any):
        super().__init__(**common)
        self.exact, self.projections, self.projection = exact, projections, projection

    def objective(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, float], torch.Tensor]:
        if self.exact:
            per_example, e_data = exact_score_matching(self.energy, x)
        else:
            per_example, e_data = sliced_score_matching(self.energy, x, self.projections, self.projection)
        with torch.no_grad():
            e_noise = self.energy(self.support.noise(len(x)))
        report = {"energy_gap": (e_data.mean() - e_noise.mean()).item()}
        return per_example.mean(), report, torch.cat([e_data.detach(), e_noise])


class NoiseContrastiveEBM(EnergyModel):
    """NCE (Gutmann & Hyvärinen 2010): ``log p_θ = −E − c`` against ``noise`` (a module with ``sample``
    and a normalised ``log_prob``), ``noise_ratio`` noise samples per data point. A trainable noise
    (``FlowNoise``) is first fitted for ``noise_steps`` steps. ``energy_gap`` compares the data with
    the noise samples; ``c`` is reported as ``learned_log_z`` beside the estimated ``log Z``."""

    def __init__(self, *, noise: nn.Module, noise_ratio: float, noise_steps: int, **common: Any):
        super().__init__(**common)
        self.noise, self.noise_ratio = noise, noise_ratio
        self.noise_steps = noise_steps if isinstance(noise, FlowNoise) else 0
        self.log_c = nn.Parameter(torch.zeros(()))
        self.opt.add_param_group({"params": [self.log_c]})
        if isinstance(noise, FlowNoise):
            self.noise_opt = noise.flow.opt  # an attribute of the model: checkpointed with it

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, float]:
        step = int(self.steps_done)  # a buffer: the phase survives a resume
        self.steps_done += 1
        if step < self.noise_steps:
            return {"noise_nll": self.noise.fit_step(x)}  # type: ignore[operator]
        return self.energy_step(x, step - self.noise_steps)

    def objective(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, float], torch.Tensor]:
        m = max(1, round(self.noise_ratio * len(x)))
        with torch.no_grad():
            y = self.noise.sample(m)
            log_q_x, log_q_y = self.noise.log_prob(x), self.noise.log_prob(y)
        e_data, e_noise = self.energy(x), self.energy(y)
        outside = ~mcmc.inside(y, self.support.bounds)  # a flow's sample may leave the cube: p_θ = 0 there
        log_p_y = (-e_noise - self.log_c).masked_fill(outside, -math.inf)
        loss = noise_contrastive(-e_data - self.log_c, log_q_x, log_p_y, log_q_y, m / len(x))
        report = {"energy_gap": (e_data.mean() - e_noise.mean()).item(), "log_c": self.log_c.item()}
        return loss, report, torch.cat([e_data, e_noise[~outside]])

    def log_prob_protocol(self) -> dict[str, Any]:
        return {**super().log_prob_protocol(), "learned_log_z": self.log_c.item()}


# ---- build ------------------------------------------------------------------------------------------


def fitted_gaussian(data: Dataset, support: Support) -> nn.Module:
    """The Gaussian fitted to the train split, on the logits for data in the cube."""
    train = torch.as_tensor(data.train)
    if not support.bounded:
        return Gaussian.fit(train)
    if data.levels:  # the host trains on dequantised points; fit the noise to such points
        train = dequantize(train, data.levels, torch.Generator().manual_seed(0))
    return LogitGaussian.fit(train)


def nce_noise(data: Dataset, config: settings.Config, fit: nn.Module) -> nn.Module:
    """The fitted Gaussian ``fit``, or a flow mixed with it (``flow_noise.py``)."""
    return FlowNoise(data, fit, config.noise_flow) if config.noise == "flow" else fit


def build(data: Dataset, variant: str = "cd", energy: nn.Module | None = None, **params: Any) -> EnergyModel:
    """The variant on ``data``; ``energy`` replaces the default network (tests inject a quadratic)."""
    label = f"model 'ebm', variant {variant!r}"
    config = settings.checked(label, data, variant, params)
    support = Support.of(data)
    energy = energy if energy is not None else Critic(data.shape, config.hidden, config.depth, config.channels,
                                                      nn.SiLU, config.spectral_norm)
    sampler = Sampler(config.sampler, config.sample_steps, config.sample_step_size, config.noise_scale,
                      config.sample_init)
    normaliser = for_data(data, support, config.grid, config.grid_margin, config.ais_steps, config.ais_chains,
                          config.sample_step_size)
    gaussian = fitted_gaussian(data, support)
    common = {"label": label, "energy": energy, "support": support, "base": gaussian, "normaliser": normaliser,
              "sampler": sampler, "lr": config.lr, "lr_half_life": config.lr_half_life,
              "energy_limit": config.energy_limit}
    if variant == "cd":
        chain = Sampler("langevin", config.langevin_steps, config.step_size, config.noise_scale, "buffer")
        return ContrastiveDivergenceEBM(buffer_size=config.buffer_size, chain=chain, reinit=config.reinit,
                                        alpha=config.alpha, **common)
    if variant == "score-matching":
        return ScoreMatchingEBM(exact=config.exact_score_matching(data.dim), projections=config.projections,
                                projection=config.projection, **common)
    return NoiseContrastiveEBM(noise=nce_noise(data, config, gaussian), noise_ratio=config.noise_ratio,
                               noise_steps=config.noise_steps, **common)
