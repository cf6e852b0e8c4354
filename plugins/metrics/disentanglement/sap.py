"""The separated attribute predictability score (Kumar et al. 2018, "Variational inference of
disentangled latent concepts from unlabeled observations"), as disentanglement_lib computes it.

A score matrix ``S`` ``(Z, K)`` says how well each code dimension alone predicts each factor; SAP is
the mean over factors of the gap between the two best codes, ``(1 / K) sum_k (S_(1)k - S_(2)k)``.
1 when each factor is predicted by one code only; 0 when no code predicts better than another.

* ``linear_svc`` (disentanglement_lib's ``continuous_factors = False``, the default of its studies):
  ``S_ik`` is the accuracy on 5,000 held-out points of a linear SVM (scikit-learn's ``LinearSVC``,
  C = 0.01, balanced class weights) fitted on code ``i`` alone to factor ``k`` on 10,000 points. A
  linear function of one number cannot single out a middle value of an ordinal factor, so even a
  perfect code scores far below 1 on factors of many values.
* ``r2`` (``continuous_factors = True``): ``S_ik`` is the squared correlation of code ``i`` and the
  factor's index on the fitting points, 0 for a constant code.
"""

from __future__ import annotations

import numpy as np

from benchbench import EvalContext, MetricValue

from .ground_truth import Points, one_thread, points_protocol, score, split_points

SVC_C = 0.01  # disentanglement_lib's regularisation
MIN_VARIANCE = 1e-12  # a code of less variance than this scores 0 under r2


def svc_accuracy(code: np.ndarray, factor: np.ndarray, eval_code: np.ndarray, eval_factor: np.ndarray, seed: int) -> float:
    from sklearn.svm import LinearSVC

    classifier = LinearSVC(C=SVC_C, class_weight="balanced", random_state=seed).fit(code[:, None], factor)
    return float(np.mean(classifier.predict(eval_code[:, None]) == eval_factor))


def squared_correlation(code: np.ndarray, factor: np.ndarray) -> float:
    covariance = np.cov(code, factor, ddof=1)
    if covariance[0, 0] <= MIN_VARIANCE:
        return 0.0
    return float(covariance[0, 1] ** 2 / (covariance[0, 0] * covariance[1, 1]))


def score_matrix(fit: Points, evaluation: Points, kind: str, seed: int) -> np.ndarray:
    """``(Z, K)`` predictability of each factor from each code dimension alone."""
    (codes, factors), (eval_codes, eval_factors) = fit, evaluation
    pairs = [(i, k) for i in range(codes.shape[1]) for k in range(factors.shape[1])]
    with one_thread():
        if kind == "linear_svc":
            scores = [svc_accuracy(codes[:, i], factors[:, k], eval_codes[:, i], eval_factors[:, k], seed) for i, k in pairs]
        else:
            scores = [squared_correlation(codes[:, i], factors[:, k]) for i, k in pairs]
    return np.array(scores).reshape(codes.shape[1], factors.shape[1])


def top_two_gap(matrix: np.ndarray) -> float:
    """Mean over columns of the best minus the second best row; one row is compared with zero."""
    top = np.sort(np.vstack([matrix, np.zeros(matrix.shape[1])]), axis=0)[::-1]
    return float(np.mean(top[0] - top[1]))


def evaluate_sap(context: EvalContext, n_train: int = 10_000, n_test: int = 5_000, score_kind: str = "linear_svc",
                 split: str = "test", batch_size: int | None = None) -> list[MetricValue]:
    fit, evaluation = split_points(context, split, n_train, n_test, batch_size)
    predictor = (f"sklearn LinearSVC(C={SVC_C}, class_weight='balanced') per code and factor" if score_kind == "linear_svc"
                 else "squared correlation per code and factor, on the fitting points")
    protocol = {"split": split, "n": points_protocol(n_train, n_test), "seed": context.seed, "predictor": predictor}
    return [score(f"sap[{score_kind}]", top_two_gap(score_matrix(fit, evaluation, score_kind, context.seed)), protocol)]
