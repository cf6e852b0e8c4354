"""Disentanglement metrics: the model-free properties of disentanglement_lib's own tests (identity,
all-zero and duplicated codes of ten 10-valued factors; closed-form importance matrices), then the
metrics through the plugin on sprites with a hand-made encoder, and their ``n/a``s."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from benchbench import EvalContext, Model, NotApplicable
from benchbench.testing import check_metric, plugin_registry, tiny_datasets
from benchbench_plugins.datasets import sprites
from benchbench_plugins.metrics import disentanglement
from benchbench_plugins.metrics.disentanglement import dci, modularity, sap
from benchbench_plugins.metrics.disentanglement.beta_vae import beta_vae_score
from benchbench_plugins.metrics.disentanglement.factor_vae import factor_vae_score
from benchbench_plugins.metrics.disentanglement.ground_truth import draw_factors
from benchbench_plugins.metrics.disentanglement.information import entropies, histogram_discretise, mutual_information
from benchbench_plugins.metrics.disentanglement.mig import mig

REGISTRY = plugin_registry({"disentanglement": disentanglement, "sprites": sprites})
SIZES = (10,) * 10  # disentanglement_lib's IdentityObservationsData: ten factors of ten values
CODES = {
    "identity": lambda f: f.astype(np.float64),
    "zeros": lambda f: np.zeros(f.shape),
    "duplicated": lambda f: np.hstack([f, f]).astype(np.float64),
}


def points(code: str, n: int, seed: int, sizes: tuple[int, ...] = SIZES) -> tuple[np.ndarray, np.ndarray]:
    factors = draw_factors(np.random.default_rng(seed), (n,), sizes)
    return CODES[code](factors), factors


def fit_and_eval(code: str, n: int = 3000, sizes: tuple[int, ...] = SIZES):
    return points(code, n, 0, sizes), points(code, n, 1, sizes)


def modularity_of(code: str) -> float:
    codes, factors = points(code, 3000, 0)
    return modularity.modularity(mutual_information(histogram_discretise(codes, 20), factors))


# ---- the shared estimator -------------------------------------------------------------------------


def test_histogram_bins_are_equal_width_over_the_range_and_numbered_from_one():
    codes = np.array([[0.0], [0.49], [0.5], [0.99], [1.0]])
    np.testing.assert_array_equal(histogram_discretise(codes, 2)[:, 0], [1, 1, 2, 2, 2])
    assert set(histogram_discretise(np.random.default_rng(0).normal(size=(500, 3)), 20).ravel()) == set(range(1, 21))


def test_a_factor_shares_its_whole_entropy_with_itself():
    _, factors = points("identity", 2000, 0)
    information = mutual_information(factors, factors)
    np.testing.assert_allclose(np.diag(information), entropies(factors))
    assert entropies(factors) == pytest.approx(np.full(10, math.log(10)), abs=0.01)


# ---- identity, zero and duplicated codes (disentanglement_lib's *_test.py) -----------------------


def test_an_identity_code_scores_near_one_on_every_score():
    codes, factors = points("identity", 3000, 0)
    identity = CODES["identity"]
    assert 0.9 <= mig(codes, factors, 20) <= 1.0
    assert 0.9 <= modularity_of("identity") <= 1.0
    assert 0.9 <= sap.top_two_gap(sap.score_matrix(*fit_and_eval("identity"), "r2", 0)) <= 1.0
    assert all(0.9 <= a <= 1.0 for a in beta_vae_score(identity, SIZES, 1000, 500, 5, seed=0))
    assert all(0.9 <= a <= 1.0 for a in factor_vae_score(identity, SIZES, 1000, 500, 2500, 5, 0.05, seed=0)[:2])
    assert all(0.9 <= a <= 1.0 for a in modularity.explicitness(*fit_and_eval("identity", 1000), seed=0))


def test_all_zero_codes_score_near_zero():
    codes, factors = points("zeros", 3000, 0)
    zeros = CODES["zeros"]
    assert 0.0 <= mig(codes, factors, 20) <= 0.2
    assert modularity_of("zeros") == 0.0  # a code that carries nothing scores 0
    assert 0.0 <= sap.top_two_gap(sap.score_matrix(*fit_and_eval("zeros", 1000), "linear_svc", 0)) <= 0.2
    assert all(0.0 <= a <= 0.2 for a in beta_vae_score(zeros, SIZES, 1000, 500, 5, seed=0))
    assert factor_vae_score(zeros, SIZES, 1000, 500, 2500, 5, 0.05, seed=0) == (0.0, 0.0, 0)  # every dim pruned


def test_duplicated_codes_have_no_gap_but_stay_modular():
    codes, factors = points("duplicated", 3000, 0)
    assert 0.0 <= mig(codes, factors, 20) <= 0.1
    assert 0.0 <= sap.top_two_gap(sap.score_matrix(*fit_and_eval("duplicated"), "r2", 0)) <= 0.2
    assert 0.9 <= modularity_of("duplicated") <= 1.0


def test_a_linear_svm_reads_two_valued_factors_off_an_identity_code():
    """SAP's default score matrix holds held-out accuracies: on two-valued factors the code of each
    factor is exact and the others at chance, so the gap is 1 - 1/2. One linear function of one
    code cannot single out the middle values of a ten-valued factor, so that gap is smaller."""
    matrix = sap.score_matrix(*fit_and_eval("identity", 1000, (2,) * 10), "linear_svc", 0)
    np.testing.assert_allclose(np.diag(matrix), 1.0)
    assert sap.top_two_gap(matrix) == pytest.approx(0.5, abs=0.05)
    assert 0.1 < sap.top_two_gap(sap.score_matrix(*fit_and_eval("identity", 1000), "linear_svc", 0)) < 0.5


def test_boosted_trees_find_one_factor_per_identity_code_and_nothing_in_zeros():
    fit, evaluation = fit_and_eval("identity", 500, (5,) * 5)
    importance, _, accuracy = dci.importance_matrix(fit, evaluation, n_estimators=10, seed=0)
    assert 0.9 <= dci.disentanglement(importance) <= 1.0 and 0.9 <= dci.completeness(importance) <= 1.0
    assert accuracy == pytest.approx(1.0)
    importance, _, _ = dci.importance_matrix(*fit_and_eval("zeros", 500, (5,) * 5), n_estimators=10, seed=0)
    assert dci.disentanglement(importance) == pytest.approx(0.0, abs=1e-7)


# ---- closed forms on hand-made matrices -----------------------------------------------------------

DIAGONAL = np.diag(np.full(5, 5.0))
ONE_CODE_TWO_FACTORS = np.hstack([DIAGONAL, DIAGONAL])  # (5 codes, 10 factors)
TWO_CODES_ONE_FACTOR = np.vstack([DIAGONAL, DIAGONAL])  # (10 codes, 5 factors)
EMPTY_CODE = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
SPREAD = 1 - math.log(2) / math.log(10)  # importance split evenly over 2 of 10


@pytest.mark.parametrize(("matrix", "disentanglement", "completeness"), [
    (DIAGONAL, 1.0, 1.0), (EMPTY_CODE, 1.0, 1.0), (np.zeros((10, 10)), 0.0, 0.0),
    (TWO_CODES_ONE_FACTOR, 1.0, SPREAD), (DIAGONAL[:2], 1.0, 1.0), (ONE_CODE_TWO_FACTORS, SPREAD, 1.0),
], ids=["diagonal", "empty code", "zero", "redundant codes", "missed factors", "one code two factors"])
def test_dci_of_importance_matrices_matches_the_closed_form(matrix, disentanglement, completeness):
    assert dci.disentanglement(matrix) == pytest.approx(disentanglement, abs=1e-7)
    assert dci.completeness(matrix) == pytest.approx(completeness, abs=1e-7)


@pytest.mark.parametrize(("matrix", "expected"), [
    (DIAGONAL, 1.0), (EMPTY_CODE, 2 / 3), (np.zeros((10, 10)), 0.0), (TWO_CODES_ONE_FACTOR, 1.0),
    (DIAGONAL[:2], 1.0), (ONE_CODE_TWO_FACTORS, 1 - 1 / 9),
], ids=["diagonal", "empty code", "zero", "redundant codes", "missed factors", "one code two factors"])
def test_modularity_of_information_matrices_matches_the_closed_form(matrix, expected):
    assert modularity.modularity(matrix) == pytest.approx(expected)


def test_gaps_compare_a_single_code_with_zero():
    assert sap.top_two_gap(np.array([[0.7, 0.2]])) == pytest.approx(0.45)


# ---- through the plugin, on sprites ---------------------------------------------------------------


class MomentEncoder(Model):
    """A hand-made encoder: the sprite's centroid (x, y) and its area, which follow position and
    scale; no training."""

    capabilities = frozenset({"encode"})
    density = "discrete"

    def train_step(self, x, y=None):
        return {"loss": 0.0}

    def sample(self, n, labels=None):
        return torch.zeros(n, 1, 16, 16)

    def encode(self, x):
        image = x[:, 0]
        mass = image.sum((1, 2)).clamp_min(1)
        ticks = torch.arange(image.shape[-1], dtype=image.dtype)
        return torch.stack([(image.sum(1) * ticks).sum(1) / mass, (image.sum(2) * ticks).sum(1) / mass, mass], 1)


SMALL = {"beta_vae_score": {"n_train": 300, "n_eval": 150, "group_size": 16},
         "factor_vae_score": {"n_train": 300, "n_eval": 150, "n_variance": 1000, "group_size": 16},
         "mig": {"n": 1000}, "dci": {"n_train": 600, "n_test": 300, "n_estimators": 5},
         "sap": {"n_train": 600, "n_test": 300}, "modularity_explicitness": {"n_train": 600, "n_test": 300}}


@pytest.fixture(scope="module")
def sprite_data():
    return sprites.make_sprites(size=16, scales=3, orientations=3, positions=8, n_train=50, n_val=10, n_test=1000,
                                data_seed=0)


def context(data, model: Model | None = None) -> EvalContext:
    return EvalContext(model or MomentEncoder(), data, None, "cpu", 0, Path("unused-cache"), batch_size=512)


def test_every_metric_keeps_the_contract_and_returns_its_declared_names(sprite_data):
    for name, params in SMALL.items():
        spec = REGISTRY.metric(name)
        values = check_metric(spec, context(sprite_data), **params)
        full = {**spec.defaults(), **params}
        assert all(spec.declared(v.name, full) for v in values), [v.name for v in values]
        assert all(0.0 <= v.value <= 1.0 and v.direction == "higher" for v in values)


def test_a_code_of_position_and_scale_beats_a_constant_one(sprite_data):
    class Constant(MomentEncoder):
        def encode(self, x):
            return torch.zeros(len(x), 3)

    for name in ("mig", "beta_vae_score"):
        spec = REGISTRY.metric(name)
        moments, constant = (check_metric(spec, context(sprite_data, m), **SMALL[name])[0].value
                             for m in (MomentEncoder(), Constant()))
        assert moments > constant + 0.2, name


def test_values_name_what_defines_them(sprite_data):
    names = {v.name for v in check_metric(REGISTRY.metric("dci"), context(sprite_data), **SMALL["dci"])}
    assert names == {"dci_disentanglement[gbt5]", "dci_completeness[gbt5]", "dci_informativeness[gbt5]"}
    (value,) = check_metric(REGISTRY.metric("mig"), context(sprite_data), n=500, bins=10)
    assert value.name == "mig[histogram10]" and value.protocol["n"] == "500" and value.protocol["split"] == "test"


def test_a_dataset_without_factors_is_not_applicable_and_named():
    data = tiny_datasets()["binary"]
    for name in SMALL:
        with pytest.raises(NotApplicable, match=f"dataset {data.name!r} has no factors"):
            REGISTRY.metric(name).resolve()(context(data))


def test_the_interventional_scores_need_render(sprite_data):
    import dataclasses

    unrendered = dataclasses.replace(sprite_data, render=None)
    for name in ("beta_vae_score", "factor_vae_score"):
        with pytest.raises(NotApplicable, match="no render"):
            REGISTRY.metric(name).resolve()(context(unrendered), **SMALL[name])
    check_metric(REGISTRY.metric("mig"), context(unrendered), **SMALL["mig"])  # the split suffices


def test_asking_for_more_points_than_the_split_holds_says_so(sprite_data):
    with pytest.raises(ValueError, match="has 1,000 examples; 900 \\+ 300 asked"):
        REGISTRY.metric("sap").resolve()(context(sprite_data), n_train=900, n_test=300)
