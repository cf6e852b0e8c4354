"""The BetaVAE score (Higgins et al. 2017, "beta-VAE: learning basic visual concepts with a
constrained variational framework"), as disentanglement_lib's ``beta_vae_sklearn`` computes it.

One point: choose a factor ``k`` uniformly; draw two groups of ``group_size`` (64) factor vectors,
the second equal to the first in factor ``k`` and drawn anew in the others; render and encode both;
the point's feature is the mean over the group of ``|z_a - z_b|``, its label ``k``. A logistic
regression (scikit-learn's defaults) is fitted on 10,000 such points; the score is its accuracy on
5,000 new ones. Codes whose dimensions each follow one factor make the fixed factor the dimension
that barely moves, which a linear classifier reads off: accuracy near 1; codes that tell nothing
leave chance, ``1 / K``.

scikit-learn's ``LogisticRegression`` defaults have changed since disentanglement_lib's time
(liblinear one-vs-rest then, lbfgs multinomial now); the protocol names today's.
"""

from __future__ import annotations

import numpy as np

from benchbench import EvalContext, MetricValue

from .ground_truth import Represent, draw_factors, one_thread, per_group, points_protocol, representation, score


def intervention_features(represent: Represent, rng: np.random.Generator, sizes: tuple[int, ...], n_points: int,
                          group_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Features ``(P, Z)``, the mean absolute code difference of each point's pair of groups, and
    labels ``(P,)``, the factor the pair shares."""
    fixed = rng.integers(len(sizes), size=n_points)
    first = draw_factors(rng, (n_points, group_size), sizes)
    second = draw_factors(rng, (n_points, group_size), sizes)
    rows = np.arange(n_points)
    second[rows, :, fixed] = first[rows, :, fixed]
    pairs = np.concatenate([first, second], axis=1)  # (P, 2B, K): both groups rendered together
    features = per_group(represent, pairs, lambda z: np.abs(z[:, :group_size] - z[:, group_size:]).mean(1))
    return features, fixed


def logistic_accuracy(fit: tuple[np.ndarray, np.ndarray], evaluation: tuple[np.ndarray, np.ndarray],
                      seed: int) -> tuple[float, float]:
    """Accuracy of a logistic regression fitted on ``fit``, on ``fit`` and on ``evaluation``."""
    from sklearn.linear_model import LogisticRegression

    with one_thread():
        model = LogisticRegression(random_state=seed).fit(*fit)
        return float(model.score(*fit)), float(model.score(*evaluation))


def beta_vae_score(represent: Represent, sizes: tuple[int, ...], n_train: int, n_eval: int, group_size: int,
                   seed: int) -> tuple[float, float]:
    """Fitting and evaluation accuracy, every random choice drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    fit = intervention_features(represent, rng, sizes, n_train, group_size)
    evaluation = intervention_features(represent, rng, sizes, n_eval, group_size)
    return logistic_accuracy(fit, evaluation, seed)


def evaluate_beta_vae_score(context: EvalContext, n_train: int = 10_000, n_eval: int = 5_000, group_size: int = 64,
                            batch_size: int | None = None) -> list[MetricValue]:
    represent = representation(context, batch_size)
    fit_accuracy, eval_accuracy = beta_vae_score(represent, context.dataset.factor_sizes, n_train, n_eval, group_size,
                                                 context.seed)
    protocol = {"n": points_protocol(n_train, n_eval, group_size), "seed": context.seed,
                "observations": "rendered from factors drawn uniformly from the grid",
                "predictor": "sklearn LogisticRegression() on mean |z_a - z_b|", "accuracy_fit": round(fit_accuracy, 6)}
    return [score("beta_vae_score[logistic_regression]", eval_accuracy, protocol)]
