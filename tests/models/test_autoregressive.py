"""The autoregressive family: exact probabilities, causal masks, sampling that matches the density,
learning on held-out data, and clear errors for data a variant cannot model.

Also the output distributions it added to ``benchbench.distributions`` (mixture of Gaussians,
discretised logistic mixture, choice by name).
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from scipy import stats

from benchbench import CapabilityError, Dataset, EvalContext, UsageError
from benchbench.cli import cli
from benchbench.distributions import CONDITIONALS, DiscretizedLogisticMixture, MixtureOfGaussians, by_name
from benchbench.engine.environment import seed_everything
from benchbench.engine.suite import Budget
from benchbench.engine.training import FitPlan, fit
from benchbench_plugins.datasets.digits import make_digits, make_digits_binary
from benchbench_plugins.datasets.toy2d import make_8gaussians
from benchbench_plugins.metrics.likelihood.compute import evaluate_nll
from benchbench_plugins.models import autoregressive
from benchbench_plugins.models.autoregressive.base import Autoregressive
from benchbench_plugins.models.autoregressive.build import build
from benchbench_plugins.models.autoregressive.pixelcnn import PixelCNN, causal_mask
from benchbench_plugins.models.baseline.model import build as build_baseline

SPEC = autoregressive.benchbench_models()[0]
VARIANTS = list(SPEC.variants)
SMALL = {"hidden": 16, "layers": 1, "kernel": 3}  # fast nets for exactness checks; applied where the variant reads them

# Every configuration the exactness checks run on: (id, variant, overrides, example shape).
CONFIGS = [
    ("fvsbn", "fvsbn", {}, (6,)),
    ("nade", "nade", {}, (6,)),
    ("made", "made", {"orderings": 1, "order": "natural", "direct": False}, (6,)),
    ("made-random-direct", "made", {"orderings": 1, "order": "random", "direct": True}, (6,)),
    ("made-ensemble", "made", {"orderings": 4, "order": "random"}, (6,)),
    ("made-connectivity-ensemble", "made", {"orderings": 3, "order": "natural", "layers": 2}, (6,)),
    ("rnn-gru", "rnn", {"cell": "gru"}, (6,)),
    ("rnn-lstm", "rnn", {"cell": "lstm", "layers": 2}, (6,)),
    ("pixelcnn", "pixelcnn", {}, (1, 2, 3)),
    ("pixelcnn-gated", "pixelcnn", {"gated": True}, (1, 2, 3)),
    ("pixelcnn-2-channels", "pixelcnn", {}, (2, 2, 2)),
    ("pixelcnn-gated-2-channels", "pixelcnn", {"gated": True}, (2, 2, 2)),
]
IDS = [c[0] for c in CONFIGS]


# ---- helpers --------------------------------------------------------------------------------------


def params_for(variant: str, small: bool = True, **overrides: object) -> dict:
    """Spec defaults, then the variant's, then SMALL (when ``small``) where the variant reads them,
    then ``overrides``."""
    params = {**SPEC.defaults(), **SPEC.variants[variant]}
    if small:
        params.update({k: v for k, v in SMALL.items() if k in autoregressive.USES[variant]})
    return {**params, **overrides}


def make_model(data: Dataset, variant: str, small: bool = True, **overrides: object) -> Autoregressive:
    return build(data, variant, **params_for(variant, small, **overrides))


def dataset(train: np.ndarray, kind: str, levels: int | None = None, name: str = "tiny") -> Dataset:
    return Dataset(name, train, train[:4], train[:4], kind, levels=levels)


def tiny(shape: tuple[int, ...], kind: str = "binary", levels: int | None = None) -> Dataset:
    """32 random examples of ``shape``: 0/1, ``k / (L - 1)`` or standard normal."""
    rng = np.random.default_rng(0)
    if kind == "continuous":
        return dataset(rng.normal(size=(32, *shape)), kind)
    top = (levels or 2) - 1
    return dataset(rng.integers(0, top + 1, size=(32, *shape)) / top, kind, levels)


def sharpen(model: torch.nn.Module, seed: int = 0) -> None:
    """Random weights far from the near-uniform initialisation, so every dependency matters."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=generator) * 0.7)


def all_vectors(levels: int, shape: tuple[int, ...]) -> torch.Tensor:
    """Every point of {0, ..., L-1}^D stored as k / (L - 1), shaped (L^D, *shape)."""
    grid = torch.tensor(list(itertools.product(range(levels), repeat=math.prod(shape))), dtype=torch.float32)
    return (grid / (levels - 1)).view(-1, *shape)


def train(model, data: Dataset, steps: int, batch_size: int = 64, seed: int = 0) -> None:
    """Through the host's one training loop, as a cell would."""
    plan = FitPlan(Budget("steps", steps), batch_size, progress=False)
    fit(model, torch.as_tensor(data.train), None, plan, seed=seed)
    model.eval()


def held_out_bpd(model, data: Dataset) -> float:
    """Test bits/dim through the nll metric's own code."""
    context = EvalContext(model, data, None, "cpu", 0, Path("unused-cache"), batch_size=256)
    return {v.name: v.value for v in evaluate_nll(context)}["bpd"]


# ---- exactness: the probabilities of every vector sum to one ----------------------------------


@pytest.mark.parametrize("variant, overrides, shape", [c[1:] for c in CONFIGS], ids=IDS)
def test_probabilities_of_all_binary_vectors_sum_to_one(variant, overrides, shape):
    seed_everything(0)
    model = make_model(tiny(shape), variant, **overrides)
    sharpen(model)
    with torch.no_grad():
        log_p = model.log_prob(all_vectors(2, shape)).double()
    assert model.density == "discrete"
    assert abs(log_p.exp().sum().item() - 1) < 1e-5
    assert log_p.max() - log_p.min() > 1.0  # far from uniform: the check is not passed trivially


@pytest.mark.parametrize("conditional", ["categorical", "logistic-mixture"])
@pytest.mark.parametrize("variant, overrides, shape", [
    ("fvsbn", {}, (4,)), ("nade", {}, (4,)), ("made", {"orderings": 3}, (4,)), ("rnn", {}, (4,)),
    ("pixelcnn", {}, (1, 2, 2)), ("pixelcnn", {"gated": True}, (1, 2, 2)),
], ids=["fvsbn", "nade", "made-ensemble", "rnn", "pixelcnn", "pixelcnn-gated"])
def test_probabilities_of_all_3_level_vectors_sum_to_one(variant, overrides, shape, conditional):
    levels = 3
    seed_everything(0)
    model = make_model(tiny(shape, "discrete", levels), variant, conditional=conditional, components=2, **overrides)
    sharpen(model)
    with torch.no_grad():
        total = model.log_prob(all_vectors(levels, shape)).double().exp().sum().item()
    assert abs(total - 1) < 1e-5


@pytest.mark.parametrize("variant", ["fvsbn", "nade", "made", "rnn"])
def test_mixture_of_gaussians_density_integrates_to_one(variant):
    seed_everything(0)
    model = make_model(tiny((2,), "continuous"), variant, components=3)
    assert model.density == "continuous"
    ticks = torch.linspace(-12, 12, 801)
    with torch.no_grad():  # the initial weights: conditionals of about unit scale, resolved by the grid
        log_p = model.log_prob(torch.cartesian_prod(ticks, ticks)).double()
    mass = log_p.exp().sum().item() * (ticks[1] - ticks[0]).item() ** 2
    assert abs(mass - 1) < 1e-3
    assert log_p.max() > -5  # the mass is not spread thin over the grid (uniform would be -6.8)


# ---- the autoregressive property, by gradients -----------------------------------------------


def dependencies(model, x: torch.Tensor) -> torch.Tensor:
    """(D, D) boolean: [d, j] when some conditional parameter of dimension d moves with input j."""
    x = x.clone().requires_grad_(True)
    out = model.conditionals(x)  # (B, D, P)
    rows = []
    for d in range(out.shape[1]):
        (grad,) = torch.autograd.grad(out[:, d].sum(), x, retain_graph=True)
        rows.append(grad.abs().sum(0).flatten() > 0)
    return torch.stack(rows)


def before(order: torch.Tensor) -> torch.Tensor:
    """(D, D) boolean: [d, j] when j comes strictly before d in the sampling order."""
    position = torch.argsort(order)
    return position[None, :] < position[:, None]


@pytest.mark.parametrize("variant, overrides", [
    ("fvsbn", {}), ("nade", {}), ("rnn", {"cell": "lstm"}), ("rnn", {"cell": "gru", "layers": 2}),
], ids=["fvsbn", "nade", "rnn-lstm", "rnn-gru"])
def test_each_conditional_sees_exactly_the_dimensions_before_it(variant, overrides):
    seed_everything(0)
    model = make_model(tiny((7,), "continuous"), variant, components=2, **overrides)
    sharpen(model)
    seen = dependencies(model, torch.randn(8, 7))
    assert torch.equal(seen, before(model.order))


@pytest.mark.parametrize("overrides", [
    {"orderings": 1, "order": "natural", "direct": False, "layers": 2},
    {"orderings": 5, "order": "random", "direct": True},
    {"orderings": 3, "order": "natural", "direct": False, "layers": 3},
], ids=["single", "random-orderings-direct", "connectivity-ensemble"])
def test_made_outputs_never_see_their_own_or_later_inputs(overrides):
    seed_everything(0)
    model = make_model(tiny((9,), "binary"), "made", hidden=32, **overrides)
    sharpen(model)
    for k in range(model.members):
        model.use(k)
        seen = dependencies(model, torch.rand(16, 9))
        allowed = before(model.orders[k])
        assert not (seen & ~allowed).any(), f"member {k} leaks: {(seen & ~allowed).nonzero().tolist()}"
        assert seen.any(1).sum() >= 5  # most conditionals depend on the past (deep random masks can cut a few off)
        if overrides["direct"]:
            assert torch.equal(seen, allowed)  # the direct connections reach every earlier input


def test_made_members_use_different_orderings_and_any_number_of_them_samples():
    seed_everything(0)
    model = make_model(tiny((9,), "binary"), "made", orderings=4, order="random")
    assert len({tuple(o.tolist()) for o in model.orders}) > 1
    assert all(sorted(o.tolist()) == list(range(9)) for o in model.orders)
    with torch.no_grad():
        assert model.sample(2).shape == (2, 9)  # fewer samples than members: some members draw none


@pytest.mark.parametrize("gated", [False, True], ids=["pixelcnn", "gated"])
@pytest.mark.parametrize("shape", [(1, 4, 5), (3, 3, 4)], ids=["grey", "rgb"])
def test_pixelcnn_sees_only_earlier_pixels_and_earlier_channels(gated, shape):
    seed_everything(0)  # initial weights: saturated gates would hide dependencies
    model = make_model(tiny(shape, "continuous"), "pixelcnn", gated=gated, hidden=24, layers=2, kernel=5, components=1)
    seen = dependencies(model, torch.randn(16, *shape))  # enough examples that no ReLU is off for all of them
    allowed = before(model.order)
    assert not (seen & ~allowed).any(), f"leaks: {(seen & ~allowed).nonzero().tolist()[:5]}"
    c, h, w = shape
    index = lambda ch, i, j: ch * h * w + i * w + j  # noqa: E731
    assert seen[index(0, 1, 1), index(0, 1, 0)] and seen[index(0, 1, 1), index(0, 0, 1)]  # left and above
    if c > 1:
        assert seen[index(2, 1, 1), index(0, 1, 1)] and seen[index(2, 1, 1), index(1, 1, 1)]  # earlier channels
        assert not seen[index(0, 1, 1), index(1, 1, 1)]  # but not later ones
    if gated:  # no blind spot: the receptive field covers these small images, so every earlier dimension is seen
        assert torch.equal(seen, allowed)


def test_mask_type_a_excludes_the_centre_and_type_b_includes_it():
    one = torch.zeros(1, dtype=torch.long)
    a = causal_mask(one, one, (3, 3), (1, 1), type_a=True)[0, 0]
    b = causal_mask(one, one, (3, 3), (1, 1), type_a=False)[0, 0]
    expected_a = torch.tensor([[1.0, 1, 1], [1, 0, 0], [0, 0, 0]])
    assert torch.equal(a, expected_a)
    assert torch.equal(b, expected_a + torch.tensor([[0.0, 0, 0], [0, 1, 0], [0, 0, 0]]))
    groups = torch.arange(3)  # R, G, B at the centre: A is strictly lower, B lower or equal
    centre_a = causal_mask(groups, groups, (3, 3), (1, 1), type_a=True)[:, :, 1, 1]
    centre_b = causal_mask(groups, groups, (3, 3), (1, 1), type_a=False)[:, :, 1, 1]
    assert torch.equal(centre_a, torch.ones(3, 3).tril(-1)) and torch.equal(centre_b, torch.ones(3, 3).tril())


@pytest.mark.parametrize("gated", [False, True], ids=["pixelcnn", "gated"])
def test_pixelcnn_conditionals_on_a_sampling_window_equal_those_on_the_whole_image(gated):
    seed_everything(0)
    shape = (2, 12, 13)
    model = make_model(tiny(shape, "continuous"), "pixelcnn", gated=gated, hidden=8, layers=1, kernel=3, components=1)
    sharpen(model)
    x = torch.randn(3, *shape)
    with torch.no_grad():
        full = model.conditionals(x).view(3, *shape, -1)
        for i, j in [(0, 0), (5, 6), (11, 12), (11, 0), (7, 12)]:
            rows, cols = model.window(i, j)
            crop = x[:, :, rows, cols]
            assert crop.shape[2:] != shape[1:]  # the window really is smaller
            part = model.conditionals(crop).view(3, *crop.shape[1:], -1)
            at = part[:, :, i - rows.start, j - cols.start]
            torch.testing.assert_close(at, full[:, :, i, j], rtol=1e-5, atol=1e-5)


# ---- sampling ---------------------------------------------------------------------------------


@pytest.mark.parametrize("variant, overrides, shape", [c[1:] for c in CONFIGS], ids=IDS)
def test_samples_follow_the_density(variant, overrides, shape):
    """Sequential sampling draws from the distribution log_prob scores: a chi-square test over all
    2^D binary vectors (an ordering mix-up between the two fails it by far)."""
    seed_everything(0)
    model = make_model(tiny(shape), variant, **overrides)
    sharpen(model, seed=1)
    model.eval()
    n = 10_000
    with torch.no_grad():
        samples = model.sample(n)
        expected = model.log_prob(all_vectors(2, shape)).double().exp().numpy() * n
    assert samples.shape == (n, *shape)
    assert set(samples.unique().tolist()) <= {0.0, 1.0}
    codes = (samples.flatten(1) * 2 ** torch.arange(samples[0].numel() - 1, -1, -1)).sum(1).long()
    observed = np.bincount(codes.numpy(), minlength=len(expected))
    big = expected >= 5
    f_obs = np.append(observed[big], observed[~big].sum())
    f_exp = np.append(expected[big], expected[~big].sum())
    if f_exp[-1] < 5:  # pool the small cells into the smallest big one
        f_obs, f_exp = f_obs[:-1], f_exp[:-1]
        f_obs[np.argmin(f_exp)] += observed[~big].sum()
        f_exp[np.argmin(f_exp)] += expected[~big].sum()
    assert stats.chisquare(f_obs, f_exp * f_obs.sum() / f_exp.sum()).pvalue > 1e-4
    assert stats.entropy(expected) < math.log(len(expected)) - 0.3  # a distribution worth testing against


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("kind, levels, conditional", [
    ("binary", None, "auto"), ("discrete", 5, "auto"), ("discrete", 5, "logistic-mixture"), ("discrete", 5, "gaussian"),
    ("continuous", None, "auto"),
])
def test_samples_have_the_data_shape_and_lie_in_its_support(variant, kind, levels, conditional):
    seed_everything(0)
    shape = (1, 3, 4) if variant == "pixelcnn" else (5,)
    model = make_model(tiny(shape, kind, levels), variant, conditional=conditional, components=3)
    model.eval()
    with torch.no_grad():
        samples = model.sample(50)
    assert samples.shape == (50, *shape) and samples.device == model.device
    assert torch.isfinite(samples).all()
    if kind == "binary":
        assert set(samples.unique().tolist()) <= {0.0, 1.0}
    elif kind == "discrete" and conditional != "gaussian":  # a mass over the levels k / (L - 1)
        k = samples * (levels - 1)
        assert torch.allclose(k, k.round()) and k.min() >= 0 and k.max() <= levels - 1
    assert model.density == ("continuous" if conditional == "gaussian" or kind == "continuous" else "discrete")


# ---- learning on held-out data ----------------------------------------------------------------


@pytest.mark.slow
def test_mixture_made_reaches_the_true_density_of_8_gaussians():
    """Test NLL within 0.15 nats of the true density's own test NLL, and not better than it beyond
    3 standard errors of the paired difference (that would mean a density that does not normalise)."""
    data = make_8gaussians(n_train=20_000, n_val=1_000, n_test=5_000, data_seed=0, std=0.2, radius=2.0)
    seed_everything(0)
    model = make_model(data, "made", orderings=1, order="natural", direct=False, hidden=128, layers=2, components=10,
                       lr=3e-3)
    train(model, data, steps=2000, batch_size=256)
    with torch.no_grad():
        model_nll = -model.log_prob(torch.as_tensor(data.test)).double().numpy()
    gap = model_nll - (-data.log_density(data.test))
    standard_error = gap.std() / math.sqrt(len(gap))
    assert gap.mean() < 0.15, f"test NLL {model_nll.mean():.3f} is {gap.mean():.3f} nats above the truth"
    assert gap.mean() > -3 * standard_error, f"better than the true density by {-gap.mean():.3f} nats"


DIGITS_RECIPES = {  # variant: (overrides, steps); batch 64, about 20 steps an epoch
    "fvsbn": ({}, 600),
    "nade": ({}, 500),
    "made": ({}, 600),
    "rnn": ({}, 400),
    "pixelcnn": ({"hidden": 32, "layers": 2, "lr": 1e-2}, 300),
    "gated-pixelcnn": ({"hidden": 32, "layers": 2, "lr": 1e-2, "gated": True}, 200),
}


@pytest.mark.slow
def test_every_variant_beats_independent_pixels_on_digits_and_made_and_pixelcnn_beat_fvsbn():
    data = make_digits(split_seed=0, val_fraction=0.1, test_fraction=0.2)
    seed_everything(0)
    baseline = build_baseline(data)
    train(baseline, data, steps=500)
    bpd = {"independent": held_out_bpd(baseline, data)}
    for name, (overrides, steps) in DIGITS_RECIPES.items():
        seed_everything(0)
        model = make_model(data, name.removeprefix("gated-"), small=False, **overrides)
        train(model, data, steps)
        bpd[name] = held_out_bpd(model, data)
    print("digits test bits/dim:", {k: round(v, 4) for k, v in bpd.items()})
    for name in DIGITS_RECIPES:
        assert bpd[name] < bpd["independent"] - 0.1, bpd
    for name in ("made", "pixelcnn", "gated-pixelcnn"):
        assert bpd[name] < bpd["fvsbn"], bpd


def test_bernoulli_variants_learn_binary_digits():
    data = make_digits_binary(split_seed=0, val_fraction=0.1, test_fraction=0.2)
    seed_everything(0)
    baseline = build_baseline(data)
    train(baseline, data, steps=300)
    floor = held_out_bpd(baseline, data)
    for variant, steps in (("made", 300), ("nade", 300)):
        seed_everything(0)
        model = make_model(data, variant, small=False)
        train(model, data, steps)
        assert held_out_bpd(model, data) < floor - 0.1


# ---- errors -----------------------------------------------------------------------------------


def test_bernoulli_conditionals_on_17_level_digits_name_model_variant_and_mismatch():
    data = make_digits(split_seed=0, val_fraction=0.1, test_fraction=0.2)
    with pytest.raises(CapabilityError, match=r"'autoregressive'.*'made'.*'digits'.*Bernoulli.*17 levels"):
        make_model(data, "made", conditional="bernoulli")


def test_discrete_conditionals_on_continuous_data_are_refused():
    data = tiny((2,), "continuous")
    for conditional in ("bernoulli", "categorical", "logistic-mixture"):
        says = "Bernoulli" if conditional == "bernoulli" else conditional
        with pytest.raises(CapabilityError, match=f"'nade'.*{says} conditionals need .* the data is continuous"):
            make_model(data, "nade", conditional=conditional)


def test_pixelcnn_refuses_vectors_and_images_too_small_for_its_first_mask():
    with pytest.raises(CapabilityError, match=r"'pixelcnn'.*'tiny'.*\(C, H, W\).*\(2,\)"):
        make_model(tiny((2,), "continuous"), "pixelcnn")
    too_small = r"7x7 mask needs images of at least 4x4 pixels, got 3x8; use kernel <= 5"
    with pytest.raises(CapabilityError, match=too_small):
        make_model(tiny((1, 3, 8)), "pixelcnn", kernel=7)
    with pytest.raises(CapabilityError, match="one group per image channel"):
        make_model(tiny((3, 4, 4)), "pixelcnn", hidden=2)
    assert isinstance(make_model(tiny((1, 3, 8)), "pixelcnn", kernel=5), PixelCNN)


def test_a_parameter_the_variant_does_not_read_is_an_error():
    with pytest.raises(UsageError, match=r"cell.*no effect.*it reads"):
        build(tiny((4,)), "made", **{**params_for("made"), "cell": "gru"})
    with pytest.raises(UsageError, match="unknown variant"):
        build(tiny((4,)), "wavenet", **params_for("made"))


def test_bench_run_stops_before_training_when_pixelcnn_meets_2d_data(tmp_path):
    suite = tmp_path / "bad.toml"
    suite.write_text(
        '[suite]\nname = "bad"\n[[datasets]]\nname = "8gaussians"\n[[metrics]]\nname = "nll"\n'
        '[[models]]\nplugin = "autoregressive"\nvariant = "pixelcnn"\nbudget = { steps = 1 }\n'
    )
    result = CliRunner().invoke(cli, ["run", str(suite), "--results", str(tmp_path / "results")])
    assert result.exit_code == 2, result.output
    assert "pixelcnn" in result.output and "(C, H, W)" in result.output
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").rglob("cells.jsonl"))


# ---- checkpoints ------------------------------------------------------------------------------


def test_a_restored_checkpoint_gives_the_same_probabilities(tmp_path):
    data = tiny((6,))
    seed_everything(0)
    model = make_model(data, "made", orderings=3)
    plan = FitPlan(Budget("steps", 5), 8, tmp_path / "made.pt", checkpoint_every=5, progress=False)
    fit(model, torch.as_tensor(data.train), None, plan, seed=0)
    seed_everything(1)  # other weights, masks and orderings until the checkpoint is loaded
    restored = make_model(data, "made", orderings=3)
    x = all_vectors(2, (6,))
    with torch.no_grad():
        assert not torch.allclose(restored.log_prob(x), model.log_prob(x))
        fit(restored, torch.as_tensor(data.train), None, plan, seed=0)  # finds the finished checkpoint
        torch.testing.assert_close(restored.log_prob(x), model.log_prob(x))
        assert torch.equal(restored.orders, model.orders)


# ---- the output distributions added to benchbench.distributions -------------------------------


def test_spec_lists_the_conditionals_of_benchbench_distributions():
    assert autoregressive.CONDITIONALS == CONDITIONALS
    assert set(autoregressive.USES) == set(SPEC.variants)


def test_mixture_of_gaussians_matches_scipy():
    mog = MixtureOfGaussians(3)
    out = torch.randn(5, 2 * 9, dtype=torch.float64)
    x = torch.randn(5, 2, dtype=torch.float64)
    logits, mean, log_std = out.view(5, 2, 3, 3).unbind(2)
    weights = torch.softmax(logits, -1).numpy()
    pdf = (weights * stats.norm.pdf(x.numpy()[..., None], mean.numpy(), np.exp(log_std.numpy()))).sum(-1)
    np.testing.assert_allclose(mog.log_prob(out, x).numpy(), np.log(pdf).sum(1), rtol=1e-10)


def test_discretized_logistic_mixture_is_a_distribution_over_the_levels():
    levels = 6
    dlm = DiscretizedLogisticMixture(levels, 2)
    out = torch.randn(4, 6, dtype=torch.float64) * 2
    out[1, 4:] = -7.0  # scales at the clamp: nearly all mass on the nearest level
    out[2, 4:] = 5.0  # very wide: mass piles up at the two end levels
    k = torch.arange(levels, dtype=torch.float64) / (levels - 1)
    log_mass = torch.stack([dlm.log_prob(out, k_i.expand(4, 1)) for k_i in k], 1)  # (4, L)
    torch.testing.assert_close(log_mass.exp().sum(1), torch.ones(4, dtype=torch.float64))
    logits, mean, log_scale = out.view(4, 3, 2).unbind(1)  # against scipy's logistic cdf
    edges = np.concatenate([[-np.inf], (2 * np.arange(levels - 1) + 1) / (levels - 1) - 1, [np.inf]])
    cdf = stats.logistic.cdf(edges[None, None, :], mean.numpy()[..., None], np.exp(log_scale.numpy())[..., None])
    mass = (torch.softmax(logits, -1).numpy()[..., None] * np.diff(cdf, axis=-1)).sum(1)
    np.testing.assert_allclose(log_mass.exp().numpy(), mass, rtol=1e-6, atol=1e-12)
    samples = dlm.sample(out[:1].expand(40_000, -1)) * (levels - 1)
    frequencies = np.bincount(samples.round().long().flatten().numpy(), minlength=levels) / 40_000
    np.testing.assert_allclose(frequencies, mass[0], atol=0.01)
    np.testing.assert_allclose(dlm.mean(out)[:, 0].numpy(), mass @ (np.arange(levels) / (levels - 1)), rtol=1e-6)


def test_mixture_of_gaussians_samples_and_mean_agree():
    mog = MixtureOfGaussians(3)
    out = torch.randn(1, 9, dtype=torch.float64) * 2
    logits, mean, log_std = out.view(3, 3)
    expected = (torch.softmax(logits, 0) * mean).sum()
    torch.testing.assert_close(mog.mean(out)[0, 0], expected)
    samples = mog.sample(out.expand(40_000, -1))[:, 0]
    spread = torch.sqrt((torch.softmax(logits, 0) * (log_std.clamp(-7, 5).exp() ** 2 + mean**2)).sum() - expected**2)
    assert abs(samples.mean() - expected) < 4 * spread / math.sqrt(40_000)


def test_by_name_picks_the_conditional_and_names_the_mismatch():
    assert type(by_name("auto", "binary", 2)).__name__ == "Bernoulli"
    assert type(by_name("auto", "discrete", 17)).__name__ == "Categorical"
    assert type(by_name("auto", "continuous", None, components=1)).__name__ == "Gaussian"
    assert isinstance(by_name("auto", "continuous", None, components=4), MixtureOfGaussians)
    assert isinstance(by_name("gaussian", "discrete", 17, components=2), MixtureOfGaussians)
    assert isinstance(by_name("logistic-mixture", "binary", 2, components=2), DiscretizedLogisticMixture)
    with pytest.raises(ValueError, match="Bernoulli conditionals need binary data, the data is discrete with 17 lev"):
        by_name("bernoulli", "discrete", 17)
    with pytest.raises(ValueError, match="categorical conditionals need data with levels, the data is continuous"):
        by_name("categorical", "continuous", None)
