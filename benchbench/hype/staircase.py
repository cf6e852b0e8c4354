"""The adaptive staircase of HYPE-time: how the exposure of the next image follows the answers.

HYPE-time (Zhou et al. 2019, sec. 3.1) shows each image for an exposure chosen by a staircase that
starts at 500 ms, stays within [100, 1000] ms, and aims at the exposure where an evaluator is
75% correct; the evaluator's score for a block is the mode of the exposures the staircase visited.

The default rule is Kaernbach's (1991) *weighted* up-down staircase: +``up_ms`` after an error,
-``down_ms`` after a correct answer. It is stationary where the expected step is zero,
``p * down = (1 - p) * up``, so ``p = up / (up + down)``: with +30 / -10 ms, 75% correct.

The paper prints the rule as "raised at 10 ms increments and reduced at 30 ms decrements, following a
3-up/1-down adaptive staircase ... 75% accuracy". Read literally (+10 ms after an error, -30 ms after
a correct answer) that staircase is stationary at ``p = 10 / (10 + 30)``: 25% correct, below chance
for a real/fake task, so it would run to the shortest exposure; the weighted rule above is the one
that gives the 75% the paper states. The *transformed* rule (Levitt 1971) is offered too: it steps
down only after ``down_after`` correct answers in a row and up after any error, stationary where
``p ** n * down = (1 - p ** n) * up`` (79.4% for 3-down/1-up with equal steps).

Exposures are whole milliseconds, so this module and the page's JavaScript, which implements the same
rule from the parameters the server sends, compute identical levels; the server checks every answer's
requested exposure against :meth:`StaircaseRule.replay`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

RULES = ("weighted", "transformed")


@dataclass(frozen=True)
class StaircaseRule:
    """One staircase's parameters, all in milliseconds; recorded with every answer and every score."""

    rule: str = "weighted"  # "weighted" (Kaernbach 1991) or "transformed" (Levitt 1971)
    up_ms: int = 30  # longer exposure after an error: the task gets easier
    down_ms: int = 10  # shorter exposure after a correct answer (or run of them): harder
    down_after: int = 1  # correct answers in a row before stepping down; 1 for the weighted rule
    start_ms: int = 500
    min_ms: int = 100
    max_ms: int = 1000

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"staircase rule must be one of {', '.join(RULES)}, got {self.rule!r}")
        if self.rule == "weighted" and self.down_after != 1:
            raise ValueError("the weighted rule steps after every answer (down_after = 1); use the transformed rule for runs")
        if min(self.up_ms, self.down_ms, self.down_after) < 1 or not self.min_ms <= self.start_ms <= self.max_ms:
            raise ValueError(f"staircase steps must be positive and min <= start <= max, got {self}")

    @property
    def target_accuracy(self) -> float:
        """The proportion correct where the expected step is zero (0.75 for the defaults)."""
        return (self.up_ms / (self.up_ms + self.down_ms)) ** (1 / self.down_after)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def replay(self, outcomes: Iterable[bool]) -> list[int]:
        """The exposure requested at each trial given the earlier outcomes: one more level than outcomes."""
        staircase = Staircase(self)
        return [staircase.level] + [staircase.update(correct) for correct in outcomes]


class Staircase:
    """A running staircase: the exposure of the next trial, updated by each answer's correctness."""

    def __init__(self, rule: StaircaseRule):
        self.rule = rule
        self.level = rule.start_ms
        self.streak = 0  # correct answers in a row since the last step

    def update(self, correct: bool) -> int:
        """Record one answer and return the next trial's exposure in ms."""
        rule = self.rule
        if not correct:
            self.streak = 0
            self.level = min(rule.max_ms, self.level + rule.up_ms)
            return self.level
        self.streak += 1
        if self.streak >= rule.down_after:
            self.streak = 0
            self.level = max(rule.min_ms, self.level - rule.down_ms)
        return self.level


def converged_exposure(levels: Iterable[int]) -> float:
    """The paper's estimate of where a block's staircase converged: the mode of its exposure levels.
    Levels tied for the mode are averaged, so the estimate does not depend on which was visited first."""
    counts: dict[int, int] = {}
    for level in levels:
        counts[level] = counts.get(level, 0) + 1
    if not counts:
        raise ValueError("no exposure levels")
    top = max(counts.values())
    tied = [level for level, count in counts.items() if count == top]
    return sum(tied) / len(tied)
