"""Range coding of images under a model's autoregressive conditionals.

For an ordering σ of the D dimensions, the chain rule p(x) = Π_t p(x_σ(t) | x_σ(<t)) is a code:
an arithmetic coder (Rissanen & Langdon 1979; a range coder, Martin 1979, is its integer form)
spends -log2 q(x_σ(t) | x_σ(<t)) bits on each dimension, q the model's conditional quantised to
``PRECISION`` bits, plus at most a couple of words when the stream is sealed. The decoder holds
the same model: having decoded x_σ(<t) it asks for the same conditional and reads x_σ(t) back.

Images are coded in fixed batches, dimension by dimension: for each batch and each t, the model is
asked for σ(t)'s conditional of the whole batch at once (one network pass), with the dimensions not
yet decoded set to zero on both sides (:mod:`.levels`). The decoder uses the same batches, so
every question, and every answer, is the encoder's. A queue (first in, first out): symbols come
back in the order they went in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import constriction
import numpy as np
import torch

from .levels import stored, table

PixelProbs = Callable[[torch.Tensor, int], torch.Tensor]  # (x (B, *shape), d) → (B, L)
FAMILY = constriction.stream.model.Categorical(perfect=False)  # probabilities given per symbol


def batches(n: int, size: int) -> Iterator[slice]:
    """The fixed batches both ends code: ``size`` images each, the last one shorter."""
    return (slice(start, min(start + size, n)) for start in range(0, n, size))


def encode(pixel_probs: PixelProbs, order: list[int], k: np.ndarray, levels: int, shape: tuple[int, ...],
           batch_size: int, device: str) -> np.ndarray:
    """(N, D) integer levels → the stream, uint32 words."""
    encoder = constriction.stream.queue.RangeEncoder()
    for rows in batches(len(k), batch_size):
        known = np.zeros_like(k[rows])
        for d in order:
            encoder.encode(k[rows, d], FAMILY, table(pixel_probs(stored(known, levels, shape, device), d)))
            known[:, d] = k[rows, d]
    return encoder.get_compressed()


def decode(pixel_probs: PixelProbs, order: list[int], words: np.ndarray, n: int, levels: int,
           shape: tuple[int, ...], batch_size: int, device: str) -> np.ndarray:
    """The stream → the (n, D) integer levels it holds."""
    decoder = constriction.stream.queue.RangeDecoder(words)
    decoded = []
    for rows in batches(n, batch_size):
        known = np.zeros((rows.stop - rows.start, len(order)), dtype=np.int32)
        for d in order:
            known[:, d] = decoder.decode(FAMILY, table(pixel_probs(stored(known, levels, shape, device), d)))
        decoded.append(known)
    return np.concatenate(decoded)
