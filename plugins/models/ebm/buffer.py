"""The replay buffer of persistent short-run chains (Du & Mordatch 2019, §3.1, "sample replay buffer").

Each training step draws its chains' starting points from the buffer, except a fraction ``reinit``
restarted from uniform noise, runs a few Langevin steps and writes the final states back where
they came from. Chains thus continue across steps (persistent CD, Tieleman 2008) and reach far
more MCMC steps than one step runs, while the restarts keep exploring. IGEBM keeps a first-in
first-out list of past samples; writing back in place (as JEM does, Grathwohl et al. 2020) keeps
a fixed size and the same behaviour. The states are a registered buffer: checkpoints save them and
a resumed fit continues the same chains.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


class ReplayBuffer(nn.Module):
    """``states`` ``(buffer_size, *shape)``, started as ``initial`` (noise)."""

    def __init__(self, initial: torch.Tensor):
        super().__init__()
        self.register_buffer("states", initial)

    def draw(self, n: int, noise: Callable[[int], torch.Tensor], reinit: float) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` starting points and the buffer slots they came from; each restarted from
        ``noise`` with probability ``reinit``."""
        slots = torch.randint(len(self.states), (n,), device=self.states.device)
        x = self.states[slots].clone()
        fresh = torch.rand(n, device=x.device) < reinit
        x[fresh] = noise(int(fresh.sum()))
        return x, slots

    def store(self, slots: torch.Tensor, x: torch.Tensor) -> None:
        """Write chains' final states back to their slots."""
        self.states[slots] = x.detach()

    def sample_states(self, n: int) -> torch.Tensor:
        """``n`` states drawn uniformly, with replacement: starting points for sampling."""
        return self.states[torch.randint(len(self.states), (n,), device=self.states.device)].clone()
