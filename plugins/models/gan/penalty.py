"""WGAN-GP's gradient penalty (Gulrajani et al. 2017, "Improved training of Wasserstein GANs", §4):

    λ E_x̂[(‖∇_x̂ D(x̂)‖₂ − 1)²],   x̂ = ε x + (1 − ε) G(z),  ε ~ U[0, 1] per example,

a soft form of the 1-Lipschitz constraint, enforced on the lines between real and generated points,
where the optimal critic has gradients of norm 1 (their Proposition 1). The norm is over all of an
example's dimensions: the per-pixel norm of a (B, C, H, W) gradient (summing squares over the
channel axis only, as some ports of the official TensorFlow code did) penalises another quantity.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def interpolate(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """``x̂ = ε x + (1 − ε) G(z)``, one ``ε ~ U[0, 1]`` per example broadcast over its dimensions."""
    eps = torch.rand(len(real), *[1] * (real.dim() - 1), device=real.device, dtype=real.dtype)  # (B, 1, ...)
    return eps * real + (1 - eps) * fake


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], x_hat: torch.Tensor) -> torch.Tensor:
    """``(‖∇_x̂ D(x̂)‖₂ − 1)²`` per example, ``(B,)``, differentiable in the critic's parameters
    (``create_graph``: the penalty's own gradient flows through the input gradient)."""
    x_hat = x_hat.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)  # (B, *shape)
    return (grad.flatten(1).norm(dim=1) - 1) ** 2
