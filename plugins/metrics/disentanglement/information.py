"""Mutual information between codes and factors by histogram discretisation, as disentanglement_lib
computes it for MIG and modularity: each code dimension cut into ``bins`` equal-width bins over its
observed range (its ``histogram_discretizer``), then the plug-in mutual information of the two
discrete variables (scikit-learn's ``mutual_info_score``), in nats.

The plug-in estimate is biased upwards by about ``(bins - 1)(values - 1) / (2N)`` nats for
independent variables, so codes that carry nothing still show a little information. The histogram
estimator is one of several: Chen et al. (2018) define MIG with a sampling estimator of the
posterior's mutual information, so the values are named ``[histogram{bins}]``.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import mutual_info_score


def histogram_discretise(codes: np.ndarray, bins: int) -> np.ndarray:
    """``(N, Z)`` bin indices 1..``bins`` of each code dimension, bins of equal width over its range."""
    columns = [np.digitize(c, np.histogram_bin_edges(c, bins)[:-1]) for c in codes.T]
    return np.stack(columns, axis=1)


def mutual_information(discrete_codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """``(Z, K)`` mutual information in nats between each discrete code and each factor."""
    return np.array([[mutual_info_score(f, c) for f in factors.T] for c in discrete_codes.T]).reshape(
        discrete_codes.shape[1], factors.shape[1])


def entropies(factors: np.ndarray) -> np.ndarray:
    """``(K,)`` entropy in nats of each factor's empirical distribution."""
    return np.array([mutual_info_score(f, f) for f in factors.T])
