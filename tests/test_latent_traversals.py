"""Latent traversals: each row moves one latent of one test image's code over the test codes'
spread and decodes it; the host saves them for image models that encode and decode, and the report
draws them beside the samples."""

from __future__ import annotations

import textwrap

import numpy as np
import torch

import benchbench
from benchbench.api.dataset import Dataset
from benchbench.engine.latent_traversals import MAX_LATENTS, STEPS, latent_traversals
from fakes import Gaussian, blobs

LATENTS = MAX_LATENTS + 4
DEAD = (3, 7, 11, 17)  # latents the encoder never moves: the least active, so never shown


class LinearAutoencoder(benchbench.Model):
    """A fixed linear code of 4 x 4 images, decoded by a fixed map through a sigmoid."""

    capabilities = frozenset({"encode", "decode"})

    def __init__(self) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        self.encoder = torch.randn(16, LATENTS, generator=generator)
        self.encoder[:, list(DEAD)] = 0
        self.decoder = torch.randn(LATENTS, 16, generator=generator)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) @ self.encoder

    def decode(self, z: torch.Tensor, x: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        return {"mean": torch.sigmoid(z @ self.decoder).view(len(z), 1, 4, 4)}

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, float]:
        return {}

    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        return torch.rand(n, 1, 4, 4)


def tiny_images() -> Dataset:
    rng = np.random.default_rng(0)
    draw = lambda n: rng.random((n, 1, 4, 4), dtype=np.float32)  # noqa: E731
    return Dataset("tiny-images", draw(64), draw(16), draw(200), "continuous")


def test_row_k_moves_latent_k_alone_over_the_test_codes_spread():
    model, data = LinearAutoencoder(), tiny_images()
    out = latent_traversals(model, data, "cpu", batch_size=32)
    assert out["images"].shape == (MAX_LATENTS, STEPS, 1, 4, 4)
    assert sorted(out["latents"].tolist()) == [k for k in range(LATENTS) if k not in DEAD]
    codes = model.encode(torch.as_tensor(data.test)).double()
    for row, latent in enumerate(out["latents"].tolist()):
        low, high = np.quantile(codes[:, latent].numpy(), [0.05, 0.95])
        assert np.allclose(out["values"][row, [0, -1]].numpy(), [low, high])
        for column in (0, STEPS // 2, STEPS - 1):
            z = codes[0].clone()
            z[latent] = out["values"][row, column]
            expected = model.decode(z[None].float())["mean"][0]
            assert torch.allclose(out["images"][row, column], expected, atol=1e-6)
    assert not torch.allclose(out["images"][0, 0], out["images"][0, -1])  # moving a live latent changes the image


def test_none_off_images_or_without_a_decoder():
    class EncoderOnly(LinearAutoencoder):
        capabilities = frozenset({"encode"})

    assert latent_traversals(EncoderOnly(), tiny_images(), "cpu", 32) is None
    assert latent_traversals(Gaussian(), blobs(), "cpu", 32) is None


def test_a_vae_run_saves_them_and_the_report_draws_them(tmp_path):
    from benchbench.engine.runner import run_suite
    from benchbench.report import write_report

    suite = tmp_path / "vae.toml"
    suite.write_text(textwrap.dedent("""
        [suite]
        name = "traversals"
        seeds = [0]
        device = "cpu"
        samples = 64

        [[datasets]]
        name = "digits"

        [[models]]
        family = "vae"
        params = { latent_dim = 4, hidden = 32 }
        budget = { steps = 20 }
    """), encoding="utf-8")
    outcome = run_suite(suite, results_root=tmp_path / "results", run_id="r", progress=False, echo=lambda s: None,
                        cache_dir=tmp_path / "cache")
    assert not outcome.failures, outcome.failures
    saved = list((outcome.run_dir / "samples").glob("*.traversals.pt"))
    assert len(saved) == 1
    traversals = torch.load(saved[0], weights_only=True)
    assert traversals["images"].shape == (4, STEPS, 1, 8, 8)
    assert 0 <= traversals["images"].min() and traversals["images"].max() <= 1
    html = write_report(outcome.run_dir).read_text(encoding="utf-8")
    assert html.count('class="traversal"') == 1 and "a row per latent (0, 1, 2, 3)" in html
