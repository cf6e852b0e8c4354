"""The MMD metric against a plain double-loop implementation, and its test's calibration."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import benchbench
from benchbench import Dataset, EvalContext, NotApplicable
from benchbench_plugins.metrics import two_sample
from benchbench_plugins.metrics.two_sample.compute import evaluate_mmd

SCALES = (0.25, 0.5, 1.0, 2.0, 4.0)  # the documented bandwidth multipliers


def context(samples: np.ndarray | None, test: np.ndarray, seed: int = 0) -> EvalContext:
    data = Dataset("test-data", test[:2], test[:2], test, "continuous")
    tensor = None if samples is None else torch.as_tensor(samples, dtype=torch.float32)
    return EvalContext(benchbench.Model(), data, tensor, "cpu", seed, Path("unused-cache"))


def by_name(values: list[benchbench.MetricValue]) -> dict[str, benchbench.MetricValue]:
    return {v.name: v for v in values}


def reference_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Gretton et al. (2012), Lemma 6, written out term by term."""
    x, y = x.reshape(len(x), -1).astype(np.float64), y.reshape(len(y), -1).astype(np.float64)
    z = np.concatenate([x, y])
    sigma = np.median([np.linalg.norm(z[i] - z[j]) for i in range(len(z)) for j in range(i + 1, len(z))])

    def k(a: np.ndarray, b: np.ndarray) -> float:
        return np.mean([np.exp(-np.sum((a - b) ** 2) / (2 * (s * sigma) ** 2)) for s in SCALES])

    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


@pytest.mark.parametrize("shape", [(3,), (1, 2, 2)], ids=["vectors", "images"])
def test_unbiased_mmd2_matches_the_double_loop(shape):
    rng = np.random.default_rng(0)
    samples, test = rng.normal(0.3, 1.0, (12, *shape)), rng.normal(0.0, 1.2, (15, *shape))
    values = by_name(evaluate_mmd(context(samples, test), permutations=0))
    assert set(values) == {"mmd2"}
    assert values["mmd2"].value == pytest.approx(reference_mmd2(samples, test), abs=1e-6)
    assert values["mmd2"].protocol["n_samples"] == 12 and values["mmd2"].protocol["n_data"] == 15


def test_same_distribution_gives_mmd_near_zero_and_calibrated_p_values():
    rng = np.random.default_rng(1)
    runs = [by_name(evaluate_mmd(context(rng.normal(size=(100, 2)), rng.normal(size=(100, 2)), seed=r),
                                 permutations=200)) for r in range(40)]
    mmd2 = np.array([v["mmd2"].value for v in runs])
    p = np.array([v["mmd_pvalue"].value for v in runs])
    assert abs(mmd2.mean()) < 3 * mmd2.std() / np.sqrt(len(mmd2))  # unbiased: centred on zero
    assert (p < 0.05).sum() <= 6  # Binomial(40, 0.05) exceeds 6 with probability < 0.005
    assert 0.35 < p.mean() < 0.65  # uniform: mean 0.5, standard error 0.046


def test_different_distributions_are_told_apart():
    rng = np.random.default_rng(2)
    values = by_name(evaluate_mmd(context(rng.normal(1.0, 1.0, (200, 2)), rng.normal(size=(200, 2)))))
    assert values["mmd_pvalue"].value < 0.01
    assert values["mmd2"].value > 0.05
    assert values["mmd_pvalue"].protocol["permutations"] == 500


def test_at_most_n_points_each():
    rng = np.random.default_rng(3)
    protocol = evaluate_mmd(context(rng.normal(size=(80, 2)), rng.normal(size=(60, 2))), n=50)[0].protocol
    assert (protocol["n_samples"], protocol["n_data"]) == (50, 50)


def test_non_finite_samples_are_a_clear_error():
    samples = np.random.default_rng(4).normal(size=(20, 2))
    samples[3, 1], samples[7, 0] = np.nan, np.inf
    with pytest.raises(ValueError, match="2 of 20 samples contain NaN or inf"):
        evaluate_mmd(context(samples, np.zeros((20, 2))))


def test_samples_shaped_unlike_the_data_are_a_clear_error():
    with pytest.raises(ValueError, match=r"samples are shaped \(20, 3\), but data examples are shaped \(2,\)"):
        evaluate_mmd(context(np.zeros((20, 3)), np.zeros((20, 2))))


def test_not_applicable_without_samples_or_above_max_dim():
    with pytest.raises(NotApplicable, match="no samples"):
        evaluate_mmd(context(None, np.zeros((20, 2))))
    with pytest.raises(NotApplicable, match="max_dim=1"):
        evaluate_mmd(context(np.zeros((20, 2)), np.zeros((20, 2))), max_dim=1)


def test_spec_requires_samples_and_matches_the_functions_defaults():
    (spec,) = two_sample.benchbench_metrics()
    assert spec.requires.samples
    signature = inspect.signature(spec.resolve())
    assert spec.defaults() == {name: p.default for name, p in list(signature.parameters.items())[1:]}


def test_spec_imports_without_torch():
    code = ("import sys; import benchbench_plugins.metrics.two_sample as m; "
            "m.benchbench_metrics(); print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
