"""Bits-back coding with ANS (Townsend, Bird & Barber 2019, "Practical lossless compression with
latent variables using bits back coding", BB-ANS), on a stack coder (ANS, Duda 2009).

A VAE gives q(z|x), the prior p(z) = N(0, I) and p(x|z). Each image x goes onto the stack by

    1. popping z under q(z|x): bits already on the stack decode into a sample of z,  -(-log2 q(z|x))
    2. pushing x under p(x|z),                                                          + -log2 p(x|z)
    3. pushing z under p(z),                                                            + -log2 p(z)

so the stack grows by -log2 p(x|z) - log2 p(z) + log2 q(z|x) bits, whose mean over z ~ q(z|x) is
the negative ELBO. The decoder runs the steps backwards for the last image first: pop z under
p(z), pop x under p(x|z), and push z under q(z|x), which it can now that it holds x; that push
restores exactly the bits step 1 took, which the image before needs.

Latents are discretised as in the paper: each dimension into ``B`` buckets of equal mass 1/B under
the prior, edges Φ⁻¹(j / B), the decoder fed each bucket's centre Φ⁻¹((j + ½) / B); the prior over
buckets is uniform (log2 B bits a dimension) and q's mass on a bucket is its Gaussian's mass
between the edges. Where buckets are narrow beside q's spread, their widths cancel between p and
q and the rate is the continuous negative ELBO.

The first image has nothing to pop: the stream starts from random words (seeded), enough for one
latent (a dimension pops at most ``PRECISION`` bits). They stay in the stream and in its length,
an overhead the n images share; the decoder ends holding them, which checks the whole chain.
Images are coded one at a time, so the decoder's network calls, batch of one, are the encoder's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import constriction
import numpy as np
import torch
from scipy.special import ndtr, ndtri

from .levels import PRECISION, WORD_BITS, stored, table

FAMILY = constriction.stream.model.Categorical(perfect=False)  # probabilities given per symbol


@dataclass(frozen=True)
class Buckets:
    """Equal-mass buckets of N(0, 1): ``edges`` (B + 1,) from -inf to inf, ``centres`` (B,)."""

    edges: np.ndarray
    centres: np.ndarray

    @classmethod
    def of(cls, bins: int) -> Buckets:
        return cls(ndtri(np.arange(bins + 1) / bins), ndtri((np.arange(bins) + 0.5) / bins))


def posterior_table(mean: np.ndarray, std: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """q's mass on each bucket: (Z,) means and standard deviations → (Z, B), float64. Above the
    mean the difference of survival functions, below it of CDFs, so a tail keeps its precision."""
    a = (edges[None, :] - mean[:, None]) / std[:, None]  # (Z, B + 1) standardised edges
    lower, upper = a[:, :-1], a[:, 1:]
    mass = np.where(lower > 0, ndtr(-lower) - ndtr(-upper), ndtr(upper) - ndtr(lower))
    return mass / mass.sum(1, keepdims=True)


def initial_words(latent_dim: int, seed: int) -> np.ndarray:
    """Random uint32 words to pop the first latent from: ``latent_dim * PRECISION`` bits, rounded up."""
    count = math.ceil(latent_dim * PRECISION / WORD_BITS)
    return np.random.default_rng(seed).integers(0, 2**WORD_BITS, size=count, dtype=np.uint32)


class Coder:
    """The two network questions, asked identically by both ends (:mod:`.levels`)."""

    def __init__(self, model: Any, buckets: Buckets, levels: int, shape: tuple[int, ...], device: str):
        self.model, self.buckets, self.levels, self.shape, self.device = model, buckets, levels, shape, device
        self.prior = constriction.stream.model.Uniform(len(buckets.centres))

    def posterior(self, k: np.ndarray) -> np.ndarray:
        """(D,) levels of one image → (Z, B) bucket probabilities under q(z|x)."""
        mean, std = self.model.latent_posterior(stored(k[None], self.levels, self.shape, self.device))
        return posterior_table(mean[0].double().cpu().numpy(), std[0].double().cpu().numpy(), self.buckets.edges)

    def likelihood(self, buckets: np.ndarray) -> np.ndarray:
        """(Z,) bucket indices → (D, L) probabilities of p(x|z) at the buckets' centres."""
        z = torch.as_tensor(self.buckets.centres[buckets], dtype=torch.float32, device=self.device)
        return table(self.model.decoder_probs(z[None])[0])

    def encode(self, k: np.ndarray, initial: np.ndarray) -> np.ndarray:
        """(N, D) integer levels → the stream, uint32 words, starting from ``initial``."""
        ans = constriction.stream.stack.AnsCoder(initial, seal=True)
        for image in k:
            z = ans.decode(FAMILY, self.posterior(image))
            ans.encode_reverse(image, FAMILY, self.likelihood(z))
            ans.encode_reverse(z, self.prior)
        return ans.get_compressed()

    def decode(self, words: np.ndarray, n: int, latent_dim: int) -> tuple[np.ndarray, np.ndarray]:
        """The stream → the (n, D) levels it holds, and the initial words left under them."""
        ans = constriction.stream.stack.AnsCoder(words)
        images = []
        for _ in range(n):
            z = ans.decode(self.prior, latent_dim)
            image = ans.decode(FAMILY, self.likelihood(z))
            ans.encode_reverse(z, FAMILY, self.posterior(image))
            images.append(image)
        return np.stack(images[::-1]), ans.get_compressed(unseal=True)
