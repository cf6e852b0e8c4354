"""The compression metric: every coder gives back exactly what it was given, a stream is as long
as the model's code length says (within the coder's stated overhead), bits-back's initial words
amortise over the images, the codecs' numbers are their files' lengths, and models that cannot be
coded get an n/a saying why. Also the two capabilities the coders read, against the models' own
likelihoods."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image, features

from benchbench import Dataset, EvalContext, Model, NotApplicable
from benchbench.distributions import for_data
from benchbench.testing import tiny_datasets
from benchbench_plugins.metrics import compression
from benchbench_plugins.metrics.compression import bits_back, range_coding
from benchbench_plugins.metrics.compression.compute import evaluate_compression
from benchbench_plugins.metrics.compression.levels import WORD_BITS, integer_levels, stored
from benchbench_plugins.models import autoregressive, baseline, flow, vae
from benchbench_plugins.models.baseline.model import Independent

pytestmark = pytest.mark.usefixtures("one_thread")

SPEC = compression.benchbench_metrics()[0]
FAMILIES = {spec.name: spec for module in (autoregressive, baseline, flow, vae) for spec in module.benchbench_models()}
RANGE_WORDS_BITS = 64  # the range coder's stated constant: at most two 32-bit words past its quantised length
LN2 = math.log(2.0)

# Every coded configuration of the round-trip test: (family, variant, overrides), small and fast.
CODED = [
    ("independent", "default", {}),
    ("autoregressive", "fvsbn", {}),
    ("autoregressive", "nade", {"hidden": 16}),
    ("autoregressive", "made", {"hidden": 16, "orderings": 1}),
    ("autoregressive", "rnn", {"hidden": 16}),
    ("autoregressive", "pixelcnn", {"hidden": 8, "layers": 1, "kernel": 3}),
    ("autoregressive", "pixelcnn", {"hidden": 8, "layers": 1, "kernel": 3, "gated": True}),
    ("vae", "vae", {"latent_dim": 4, "hidden": 32}),
    ("vae", "conv-vae", {"latent_dim": 4, "hidden": 32, "channels": 8}),
]
AUTOREGRESSIVE = [c for c in CODED if c[0] != "vae"] + [
    ("autoregressive", "made", {"hidden": 16, "orderings": 1, "conditional": "logistic-mixture", "components": 2})]


def ids(configs: list[tuple[str, str, dict[str, Any]]]) -> list[str]:
    """A configuration's test id: its variant and what sets it apart."""
    return ["-".join([variant, *(f"{k}={v}" for k, v in overrides.items() if k in ("gated", "conditional"))])
            for _, variant, overrides in configs]


def trained(family: str, variant: str, data: Dataset, steps: int = 0, **overrides: Any) -> Model:
    """The family's variant at its defaults with ``overrides``, after ``steps`` steps on batches of 64."""
    torch.manual_seed(0)
    spec = FAMILIES[family]
    model = spec.resolve()(data, variant=variant, **{**spec.defaults(), **spec.variants[variant], **overrides})
    train = torch.as_tensor(data.train, dtype=torch.float32)
    for _ in range(steps):
        model.train_step(train[torch.randint(len(train), (64,))])
    return model.eval()


def context(model: Model, data: Dataset) -> EvalContext:
    return EvalContext(model, data, None, "cpu", 0, Path("unused-cache"), batch_size=64)


def values(model: Model, data: Dataset, **params: Any) -> dict[str, Any]:
    torch.manual_seed(0)
    return {v.name: v for v in evaluate_compression(context(model, data), **params)}


def model_bits(model: Model, data: Dataset, n: int) -> float:
    """-log2 p(x) of the first n test images from the model's own log_prob."""
    with torch.no_grad():
        x = stored(integer_levels(torch.as_tensor(data.test[:n]), data.levels), data.levels, data.shape, "cpu")
        return -model.log_prob(x).double().sum().item() / LN2


# ---- the coders give back what they were given -----------------------------------------------------


@pytest.mark.parametrize("kind", ["binary", "discrete"])
@pytest.mark.parametrize("family, variant, overrides", CODED, ids=ids(CODED))
def test_decode_of_encode_is_the_images_themselves(family, variant, overrides, kind):
    data = tiny_datasets()[kind]
    model = trained(family, variant, data, steps=3, **overrides)
    k = integer_levels(torch.as_tensor(data.test), data.levels)
    if family == "vae":
        coder = bits_back.Coder(model, bits_back.Buckets.of(64), data.levels, data.shape, "cpu")
        initial = bits_back.initial_words(overrides["latent_dim"], seed=3)
        decoded, left = coder.decode(coder.encode(k, initial), len(k), overrides["latent_dim"])
        assert np.array_equal(left, initial), "the decoder must end on the initial words"
    else:
        args = (model.pixel_probs, model.pixel_order())
        words = range_coding.encode(*args, k, data.levels, data.shape, 5, "cpu")  # batches of 5, 5, 5, 1
        decoded = range_coding.decode(*args, words, len(k), data.levels, data.shape, 5, "cpu")
    assert np.array_equal(decoded, k)


class Drifting(Independent):
    """An impure model: every answer is perturbed afresh, so the decoder's differ from the encoder's."""

    def pixel_probs(self, x: torch.Tensor, d: int) -> torch.Tensor:
        probs = super().pixel_probs(x, d)
        return probs * (1 + torch.rand_like(probs))


def test_a_model_whose_answers_change_is_caught_not_reported(digits):
    model = Drifting(digits.shape, for_data(digits.kind, digits.levels)).eval()
    with pytest.raises(RuntimeError, match="did not decode back"):
        values(model, digits, n=20)


# ---- the capabilities the coders read ----------------------------------------------------------------


@pytest.mark.parametrize("family, variant, overrides", AUTOREGRESSIVE, ids=ids(AUTOREGRESSIVE))
def test_pixel_conditionals_multiply_to_log_prob_and_ignore_what_comes_after(family, variant, overrides):
    data = tiny_datasets()["discrete"]
    model = trained(family, variant, data, steps=3, **overrides)
    x = torch.as_tensor(data.test[:4], dtype=torch.float32)
    k, order = torch.as_tensor(integer_levels(x, data.levels)).long(), model.pixel_order()
    assert sorted(order) == list(range(data.dim))
    log_p = sum(model.pixel_probs(x, d)[torch.arange(4), k[:, d]].double().log() for d in order)
    assert torch.allclose(log_p, model.log_prob(x).double(), atol=1e-4)
    later = torch.as_tensor(order[order.index(37):])  # dimension 37 and every one after it in the order
    scrambled = x.flatten(1).clone()
    scrambled[:, later] = torch.rand(4, len(later))
    assert torch.allclose(model.pixel_probs(scrambled.view_as(x), 37), model.pixel_probs(x, 37), atol=1e-6)


@pytest.mark.parametrize("kind", ["binary", "discrete"])
def test_latent_coding_is_the_posterior_and_the_decoder_of_the_vae(kind):
    data = tiny_datasets()[kind]
    model = trained("vae", "vae", data, steps=3, latent_dim=4, hidden=32)
    x = torch.as_tensor(data.test[:4], dtype=torch.float32)
    mean, std = model.latent_posterior(x)
    assert torch.equal(mean, model.encode(x)) and (std > 0).all()
    probs = model.decoder_probs(mean)  # (B, D, L)
    assert probs.shape == (4, data.dim, data.levels)
    k = torch.as_tensor(integer_levels(x, data.levels)).long()
    log_p = probs.gather(2, k[..., None]).log().sum((1, 2))
    assert torch.allclose(log_p, model.decode(mean, x)["log_prob"], atol=1e-4)


# ---- stream lengths against the models' own numbers ------------------------------------------------


@pytest.mark.parametrize("family, variant, overrides", [("independent", "default", {}),
                                                        ("autoregressive", "fvsbn", {}),
                                                        ("autoregressive", "made", {"orderings": 1, "hidden": 64})])
@pytest.mark.parametrize("binary", [False, True])
def test_a_range_coded_stream_is_the_models_exact_code_length(family, variant, overrides, binary, digits, digits_binary):
    """Within 1% plus the coder's last two words: the quantised probabilities and the seal."""
    data, n = (digits_binary if binary else digits), 200
    model = trained(family, variant, data, steps=100, **overrides)
    result, exact = values(model, data, n=n), model_bits(model, data, n)
    stream_bits = result["stream_bpd[range]"].protocol["stream_bits"]
    assert stream_bits == WORD_BITS * result["stream_bpd[range]"].protocol["stream_words"]
    assert abs(stream_bits - exact) <= 0.01 * exact + RANGE_WORDS_BITS, (stream_bits, exact)
    assert result["model_bpd[range]"].value == pytest.approx(exact / (n * data.dim), rel=1e-9)
    assert result["stream_overhead_bpd[range]"].value == pytest.approx((stream_bits - exact) / (n * data.dim))


def test_bits_back_approaches_the_negative_elbo_as_the_initial_words_amortise(digits_binary):
    model = trained("vae", "vae", digits_binary, steps=300, latent_dim=8, hidden=64)
    gaps = {}
    for n in (8, 64, len(digits_binary.test)):
        result = values(model, digits_binary, n=n)
        stream, elbo = result["stream_bpd[bits_back]"], result["model_bpd[bits_back]"]
        assert stream.protocol["latent_bins"] == 256 and stream.protocol["initial_bits"] == 8 * 24
        assert elbo.exactness == "bound" and elbo.protocol["elbo_samples"] > 1
        gaps[n] = stream.value - elbo.value
        overhead = (stream.protocol["initial_bits"] + WORD_BITS + 64) / (n * digits_binary.dim)  # + seal, last words
        assert abs(gaps[n]) <= 0.02 * elbo.value + overhead, (n, stream.value, elbo.value)
    assert gaps[8] > gaps[64] > gaps[len(digits_binary.test)], gaps


def test_the_standard_codecs_are_their_files_lengths(digits, digits_binary):
    n = 50
    for data in (digits, digits_binary):
        k = integer_levels(torch.as_tensor(data.test[:n]), data.levels).astype(np.uint8)
        result, dims = values(trained("independent", "default", data), data, n=n), n * data.dim
        raw = k.tobytes()
        assert result["stream_bpd[lzma]"].value == 8 * len(lzma.compress(raw, preset=9 | lzma.PRESET_EXTREME)) / dims
        assert result["stream_bpd[gzip]"].value == 8 * len(gzip.compress(raw, compresslevel=9, mtime=0)) / dims
        assert result["stream_bpd[bz2]"].value == 8 * len(bz2.compress(raw, 9)) / dims
        grid = np.zeros((7 * 8, 8 * 8), dtype=np.uint8)  # 50 images, 8 to a row: 7 rows, the last padded
        for i, image in enumerate(k.reshape(n, 8, 8)):
            grid[8 * (i // 8):8 * (i // 8 + 1), 8 * (i % 8):8 * (i % 8 + 1)] = image
        png = io.BytesIO()
        Image.fromarray(grid.astype(bool) if data.levels == 2 else grid).save(png, "PNG", compress_level=9, optimize=True)
        assert result["stream_bpd[png]"].value == 8 * len(png.getvalue()) / dims
        assert ("stream_bpd[webp]" in result) == features.check("webp")


# ---- what cannot be coded says why ----------------------------------------------------------------


@pytest.mark.parametrize("family, variant, overrides, reason", [
    ("flow", "realnvp", {"layers": 2, "hidden": 16}, "neither pixel_conditionals .* nor latent_coding"),
    ("autoregressive", "made", {"hidden": 16}, "MADEEnsemble provides neither"),  # 8 orderings: a mixture
    ("vae", "hvae", {"hidden": 16}, "HierarchicalVAE provides neither"),
    ("autoregressive", "fvsbn", {"conditional": "gaussian"}, "FVSBN is a continuous density"),
])
def test_models_without_a_coder_are_not_applicable(family, variant, overrides, reason):
    data = tiny_datasets()["discrete"]
    with pytest.raises(NotApplicable, match=reason):
        evaluate_compression(context(trained(family, variant, data, **overrides), data), n=4)


def test_bits_back_asked_of_a_model_without_a_decoder_names_it():
    data = tiny_datasets()["binary"]
    with pytest.raises(NotApplicable, match="Independent does not provide latent_coding"):
        evaluate_compression(context(trained("independent", "default", data), data), coder="bits_back", n=4)


def test_continuous_data_is_not_applicable():
    data = tiny_datasets()["continuous"]
    with pytest.raises(NotApplicable, match="continuous data"):
        evaluate_compression(context(trained("independent", "default", data), data), n=4)


def test_every_value_is_declared_and_the_wide_tables_share_a_column_per_quantity():
    data = tiny_datasets()["binary"]
    params = SPEC.defaults()
    for family, variant, overrides in [("independent", "default", {}), ("vae", "vae", {"latent_dim": 2, "hidden": 16})]:
        for v in values(trained(family, variant, data, **overrides), data, n=8).values():
            declared = SPEC.declared(v.name, params)
            assert declared is not None, v.name
            assert declared.column_name(v.name, params) == v.name.split("[")[0] or declared.reference
