"""The FactorVAE score (Kim & Mnih 2018, "Disentangling by factorising"), as disentanglement_lib's
``factor_vae_score`` computes it.

1. Global variances: each code dimension's variance over 10,000 observations of factors drawn from
   the grid. Dimensions whose standard deviation is below 0.05 (collapsed to a constant, as the
   posterior mean of an unused VAE latent) are pruned; with none left the score is 0.
2. One vote: choose a factor ``k``; draw ``group_size`` (64) factor vectors that share factor ``k``'s
   value (drawn once) and differ in the others; the vote goes to the active dimension of least
   variance over the group, divided by its global variance (unbiased variances, ``ddof = 1``).
3. The classifier is a majority vote: each dimension predicts the factor it was most often the vote
   of, over 10,000 votes; the score is the fraction of 5,000 new votes it predicts right.
"""

from __future__ import annotations

import numpy as np

from benchbench import EvalContext, MetricValue

from .ground_truth import Represent, draw_factors, per_group, points_protocol, representation, score


def global_variances(represent: Represent, rng: np.random.Generator, sizes: tuple[int, ...], n: int) -> np.ndarray:
    """``(Z,)`` variance of each code dimension over ``n`` observations of uniformly drawn factors."""
    codes = per_group(represent, draw_factors(rng, (1, n), sizes), lambda z: z)[0]
    return codes.var(0, ddof=1)


def active_dimensions(variances: np.ndarray, threshold: float) -> np.ndarray:
    """Indices of the code dimensions whose standard deviation reaches ``threshold``."""
    return np.flatnonzero(np.sqrt(variances) >= threshold)


def votes(represent: Represent, rng: np.random.Generator, sizes: tuple[int, ...], n_votes: int, group_size: int,
          variances: np.ndarray, active: np.ndarray) -> np.ndarray:
    """``(K, Z)`` counts: how often dimension ``j`` had the least normalised variance when factor
    ``k`` was held fixed."""
    fixed = rng.integers(len(sizes), size=n_votes)
    factors = draw_factors(rng, (n_votes, group_size), sizes)
    rows = np.arange(n_votes)
    factors[rows, :, fixed] = factors[rows, :1, fixed]  # the group shares its first member's value
    spread = per_group(represent, factors, lambda z: z[:, :, active].var(1, ddof=1) / variances[active])
    counts = np.zeros((len(sizes), len(variances)), dtype=np.int64)
    np.add.at(counts, (fixed, active[spread.argmin(1)]), 1)
    return counts


def majority_vote_accuracy(fit_votes: np.ndarray, eval_votes: np.ndarray) -> tuple[float, float]:
    """Each dimension predicts its most frequent factor in ``fit_votes``; accuracy on both."""
    prediction = fit_votes.argmax(0)  # (Z,)
    columns = np.arange(fit_votes.shape[1])
    return (float(fit_votes[prediction, columns].sum() / fit_votes.sum()),
            float(eval_votes[prediction, columns].sum() / eval_votes.sum()))


def factor_vae_score(represent: Represent, sizes: tuple[int, ...], n_train: int, n_eval: int, n_variance: int,
                     group_size: int, threshold: float, seed: int) -> tuple[float, float, int]:
    """Fitting and evaluation accuracy and the number of active dimensions; all draws from ``seed``."""
    if group_size < 2:
        raise ValueError(f"group_size must be at least 2 for a variance over the group, got {group_size}")
    rng = np.random.default_rng(seed)
    variances = global_variances(represent, rng, sizes, n_variance)
    active = active_dimensions(variances, threshold)
    if len(active) == 0:
        return 0.0, 0.0, 0
    fit = votes(represent, rng, sizes, n_train, group_size, variances, active)
    evaluation = votes(represent, rng, sizes, n_eval, group_size, variances, active)
    return (*majority_vote_accuracy(fit, evaluation), len(active))


def evaluate_factor_vae_score(context: EvalContext, n_train: int = 10_000, n_eval: int = 5_000,
                              n_variance: int = 10_000, group_size: int = 64, prune_threshold: float = 0.05,
                              batch_size: int | None = None) -> list[MetricValue]:
    represent = representation(context, batch_size)
    fit_accuracy, eval_accuracy, n_active = factor_vae_score(
        represent, context.dataset.factor_sizes, n_train, n_eval, n_variance, group_size, prune_threshold, context.seed)
    protocol = {"n": points_protocol(n_train, n_eval, group_size) + f", variances on {n_variance}", "seed": context.seed,
                "observations": "rendered from factors drawn uniformly from the grid",
                "predictor": "majority vote on the argmin of variance / global variance",
                "prune_threshold_std": prune_threshold, "active_dimensions": n_active,
                "accuracy_fit": round(fit_accuracy, 6)}
    return [score("factor_vae_score[majority_vote]", eval_accuracy, protocol)]
