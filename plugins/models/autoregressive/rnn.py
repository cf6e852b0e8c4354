"""A recurrent autoregressive model: the history x_<t summarised in a fixed-size state.

    s_t = cell(s_{t-1}, e(x_{t-1}) + pos_t),   p(x_t | x_<t) = f(head(s_t))

with an LSTM (Hochreiter & Schmidhuber 1997) or GRU (Cho et al. 2014) cell over the pixel or
coordinate sequence, as in the row-by-row models of Theis & Bethge 2015 and the Pixel RNN of van
den Oord et al. 2016. Unlike NADE or MADE the state does not grow with t; the learnt position
embedding tells the shared head which dimension it predicts. Sampling runs the cell once per step,
carrying the state: D cell steps instead of D full passes.
"""

from __future__ import annotations

import torch
from torch import nn

from benchbench.distributions import Likelihood

from .base import Autoregressive


class RNN(Autoregressive):
    def __init__(self, shape: tuple[int, ...], likelihood: Likelihood, hidden: int = 128, layers: int = 1,
                 cell: str = "lstm", lr: float = 1e-3):
        super().__init__(shape, likelihood)
        self.embed = nn.Linear(1, hidden)  # e(x_{t-1}): the value just seen
        self.start = nn.Parameter(torch.zeros(hidden))  # stands in for e(x_0), which does not exist
        self.position = nn.Parameter(torch.randn(self.dim, hidden) * 0.1)  # pos_t
        self.rnn = {"lstm": nn.LSTM, "gru": nn.GRU}[cell](hidden, hidden, layers, batch_first=True)
        self.head = nn.Linear(hidden, likelihood.params_per_dim)
        self.opt = torch.optim.Adam(self.parameters(), lr=lr)

    def conditionals(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)  # (B, D)
        seen = self.embed(x[:, :-1, None])  # (B, D-1, H): step t reads x_{t-1}
        inputs = torch.cat([self.start.expand(len(x), 1, -1), seen], 1) + self.position  # (B, D, H)
        states, _ = self.rnn(inputs)
        return self.head(states)  # (B, D, P)

    def sample_flat(self, n: int) -> torch.Tensor:
        x = torch.empty(n, self.dim, device=self.device)
        inputs, memory = self.start.expand(n, -1), None  # (n, H)
        for t in range(self.dim):
            state, memory = self.rnn((inputs + self.position[t])[:, None], memory)  # state (n, 1, H)
            x[:, t] = self.likelihood.sample(self.head(state[:, 0]))[:, 0]
            inputs = self.embed(x[:, t, None])
        return x
