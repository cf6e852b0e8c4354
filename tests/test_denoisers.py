"""benchbench.denoisers: the time features against numpy and diffusers, attention against a direct
computation, shapes and refusals at the image sizes the suites use, the zero start, conditioning on
time and class, a real fit of a time-dependent target, and the settings the diffusion and score
plugins share: the same network as theirs, the same parameters in their specs, the same refusals.

Networks are built narrow (8 or 16 channels) so the whole module takes seconds on one thread.
"""

from __future__ import annotations

import math
from dataclasses import fields
from importlib import import_module

import numpy as np
import pytest
import torch
from diffusers.models.embeddings import get_timestep_embedding

from benchbench import Dataset
from benchbench.denoiser_settings import DENOISER_PARAMS, DenoiserSettings
from benchbench.denoisers import (
    DenoiserMLP,
    SelfAttention,
    UNet,
    denoiser,
    timestep_embedding,
    unet_problem,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def adam_steps(net: torch.nn.Module, x: torch.Tensor, t: torch.Tensor, target: torch.Tensor, steps: int,
               y: torch.Tensor | None = None, lr: float = 1e-3) -> list[float]:
    """``steps`` Adam steps on the mean squared error to ``target``; the losses before each step."""
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = (net(x, t, y) - target).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


# ---- time features ----------------------------------------------------------------------------------


@pytest.mark.parametrize("dim", [16, 7])
def test_timestep_embedding_is_the_formula_computed_in_numpy(dim):
    t = np.array([0.0, 1.0, 17.0, 999.0])
    half = dim // 2
    frequencies = np.exp(-math.log(10_000.0) * np.arange(half) / (half - 1))
    expected = np.concatenate([np.sin(t[:, None] * frequencies), np.cos(t[:, None] * frequencies)], 1)
    expected = np.pad(expected, ((0, 0), (0, dim % 2)))
    got = timestep_embedding(torch.tensor(t, dtype=torch.float64), dim).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_timestep_embedding_matches_diffusers_with_ho_et_al_frequencies():
    t = torch.tensor([0, 3, 250, 999])  # integer step indices, as DDPM passes them
    reference = get_timestep_embedding(t, 32, flip_sin_to_cos=False, downscale_freq_shift=1)
    torch.testing.assert_close(timestep_embedding(t, 32), reference, rtol=1e-5, atol=1e-4)


def test_self_attention_is_softmax_of_scaled_dot_products():
    torch.manual_seed(0)
    attention = SelfAttention(8, groups=4)
    torch.nn.init.normal_(attention.out.weight)  # the zero start would hide the attention itself
    x = torch.randn(2, 8, 3, 5)
    q, k, v = attention.qkv(attention.norm(x)).reshape(2, 3, 8, 15).unbind(1)  # each (B, C, HW)
    weights = torch.softmax(torch.einsum("bci,bcj->bij", q, k) / math.sqrt(8), dim=2)  # (B, HW, HW)
    mixed = torch.einsum("bij,bcj->bci", weights, v).reshape(2, 8, 3, 5)
    torch.testing.assert_close(attention(x), x + attention.out(mixed))


# ---- shapes and refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(("shape", "levels"), [
    ((1, 8, 8), 2), ((1, 8, 8), 3),
    ((1, 28, 28), 2), ((1, 28, 28), 3), ((1, 28, 28), 4),  # 28 → 14 → 7 → 4: odd sides on the way
    ((3, 32, 32), 2), ((3, 32, 32), 3), ((3, 32, 32), 4),
])
def test_unet_keeps_the_image_shape(shape, levels):
    assert unet_problem(shape, levels, 8) == ""
    net = UNet(shape, channels=8, levels=levels, num_classes=10)
    x = torch.randn(2, *shape)
    assert net(x, torch.tensor([3.0, 500.0]), torch.tensor([1, 10])).shape == x.shape


def test_mlp_and_the_factory_keep_the_data_shape():
    x = torch.randn(5, 2)
    assert DenoiserMLP(2, hidden=16, depth=2)(x, torch.rand(5) * 1000).shape == (5, 2)
    assert isinstance(denoiser((2,), hidden=16), DenoiserMLP)
    assert isinstance(denoiser((1, 8, 8), channels=8), UNet)
    images = torch.randn(5, 1, 8, 8)
    flat = denoiser((1, 8, 8), network="mlp", hidden=16)
    assert flat(images, torch.rand(5) * 1000).shape == images.shape
    # the MLP sees the flattened image: the same weights on the same numbers as a vector net
    assert torch.equal(flat(images, torch.ones(5)), flat.net(images.flatten(1), torch.ones(5)).view_as(images))
    with pytest.raises(ValueError, match="network 'mlp'"):
        denoiser((4, 4))
    with pytest.raises(ValueError, match="network must be one of"):
        denoiser((2,), network="transformer")


def count_attention(net: torch.nn.Module) -> int:
    return sum(isinstance(m, SelfAttention) for m in net.modules())


def test_attention_sits_at_the_named_heights_and_in_the_middle():
    assert count_attention(UNet((1, 8, 8), channels=8, levels=2)) == 1  # heights 8, 4: the middle block only
    # height 16 is level 1 of 3: res_blocks on the way down, res_blocks + 1 up, and the middle
    assert count_attention(UNet((3, 32, 32), channels=8, levels=3, res_blocks=2)) == 2 + 3 + 1


@pytest.mark.parametrize(("shape", "levels", "channels", "groups", "words"), [
    ((1, 8, 8), 4, 32, 8, "levels 4 halves 8x8 images below 2x2: at most 3 for this size"),
    ((1, 28, 28), 6, 32, 8, "levels 6 halves 28x28 images below 2x2: at most 5 for this size"),
    ((1, 8, 8), 2, 20, 8, "channels 20 is not a multiple of the 8 GroupNorm groups"),
    ((1, 8, 8), 2, 4, 8, "channels 4 is not a multiple of the 8 GroupNorm groups"),
    ((1, 8, 8), 2, 2, 1, "channels 2: at least 4"),
    ((1, 8, 8), 0, 32, 8, "levels 0: a U-Net has at least 1"),
])
def test_unet_problem_names_what_is_wrong_and_the_net_refuses_it(shape, levels, channels, groups, words):
    assert unet_problem(shape, levels, channels, groups).startswith(words)
    with pytest.raises(ValueError, match=words[:20]):
        UNet(shape, channels=channels, levels=levels, groups=groups)


def test_unet_problem_accepts_valid_settings():
    assert unet_problem((1, 8, 8), 3, 32) == ""
    assert unet_problem((1, 28, 28), 5, 24) == ""  # 28, 14, 7, 4, 2
    assert unet_problem((3, 32, 32), 4, 128, 32) == ""  # Ho et al.'s CIFAR-10 net
    assert unet_problem((1, 8, 8), 2, 12, 4) == ""


# ---- the zero start and conditioning ------------------------------------------------------------------


@pytest.mark.parametrize("net", [DenoiserMLP(3, hidden=16), UNet((1, 8, 8), channels=8)], ids=["mlp", "unet"])
def test_output_is_zero_at_init_and_moves_after_one_step(net):
    torch.manual_seed(0)
    x = torch.randn(4, *((3,) if isinstance(net, DenoiserMLP) else (1, 8, 8)))
    t = torch.tensor([0.0, 10.0, 500.0, 999.0])
    assert torch.count_nonzero(net(x, t)) == 0
    adam_steps(net, x, t, torch.randn_like(x), steps=1)
    assert torch.count_nonzero(net(x, t)) == x.numel()


@pytest.mark.parametrize("make", [lambda: DenoiserMLP(2, hidden=16, num_classes=3),
                                  lambda: UNet((1, 8, 8), channels=8, num_classes=3)], ids=["mlp", "unet"])
def test_class_and_time_change_the_output_and_no_label_is_the_null_class(make):
    torch.manual_seed(0)
    net = make()
    x = torch.randn(6, *((2,) if isinstance(net, DenoiserMLP) else (1, 8, 8)))
    y, t = torch.tensor([0, 1, 2, 0, 1, 3]), torch.tensor([1.0, 100.0, 900.0, 5.0, 50.0, 700.0])
    adam_steps(net, x, t, torch.randn_like(x), steps=3, y=y)  # the zero-started convs need a second step
    one = torch.ones(6, dtype=torch.long)
    assert not torch.allclose(net(x, t, 0 * one), net(x, t, one))
    assert not torch.allclose(net(x, 0 * t + 10.0, one), net(x, 0 * t + 900.0, one))
    torch.testing.assert_close(net(x, t), net(x, t, 3 * one), rtol=0, atol=0)


def test_labels_for_an_unconditional_net_are_an_error():
    with pytest.raises(ValueError, match="num_classes"):
        UNet((1, 8, 8), channels=8)(torch.randn(2, 1, 8, 8), torch.ones(2), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="num_classes"):
        DenoiserMLP(2, hidden=8)(torch.randn(2, 2), torch.ones(2), torch.zeros(2, dtype=torch.long))


# ---- learning ----------------------------------------------------------------------------------------


def time_dependent_target(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
    """Each input twice, at t = 100 and t = 900, with target ``x · t / 1000``: the batch doubled, the
    times, the targets, and the least loss a net blind to t can reach (predicting ``0.5 x``)."""
    xs, t = torch.cat([x, x]), torch.cat([torch.full((len(x),), 100.0), torch.full((len(x),), 900.0)])
    target = xs * (t / 1000).reshape(-1, *[1] * (x.dim() - 1))
    blind = (target - 0.5 * xs).square().mean().item()
    return xs, t, target, blind


@pytest.mark.parametrize(("make", "shape", "lr"), [
    (lambda: UNet((1, 8, 8), channels=16), (1, 8, 8), 2e-3),
    (lambda: DenoiserMLP(4, hidden=32, depth=2), (4,), 3e-3),
], ids=["unet", "mlp"])
def test_net_fits_a_time_dependent_target_beyond_what_ignoring_t_allows(make, shape, lr):
    torch.manual_seed(0)
    x, t, target, blind = time_dependent_target(torch.rand(8, *shape))
    losses = adam_steps(make(), x, t, target, steps=100, lr=lr)
    print(f"loss {losses[0]:.4f} → {losses[-1]:.5f}, blind to t at best {blind:.4f}")
    assert losses[-1] < losses[0] / 10
    assert losses[-1] < blind / 3


# ---- the plugins' shared settings ---------------------------------------------------------------------

PLUGINS = ("diffusion", "score")


@pytest.mark.parametrize("name", PLUGINS)
def test_each_plugin_inherits_the_shared_settings_and_its_spec_declares_them_with_their_defaults(name):
    shared = {f.name: f.default for f in fields(DenoiserSettings)}
    assert issubclass(import_module(f"benchbench_plugins.models.{name}.config").Config, DenoiserSettings)
    spec = import_module(f"benchbench_plugins.models.{name}").benchbench_models()[0]
    assert {p.name: p.default for p in spec.params if p.name in shared} == shared
    assert {p.name: p.default for p in DENOISER_PARAMS} == shared and set(DENOISER_PARAMS) <= set(spec.params)


def vectors() -> Dataset:
    """64 standard normal points in 2-D: vector data for the plugins' MLP."""
    points = np.random.default_rng(0).normal(size=(64, 2)).astype(np.float32)
    return Dataset("vectors", points, points[:8], points[:8], "continuous")


@pytest.mark.parametrize(("name", "variant", "images"), [
    ("diffusion", "cfg", True), ("diffusion", "ddpm", False), ("score", "ncsn", True), ("score", "sde-vp", False),
])
def test_the_shared_settings_build_the_network_each_plugin_builds(name, variant, images, digits):
    data = digits if images else vectors()
    settings = {"hidden": 16, "depth": 2, "channels": 8, "res_blocks": 2, "attention_resolution": 4, "dropout": 0.1}
    spec = import_module(f"benchbench_plugins.models.{name}").benchbench_models()[0]
    torch.manual_seed(0)  # built as the host builds it: the spec's defaults, the variant's, the suite's
    model = import_module(f"benchbench_plugins.models.{name}.model").build(
        data, variant, **{**spec.defaults(), **spec.variants[variant], **settings})
    torch.manual_seed(0)
    ours = DenoiserSettings(**settings).build_denoiser(data.shape, data.num_classes if variant == "cfg" else None)
    assert str(ours) == str(model.net)  # the modules, their sizes and the dropout rate
    torch.testing.assert_close(ours.state_dict(), model.net.state_dict(), rtol=0, atol=0)


@pytest.mark.parametrize(("settings", "shape", "words"), [
    ({"levels": 0, "network": "mlp"}, (2,), "levels must be at least 1, got 0"),
    ({"attention_resolution": -1}, (2,), "attention_resolution must not be negative, got -1"),
    ({"dropout": 1.0}, (2,), "dropout must lie in [0, 1), got 1.0"),
    ({"network": "transformer"}, (2,), "network must be one of auto, unet, mlp, got 'transformer'"),
    ({"network": "unet"}, (2,), "network 'unet' needs images (C, H, W); 'data' is shaped (2,)"),
    ({}, (4, 4), "needs vectors (D,) or images (C, H, W), or network 'mlp'; 'data' is shaped (4, 4)"),
    ({"levels": 4}, (1, 8, 8), "levels 4 halves 8x8 images below 2x2: at most 3 for this size (the note)"),
    ({"channels": 20}, (1, 8, 8), "channels 20 is not a multiple of the 8 GroupNorm groups (the note)"),
])
def test_the_shared_check_names_what_is_wrong_and_the_plugins_note_on_a_u_net(settings, shape, words):
    assert DenoiserSettings(**settings).denoiser_problem(shape, "data", "the note") == words


@pytest.mark.parametrize(("settings", "shape"), [
    ({}, (2,)), ({}, (1, 8, 8)), ({"levels": 4, "channels": 20}, (2,)), ({"network": "mlp", "levels": 4}, (4, 4)),
    ({"network": "unet", "attention_resolution": 0}, (1, 8, 8)),
])
def test_the_shared_check_passes_what_the_network_takes(settings, shape):
    config = DenoiserSettings(**{"hidden": 8, "depth": 1, "channels": 8, **settings})  # small, so quick
    assert config.denoiser_problem(shape, "data", "the note") == ""
    x = torch.randn(3, *shape)
    assert config.build_denoiser(shape)(x, torch.ones(3)).shape == x.shape
