"""Metric names as they were before the value names became declared, mapped to today's.

Values used to carry their feature extractor or representation as a suffix (``fid_classifier``,
``is_classifier``, ``nmi_latent``), and a metric that did not apply was recorded under its spec's
name (``inception-score``): the same metric under two names, one of them reading like a yes/no
question. Values are now ``quantity[what defines it]`` and an ``n/a`` is recorded under the names a
value would have. ``bench compare`` maps old leaderboards through :func:`current_name`, so
reference runs made before the change still compare; suites naming a renamed metric are told its
new name.
"""

from __future__ import annotations

import re

RENAMED_METRICS = {
    "inception-score": "inception_score",
    "precision-recall": "precision_recall",
    "feature-mmd": "feature_mmd",
    "class-kl": "class_kl",
}
"""Metric spec names that changed, old → new."""

_OLD_VALUES = (
    (re.compile(r"is(_std)?_(classifier|inception)"), r"inception_score\1[\2]"),
    (re.compile(r"(fid|kid|kid_std|precision|recall|mmd2|mmd_pvalue|class_kl|conditional_accuracy)_(classifier|inception)"),
     r"\1[\2]"),
    (re.compile(r"(nmi|ari)_(latent|random_projection_d\d+)"), r"\1[\2]"),
)


def current_name(name: str) -> str:
    """Today's name of a leaderboard metric row named ``name`` (unchanged when it is current)."""
    for pattern, replacement in _OLD_VALUES:
        if pattern.fullmatch(name):
            return pattern.sub(replacement, name)
    return RENAMED_METRICS.get(name, name)
