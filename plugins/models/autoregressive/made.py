"""MADE: Masked Autoencoder for Distribution Estimation (Germain et al. 2015), and FVSBN as its
hidden-layer-free special case.

An autoencoder's weight matrices are multiplied by 0/1 masks so that output d is connected only to
inputs earlier in an ordering (``benchbench.nn.made_masks``): one pass gives all D conditionals.
Several orderings and hidden connectivities can share the weights ("order-agnostic" and
"connectivity-agnostic" training, section 4 of the paper): each step trains one member drawn at
random, and the model is their equal mixture,

    p(x) = (1/K) Σ_k p_k(x),   log p(x) = log-mean-exp_k log p_k(x),

an exact density sampled by drawing a member, then sampling in its ordering. A mixture of members
in different orderings has no single chain of conditionals to entropy-code with, so only a
one-member MADE declares ``pixel_conditionals``; :class:`MADEEnsemble` is the mixture.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from benchbench.distributions import Likelihood
from benchbench.nn import MaskedLinear, log_mean_exp, made_masks

from .base import Autoregressive


class MADE(Autoregressive):
    """An MLP of masked layers (ReLU between them) over the flattened data; ``orderings`` members."""

    def __init__(self, shape: tuple[int, ...], likelihood: Likelihood, hidden: Sequence[int] = (256,),
                 orderings: int = 1, order: str = "natural", direct: bool = False, lr: float = 1e-3):
        super().__init__(shape, likelihood)
        sizes = [self.dim, *hidden, self.dim * likelihood.params_per_dim]
        orders = [torch.arange(self.dim) if order == "natural" else torch.randperm(self.dim) for _ in range(orderings)]
        members = [self._masks(o, hidden, direct) for o in orders]  # K lists of (out, in) masks
        first = members[0]
        self.hidden = nn.ModuleList(MaskedLinear(a, b, m) for a, b, m in zip(sizes[:-2], sizes[1:-1], first))
        self.out = MaskedLinear(sizes[-2], sizes[-1], first[len(hidden)])
        self.direct = MaskedLinear(sizes[0], sizes[-1], first[-1]) if direct else None  # FVSBN's linear map beside
        self.register_buffer("orders", torch.stack(orders))  # (K, D) sampling order of each member
        flat = torch.stack([torch.cat([m.flatten() for m in ms]) for ms in members]).bool()  # (K, all mask entries)
        self.register_buffer("member_masks", flat if orderings > 1 else flat[:0])  # one member's stay in the layers
        self.use(0)
        self.opt = torch.optim.Adam(self.parameters(), lr=lr)

    def _masks(self, order: torch.Tensor, hidden: Sequence[int], direct: bool) -> list[torch.Tensor]:
        """Masks for sampling order ``order``; output rows repeated for the P parameters of each dimension."""
        position = torch.argsort(order)  # position[i]: where input i comes in the ordering
        masks = made_masks(position, hidden) + (made_masks(position, []) if direct else [])
        params = self.likelihood.params_per_dim
        return [*masks[:len(hidden)], *(m.repeat_interleave(params, 0) for m in masks[len(hidden):])]

    @property
    def members(self) -> int:
        return len(self.orders)

    @property
    def masked(self) -> list[MaskedLinear]:
        return [*self.hidden, self.out, *([self.direct] if self.direct is not None else [])]

    def use(self, k: int) -> None:
        """Load member ``k``'s masks into the layers (a single member's are there from the start)."""
        if self.members > 1:
            for layer, mask in zip(self.masked, self.member_masks[k].split([m.mask.numel() for m in self.masked])):
                layer.mask.copy_(mask.view_as(layer.mask))
        self.order.copy_(self.orders[k])

    def readout(self, x: torch.Tensor, rows: slice = slice(None)) -> torch.Tensor:
        """The outputs ``rows`` of the D*P for flat ``x`` (B, D): sampling needs one dimension's P only,
        and the output layer is most of the work."""
        h = x
        for layer in self.hidden:
            h = torch.relu(layer(h))
        out = F.linear(h, self.out.weight[rows] * self.out.mask[rows], self.out.bias[rows])
        if self.direct is not None:
            out = out + F.linear(x, self.direct.weight[rows] * self.direct.mask[rows], self.direct.bias[rows])
        return out

    def conditionals(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(x.flatten(1)).view(len(x), self.dim, -1)  # (B, D, P)

    def conditional(self, x: torch.Tensor, d: int) -> torch.Tensor:
        params = self.likelihood.params_per_dim
        return self.readout(x.flatten(1), slice(d * params, (d + 1) * params))

    def member_log_prob(self, x: torch.Tensor, k: int) -> torch.Tensor:
        self.use(k)
        return super().log_prob(x)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        per_member = torch.stack([self.member_log_prob(x, k) for k in range(self.members)], 1)  # (B, K)
        return log_mean_exp(per_member, 1)

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        """One member per step (Germain et al. 2015, section 4): the ensemble's likelihood is
        at least the members' average (Jensen), which this step improves for a random member."""
        k = int(torch.randint(self.members, ()).item())
        return -self.member_log_prob(x, k).mean()

    def sample_flat(self, n: int) -> torch.Tensor:
        member = torch.randint(self.members, (n,), device=self.device)  # each example draws its member
        x = torch.empty(n, self.dim, device=self.device)
        for k in member.unique().tolist():
            chosen = member == k
            self.use(k)
            x[chosen] = self.sample_in_order(int(chosen.sum()), self.orders[k])
        return x


class MADEEnsemble(MADE):
    """A MADE with several members (``orderings`` > 1): p(x) is their mixture, whose conditional
    p(x_d | x_<d) in any one ordering would need the other members' marginals, so it offers no
    ``pixel_conditionals``."""

    capabilities = frozenset({"log_prob"})


class FVSBN(MADE):
    """Fully visible sigmoid belief network (Frey 1998, after Neal 1992): every conditional is a
    generalised linear model of the preceding dimensions, p(x_d | x_<d) = f(W_d x_<d + b_d) with W
    strictly lower triangular: logistic regression on binary data, softmax regression over L
    levels, a linear (mixture of) Gaussian(s) on continuous data. A MADE with no hidden layer."""

    def __init__(self, shape: tuple[int, ...], likelihood: Likelihood, lr: float = 1e-3):
        super().__init__(shape, likelihood, hidden=(), orderings=1, order="natural", lr=lr)
