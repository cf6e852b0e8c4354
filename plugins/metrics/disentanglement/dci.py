"""Disentanglement, completeness and informativeness (Eastwood & Williams 2018, "A framework for
the quantitative evaluation of disentangled representations"), as disentanglement_lib computes them.

One gradient-boosted tree classifier per factor predicts it from the codes (scikit-learn's
``GradientBoostingClassifier`` with its defaults: 100 trees of depth 3), fitted on 10,000 points.
Its feature importances fill the column of that factor in the importance matrix ``R`` ``(Z, K)``.

* disentanglement: each code's ``1 - H_K(P_i.)``, the entropy in base ``K`` of its importance spread
  over factors, weighted by the code's share of all importance (1: each code serves one factor);
* completeness: each factor's ``1 - H_Z(P_.k)``, its importance spread over codes, weighted by the
  factor's share (1: each factor is served by one code);
* informativeness: the classifiers' mean accuracy on 5,000 held-out points.

A zero matrix gives both 0 (every code weighted equally, each spread evenly). The trees are the
costly part (about 80 s for 10 codes, 5 factors and 10,000 points on one busy CPU core);
``n_estimators`` gives fewer trees, which the name carries (``[gbt{n_estimators}]``).
"""

from __future__ import annotations

import numpy as np

from benchbench import EvalContext, MetricValue

from .ground_truth import Points, one_thread, points_protocol, score, split_points

EPSILON = 1e-11  # added to importances before the entropies, as disentanglement_lib


def normalised_entropy(weights: np.ndarray) -> np.ndarray:
    """Entropy in base ``C`` of each row of ``weights`` ``(R, C)``, normalised to a distribution."""
    p = (weights + EPSILON) / (weights + EPSILON).sum(1, keepdims=True)
    return -(p * np.log(p)).sum(1) / np.log(weights.shape[1])


def weighted_score(importance: np.ndarray) -> float:
    """``sum_i rho_i (1 - H(P_i.))`` over the rows of ``importance``, ``rho_i`` the row's share."""
    shares = importance.sum(1) if importance.sum() > 0 else np.ones(len(importance))
    return float(np.sum((1 - normalised_entropy(importance)) * shares / shares.sum()))


def disentanglement(importance: np.ndarray) -> float:
    """Disentanglement of an importance matrix ``(Z codes, K factors)``."""
    return weighted_score(importance)


def completeness(importance: np.ndarray) -> float:
    """Completeness of an importance matrix ``(Z codes, K factors)``."""
    return weighted_score(importance.T)


def importance_matrix(fit: Points, evaluation: Points, n_estimators: int, seed: int) -> tuple[np.ndarray, float, float]:
    """``R`` ``(Z, K)`` from one boosted classifier per factor, and their mean accuracy on the
    fitting and on the evaluation points."""
    from sklearn.ensemble import GradientBoostingClassifier

    (codes, factors), (eval_codes, eval_factors) = fit, evaluation
    columns, fit_accuracy, eval_accuracy = [], [], []
    with one_thread():
        for k in range(factors.shape[1]):
            trees = GradientBoostingClassifier(n_estimators=n_estimators, random_state=seed).fit(codes, factors[:, k])
            columns.append(np.abs(trees.feature_importances_))
            fit_accuracy.append(np.mean(trees.predict(codes) == factors[:, k]))
            eval_accuracy.append(np.mean(trees.predict(eval_codes) == eval_factors[:, k]))
    return np.stack(columns, axis=1), float(np.mean(fit_accuracy)), float(np.mean(eval_accuracy))


def evaluate_dci(context: EvalContext, n_train: int = 10_000, n_test: int = 5_000, n_estimators: int = 100,
                 split: str = "test", batch_size: int | None = None) -> list[MetricValue]:
    fit, evaluation = split_points(context, split, n_train, n_test, batch_size)
    importance, fit_accuracy, eval_accuracy = importance_matrix(fit, evaluation, n_estimators, context.seed)
    protocol = {"split": split, "n": points_protocol(n_train, n_test), "seed": context.seed,
                "predictor": f"sklearn GradientBoostingClassifier(n_estimators={n_estimators}), one per factor",
                "informativeness_fit": round(fit_accuracy, 6)}
    suffix = f"[gbt{n_estimators}]"
    return [score(f"dci_disentanglement{suffix}", disentanglement(importance), protocol),
            score(f"dci_completeness{suffix}", completeness(importance), protocol),
            score(f"dci_informativeness{suffix}", eval_accuracy, protocol)]
