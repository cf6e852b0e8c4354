"""Disentanglement metrics on a model's ``encode`` for data with known factors of variation, with
the definitions and defaults of disentanglement_lib (Locatello et al. 2019, "Challenging common
assumptions in the unsupervised learning of disentangled representations"): the BetaVAE and
FactorVAE scores, MIG, DCI disentanglement / completeness / informativeness, SAP, and modularity
and explicitness. Every value is a score in [0, 1], higher is better.

Only the specs live here, so listing plugins never imports torch or scikit-learn; the maths is one
metric per module (``beta_vae``, ``factor_vae``, ``mig``, ``dci``, ``sap``, ``modularity``), the
shared parts in ``ground_truth`` (points and codes) and ``information`` (histogram mutual
information). A dataset without factors gets ``n/a`` naming it; the BetaVAE and FactorVAE scores
also need the dataset's ``render``.
"""

from __future__ import annotations

import benchbench
from benchbench import BATCH_SIZE_PARAM, SPLIT_PARAM, MetricSpec, Param, Requirements, ValueSpec

_PACKAGE = "benchbench_plugins.metrics.disentanglement"
_ENCODE = Requirements(capabilities=frozenset({"encode"}))


def _fit_and_test(n_train: int = 10_000, n_test: int = 5_000, test_name: str = "n_test") -> tuple[Param, Param]:
    return (Param("n_train", n_train, "points the predictor is fitted on (disentanglement_lib: 10,000)"),
            Param(test_name, n_test, "held-out points it is scored on (disentanglement_lib: 5,000)"))


GROUP_SIZE = Param("group_size", 64, "observations behind one point (disentanglement_lib's batch_size: 64)")
BINS = Param("bins", 20, "equal-width histogram bins per code dimension (disentanglement_lib: 20)")


def _value(name: str, headline: bool = False) -> ValueSpec:
    return ValueSpec(name, "higher", "score", headline=headline)


@benchbench.hookimpl
def benchbench_metrics() -> list[MetricSpec]:
    return [
        MetricSpec(
            name="beta_vae_score",
            summary="BetaVAE score (Higgins et al. 2017): logistic regression names the factor two groups of "
                    "rendered observations share, from their mean |encode difference|",
            factory=f"{_PACKAGE}.beta_vae:evaluate_beta_vae_score",
            params=(*_fit_and_test(test_name="n_eval"), GROUP_SIZE, BATCH_SIZE_PARAM),
            requires=_ENCODE, values=(_value("beta_vae_score[logistic_regression]"),),
        ),
        MetricSpec(
            name="factor_vae_score",
            summary="FactorVAE score (Kim & Mnih 2018): majority vote on the code dimension of least normalised "
                    "variance when one factor is held fixed",
            factory=f"{_PACKAGE}.factor_vae:evaluate_factor_vae_score",
            params=(*_fit_and_test(test_name="n_eval"), GROUP_SIZE,
                    Param("n_variance", 10_000, "observations for the global variances (disentanglement_lib: 10,000)"),
                    Param("prune_threshold", 0.05, "dimensions of smaller global standard deviation are left out "
                                                   "(disentanglement_lib: 0.05)"),
                    BATCH_SIZE_PARAM),
            requires=_ENCODE, values=(_value("factor_vae_score[majority_vote]"),),
        ),
        MetricSpec(
            name="mig",
            summary="Mutual information gap (Chen et al. 2018) by disentanglement_lib's histogram estimator: the "
                    "top-two gap of code-factor mutual information over the factor's entropy",
            factory=f"{_PACKAGE}.mig:evaluate_mig",
            params=(Param("n", 10_000, "points of the split (disentanglement_lib: 10,000)"), BINS, SPLIT_PARAM,
                    BATCH_SIZE_PARAM),
            requires=_ENCODE, values=(_value("mig[histogram{bins}]", headline=True),),
        ),
        MetricSpec(
            name="dci",
            summary="DCI disentanglement, completeness and informativeness (Eastwood & Williams 2018) from "
                    "gradient-boosted trees' feature importances",
            factory=f"{_PACKAGE}.dci:evaluate_dci",
            params=(*_fit_and_test(),
                    Param("n_estimators", 100, "boosting stages per factor (scikit-learn's and disentanglement_lib's "
                                               "100); fewer are faster, and the names carry it"),
                    SPLIT_PARAM, BATCH_SIZE_PARAM),
            requires=_ENCODE,
            values=(_value("dci_disentanglement[gbt{n_estimators}]", headline=True),
                    _value("dci_completeness[gbt{n_estimators}]"), _value("dci_informativeness[gbt{n_estimators}]")),
        ),
        MetricSpec(
            name="sap",
            summary="SAP score (Kumar et al. 2018): the gap between the two code dimensions that best predict "
                    "each factor alone",
            factory=f"{_PACKAGE}.sap:evaluate_sap",
            params=(*_fit_and_test(),
                    Param("score_kind", "linear_svc", "linear_svc: held-out accuracy of a linear SVM, C = 0.01 "
                          "(disentanglement_lib's continuous_factors = False); r2: squared correlation (True)",
                          choices=("linear_svc", "r2")),
                    SPLIT_PARAM, BATCH_SIZE_PARAM),
            requires=_ENCODE, values=(_value("sap[{score_kind}]"),),
        ),
        MetricSpec(
            name="modularity_explicitness",
            summary="Modularity (histogram mutual information) and explicitness (logistic regression ROC AUC) "
                    "of Ridgeway & Mozer 2018",
            factory=f"{_PACKAGE}.modularity:evaluate_modularity_explicitness",
            params=(*_fit_and_test(), BINS, SPLIT_PARAM, BATCH_SIZE_PARAM),
            requires=_ENCODE,
            values=(_value("modularity[histogram{bins}]"), _value("explicitness[logistic_regression]")),
        ),
    ]
