"""What both ends of every coder share: images as integer levels, the model's view of them, and
the conversion of the model's float probabilities into the tables the entropy coder reads.

The encoder and the decoder must put identical questions to the model: the decoder knows only
the integer levels it has decoded, so the encoder, too, shows the model ``k / (L - 1)`` computed
from the levels by :func:`stored` (never the dataset's own floats, which may differ in the last
bit), with the undecoded dimensions zero, in batches of the same composition. The model's answer
is then the same float32 bit for bit, and so is the float64 table made of it here; constriction
quantises that table to integer frequencies (``perfect=False``: fast and deterministic), the same
way on both sides.
"""

from __future__ import annotations

import numpy as np
import torch

from benchbench.nn import to_levels

PRECISION = 24  # constriction's default: every probability is a multiple of 2^-24, at least 2^-24
WORD_BITS = 32  # constriction's streams are uint32 words


def integer_levels(x: torch.Tensor, levels: int) -> np.ndarray:
    """Data as stored, (N, *shape) floats ``k / (L - 1)`` → (N, D) int32 levels ``k``."""
    return to_levels(x.flatten(1), levels).cpu().numpy().astype(np.int32)


def stored(k: np.ndarray, levels: int, shape: tuple[int, ...], device: str) -> torch.Tensor:
    """(B, D) integer levels → (B, *shape) float32 ``k / (L - 1)`` on ``device``: what the model sees."""
    return (torch.as_tensor(k, dtype=torch.float32) / (levels - 1)).view(len(k), *shape).to(device)


def table(probs: torch.Tensor) -> np.ndarray:
    """(..., L) float probabilities from the model → float64 rows summing to one, for constriction."""
    p = probs.detach().cpu().double().numpy()
    return p / p.sum(-1, keepdims=True)
