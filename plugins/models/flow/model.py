"""Normalizing flows as benchbench models: RealNVP (Dinh et al. 2017), MAF (Papamakarios et al.
2017), IAF (Kingma et al. 2016), and an IAF distilled from a MAF by probability density
distillation (Parallel WaveNet, van den Oord et al. 2018).

Data ``x`` (in [0, 1] on images and data with levels, mapped to the real line by :class:`Logit`)
goes through a chain ``f`` of bijections to noise ``z = f(u)``, ``u = logit(x)``:

    log p(x) = log N(z; 0, I) + log|det ∂z/∂u| + log|det ∂u/∂x|,     x = logit^{-1}(f^{-1}(z)) samples.

On data with levels the host trains and scores the density on dequantised points ``(k + u) / L``;
samples are mapped back to the cell they fall in, so they are samples of the mass the likelihood
metric scores.
"""

from __future__ import annotations

import math

import torch

from benchbench import CapabilityError, Dataset, Model
from benchbench.nn import gradient_step, quantize, set_halving_lr, standard_normal_log_prob

from .autoregressive import made_flow
from .bijections import Bijection, Chain, Logit
from .coupling import realnvp

VARIANTS = ("realnvp", "maf", "iaf", "iaf-distilled")
STUDENT_CLIP = 5.0  # max gradient norm of the distilled student; see DistilledIAF


class Flow(Model):
    """A density ``p(x)`` by the change of variables through ``preprocess`` then ``flow``.
    Trained by maximum likelihood: loss = -mean log p(x) in nats per example. The learning rate
    halves every ``lr_half_life`` steps (0: constant), counted in a buffer so a resumed fit keeps it:
    the last steps then refine instead of rattling around the optimum."""

    capabilities = frozenset({"log_prob", "encode"})

    def __init__(self, label: str, shape: tuple[int, ...], flow: Chain, latent_shape: tuple[int, ...],
                 preprocess: Bijection, levels: int | None, lr: float, lr_half_life: int):
        super().__init__()
        self.label, self.shape, self.latent_shape, self.levels = label, shape, latent_shape, levels
        self.preprocess, self.flow = preprocess, flow
        self.lr_half_life = lr_half_life
        self.opt = torch.optim.Adam(self.flow.parameters(), lr=lr)
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))

    def check(self, x: torch.Tensor) -> None:
        if tuple(x.shape[1:]) != self.shape:
            raise CapabilityError(f"{self.label}: expects input shaped (batch, {', '.join(map(str, self.shape))}), "
                                  f"got {tuple(x.shape)}")

    def log_density(self, chain: Bijection, x: torch.Tensor) -> torch.Tensor:
        """``log p(x)``, ``(B,)`` nats, of data ``x`` under ``chain`` after the pre-processing."""
        u, log_det_pre = self.preprocess(x)
        return self.log_prob_latent(chain, u) + log_det_pre

    @staticmethod
    def log_prob_latent(chain: Bijection, u: torch.Tensor) -> torch.Tensor:
        """``log p(u)`` in the pre-processed space: ``log N(f(u)) + log|det ∂f/∂u|``."""
        z, log_det = chain(u)
        return standard_normal_log_prob(z) + log_det

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        self.check(x)
        return self.log_density(self.flow, x)

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        self.check(x)
        return self.flow(self.preprocess(x)[0])[0].flatten(1)  # (B, D)

    def descend(self, loss: torch.Tensor, opt: torch.optim.Optimizer, step: int, clip: float | None = None) -> None:
        """One Adam step on ``loss`` at the learning rate of the ``step``-th step of its phase,
        the gradient's norm clipped to ``clip`` when given."""
        set_halving_lr(opt, step, self.lr_half_life)
        gradient_step(loss, opt, clip)

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, float]:
        loss = -self.log_prob(x).mean()
        self.descend(loss, self.opt, int(self.steps_done))
        self.steps_done += 1
        return {"nll": loss.item()}

    def sample_latent(self, chain: Bijection, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``u = f^{-1}(z)``, ``z ~ N(0, I)``, with ``log q(u) = log N(z) - log|det ∂u/∂z|``."""
        like = next(self.flow.parameters())  # the device and precision the model was moved to
        z = torch.randn(n, *self.latent_shape, device=like.device, dtype=like.dtype)
        u, log_det = chain.inverse(z)
        return u, standard_normal_log_prob(z) - log_det

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        x = self.preprocess.inverse(self.sample_latent(self.flow, n)[0])[0]
        if self.levels:
            return quantize(x, self.levels)
        return x.clamp(0, 1) if isinstance(self.preprocess, Logit) else x


class DistilledIAF(Flow):
    """Probability density distillation (van den Oord et al. 2018, §3): a MAF teacher ``p`` is
    fitted by maximum likelihood for ``teacher_steps`` steps; then the IAF student ``q`` (``flow``)
    minimises

        KL(q || p) = E_{u ~ q}[log q(u) - log p(u)],

    estimated on ``student_batch`` of the student's own one-pass samples (reparameterised through
    ``z``), with the teacher's one-pass density. Both live in the pre-processed space, where the KL
    equals the one on data (a shared bijection cancels). The model's density and samples are the
    student's.

    The reverse KL is mode-seeking: started from one broad Gaussian, the student drops modes of a
    multimodal teacher for good. Two things keep them: the teacher's log-density is tempered,
    ``E_q[log q - β log p]`` with β rising linearly from 0 to 1 over ``anneal_steps`` (q tracks
    p^β, whose modes emerge gradually; Rezende & Mohamed 2015, §6.1), and the gradient's norm is
    clipped, since a sample in a gap of the teacher's density has a log p far below the rest and
    alone would throw the student off. Before that, the student's ActNorms get the same
    data-dependent start as the teacher's, so the student starts as a Gaussian fitted to the data."""

    def __init__(self, teacher: Chain, teacher_steps: int, anneal_steps: int, student_batch: int,
                 student_lr: float, *, lr: float, **flow: object):
        super().__init__(lr=student_lr, **flow)  # type: ignore[arg-type]
        self.teacher, self.teacher_steps, self.anneal_steps = teacher, teacher_steps, anneal_steps
        self.student_batch = student_batch
        self.teacher_opt = torch.optim.Adam(teacher.parameters(), lr=lr)

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, float]:
        step = int(self.steps_done)  # a buffer: the phase survives a checkpoint and resume
        self.steps_done += 1
        teaching = step < self.teacher_steps
        self.teacher.requires_grad_(teaching)
        if step == 0:
            with torch.no_grad():
                self.flow(self.preprocess(x)[0])  # in training mode: initialises the student's ActNorms
        if teaching:
            loss = -self.log_density(self.teacher, x).mean()
            self.descend(loss, self.teacher_opt, step)
            return {"teacher_nll": loss.item()}
        step -= self.teacher_steps
        beta = min(1.0, (step + 1) / self.anneal_steps) if self.anneal_steps else 1.0
        u, log_q = self.sample_latent(self.flow, self.student_batch)
        log_p = self.log_prob_latent(self.teacher, u)
        self.descend((log_q - beta * log_p).mean(), self.opt, step, clip=STUDENT_CLIP)
        return {"kl": (log_q - log_p).mean().item()}


def build_chain(variant: str, shape: tuple[int, ...], layers: int, hidden: int, depth: int,
                coupling_net: str) -> tuple[Chain, tuple[int, ...]]:
    """The variant's bijections on examples of ``shape`` and the shape of their noise ``z``."""
    if variant == "realnvp":
        return realnvp(shape, layers, hidden, depth, coupling_net)
    return made_flow(shape, layers, hidden, depth, invert=variant != "maf"), (math.prod(shape),)


def check_data(label: str, variant: str, shape: tuple[int, ...], coupling_net: str) -> None:
    """Raise CapabilityError for data the variant cannot be built on, naming the mismatch."""
    if variant not in VARIANTS:
        raise CapabilityError(f"{label}: unknown variant; available: {', '.join(VARIANTS)}")
    if variant == "realnvp" and len(shape) not in (1, 3):
        raise CapabilityError(f"{label}: couples vectors (D,) or images (C, H, W), got examples shaped {shape}")
    if variant == "realnvp" and len(shape) == 1 and shape[0] < 2:
        raise CapabilityError(f"{label}: a coupling needs at least 2 dimensions, got {shape[0]}")
    if variant == "realnvp" and len(shape) == 3 and (shape[1] % 2 or shape[2] % 2):
        raise CapabilityError(f"{label}: squeezes 2x2 blocks, needs even height and width, got {shape[1:]}")
    if coupling_net == "conv" and (variant != "realnvp" or len(shape) != 3):
        raise CapabilityError(f"{label}: coupling_net 'conv' needs variant realnvp on images (C, H, W), got {shape}")


def build(data: Dataset, variant: str = "realnvp", layers: int = 5, hidden: int = 128, depth: int = 2,
          coupling_net: str = "dense", lr: float = 1e-3, lr_half_life: int = 0, alpha: float = 0.05,
          teacher_steps: int = 1000, anneal_steps: int = 1000, student_batch: int = 1024,
          student_lr: float = 1e-3) -> Flow:
    label = f"flow/{variant} on {data.name!r}"
    check_data(label, variant, data.shape, coupling_net)
    bounded = data.levels is not None or data.is_image  # data in [0, 1]: model it in logit space
    preprocess = Logit(alpha) if bounded else Chain([])
    flow, latent_shape = build_chain(variant, data.shape, layers, hidden, depth, coupling_net)
    common = dict(label=label, shape=data.shape, flow=flow, latent_shape=latent_shape, preprocess=preprocess,
                  levels=data.levels, lr=lr, lr_half_life=lr_half_life)
    if variant != "iaf-distilled":
        return Flow(**common)  # type: ignore[arg-type]
    teacher, _ = build_chain("maf", data.shape, layers, hidden, depth, coupling_net)
    return DistilledIAF(teacher, teacher_steps, anneal_steps, student_batch, student_lr, **common)  # type: ignore[arg-type]
