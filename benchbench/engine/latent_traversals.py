"""Latent traversals: decode one test image's code with one latent moved at a time, the picture
disentanglement papers show beside their scores (Higgins et al. 2017, Fig. 1; disentanglement_lib's
``visualize_model``), so a reader sees what a MIG of 0.3 looks like.

Computed once per cell by the host, right after sampling, for image data and a model that can
``encode`` and ``decode``; saved as ``samples/<cell>.traversals.pt`` (the report draws it). Each
latent moves over its own 5th to 95th percentile among the test split's codes rather than over the
prior's fixed range (disentanglement_lib uses N(0, 1) quantiles): a beta-VAE's inactive latents
then stay put, where the prior's range would show them as noise, and codes that are not on the
prior's scale (a GAN's features, a plain autoencoder) still traverse their own spread.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..api.dataset import Dataset
from ..api.model import Model

STEPS = 9          # values per latent, the columns of the picture
MAX_LATENTS = 16   # rows: the most active latents by variance over the test codes, in index order
CODES = 1000       # test images whose codes set each latent's range
QUANTILES = (0.05, 0.95)


@torch.no_grad()
def latent_traversals(model: Model, dataset: Dataset, device: str, batch_size: int) -> dict | None:
    """``{"images": (K, STEPS, C, H, W), "latents": (K,), "values": (K, STEPS)}`` in the data's
    [0, 1] range, row k moving latent ``latents[k]`` from the first test image's code; None unless
    the data are images and the model declares ``encode`` and ``decode``."""
    if not (dataset.is_image and model.supports("encode") and model.supports("decode")):
        return None
    test = torch.as_tensor(dataset.test[:CODES], device=device)
    codes = torch.cat([model.encode(batch) for batch in test.split(batch_size)]).double().cpu()  # (N, Z)
    latents = codes.var(0).argsort(descending=True)[:MAX_LATENTS].sort().values
    low, high = (codes[:, latents].quantile(q, dim=0) for q in QUANTILES)
    values = low[:, None] + (high - low)[:, None] * torch.linspace(0, 1, STEPS, dtype=torch.float64)  # (K, STEPS)
    moved = codes[0].repeat(len(latents), STEPS, 1)  # (K, STEPS, Z)
    moved[torch.arange(len(latents)), :, latents] = values
    z = moved.flatten(0, 1).to(device=device, dtype=torch.float32)
    decoded = torch.cat([model.decode(batch)["mean"] for batch in z.split(batch_size)]).float().cpu()
    return {"images": decoded.reshape(len(latents), STEPS, *dataset.shape).clamp(0, 1), "latents": latents,
            "values": values}


def save_latent_traversals(traversals: dict, stem: Path) -> None:
    stem.parent.mkdir(parents=True, exist_ok=True)
    torch.save(traversals, stem.parent / f"{stem.name}.traversals.pt")
