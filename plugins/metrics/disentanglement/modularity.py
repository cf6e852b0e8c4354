"""Modularity and explicitness (Ridgeway & Mozer 2018, "Learning deep disentangled embeddings with
the F-statistic loss"), as disentanglement_lib computes them.

* modularity: with ``m_ik`` the mutual information between code ``i`` (20-bin histogram,
  ``information``) and factor ``k`` on 10,000 points, and ``theta_i = max_k m_ik``, each code scores
  ``1 - sum_{k != k*} m_ik^2 / (theta_i^2 (K - 1))``, 1 when it carries information about one
  factor only; a code that carries none scores 0. The modularity is the mean over codes.
* explicitness: for each factor, a logistic regression (scikit-learn's defaults) on all codes,
  standardised by the fitting points' mean and standard deviation, fitted on 10,000 points; its
  one-vs-rest ROC AUC on 5,000 held-out points, averaged over the factor's values, then over factors.
"""

from __future__ import annotations

import numpy as np

from benchbench import EvalContext, MetricValue

from .ground_truth import Points, one_thread, points_protocol, score, split_points
from .information import histogram_discretise, mutual_information


def modularity(information: np.ndarray) -> float:
    """Mean modularity of the codes, the rows of ``information`` ``(Z, K)``."""
    squared = information**2
    theta = squared.max(1)
    deviation = (squared.sum(1) - theta) / np.where(theta > 0, theta * (squared.shape[1] - 1), 1.0)
    return float(np.mean(np.where(theta > 0, 1 - deviation, 0.0)))


def one_vs_rest_auc(factor: np.ndarray, probabilities: np.ndarray, values: np.ndarray) -> float:
    """Mean ROC AUC of ``probabilities[:, j]`` for ``factor == values[j]``, over the values with
    both positive and negative points."""
    from sklearn.metrics import roc_auc_score

    scores = [roc_auc_score(factor == v, probabilities[:, j]) for j, v in enumerate(values)
              if 0 < np.sum(factor == v) < len(factor)]
    return float(np.mean(scores))


def explicitness(fit: Points, evaluation: Points, seed: int) -> tuple[float, float]:
    """Mean one-vs-rest AUC of a logistic regression per factor, on the fitting and held-out points."""
    from sklearn.linear_model import LogisticRegression

    (codes, factors), (eval_codes, eval_factors) = fit, evaluation
    mean, std = codes.mean(0), codes.std(0)
    std = np.where(std > 0, std, 1.0)  # a constant code stays 0 instead of 0 / 0
    codes, eval_codes = (codes - mean) / std, (eval_codes - mean) / std
    fit_auc, eval_auc = [], []
    with one_thread():
        for k in range(factors.shape[1]):
            model = LogisticRegression(random_state=seed).fit(codes, factors[:, k])
            fit_auc.append(one_vs_rest_auc(factors[:, k], model.predict_proba(codes), model.classes_))
            eval_auc.append(one_vs_rest_auc(eval_factors[:, k], model.predict_proba(eval_codes), model.classes_))
    return float(np.mean(fit_auc)), float(np.mean(eval_auc))


def evaluate_modularity_explicitness(context: EvalContext, n_train: int = 10_000, n_test: int = 5_000, bins: int = 20,
                                     split: str = "test", batch_size: int | None = None) -> list[MetricValue]:
    fit, evaluation = split_points(context, split, n_train, n_test, batch_size)
    information = mutual_information(histogram_discretise(fit[0], bins), fit[1])
    fit_auc, eval_auc = explicitness(fit, evaluation, context.seed)
    protocol = {"split": split, "n": points_protocol(n_train, n_test), "seed": context.seed}
    return [score(f"modularity[histogram{bins}]", modularity(information),
                  {**protocol, "bins": bins, "estimator": "histogram discretisation of the fitting points' codes"}),
            score("explicitness[logistic_regression]", eval_auc,
                  {**protocol, "predictor": "sklearn LogisticRegression per factor, standardised codes",
                   "explicitness_fit": round(fit_auc, 6)})]
