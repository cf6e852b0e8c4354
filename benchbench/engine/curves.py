"""A training curve of bounded size, however long the fit runs.

The loop adds every step's losses; the curve keeps at most ``2 * points`` points, each the mean
of the losses over a window of ``stride`` consecutive steps, stamped with the window's last step.
When it fills up, neighbouring points merge pairwise and the window doubles, so the points stay
evenly spaced, every step is counted exactly once, and memory stays flat (the scheme of
TensorBoard's reservoir would keep a random subset instead; means over windows show the trend
without a single noisy step standing for a thousand). The state is plain lists, so it travels in
a checkpoint and a resumed fit continues the same curve.
"""

from __future__ import annotations

from typing import Any


class LossCurve:
    """Windowed means of each loss, at most ``2 * points`` of them; see the module docstring."""

    def __init__(self, points: int = 128):
        if points < 1:
            raise ValueError(f"points must be at least 1, got {points}")
        self.points, self.stride = points, 1
        self.steps: list[int] = []
        self.losses: dict[str, list[float | None]] = {}
        self._sums: dict[str, float] = {}
        self._counts: dict[str, int] = {}
        self._in_window = 0

    def add(self, step: int, losses: dict[str, float]) -> None:
        """Count one step's losses; close the window when it holds ``stride`` steps."""
        for name, value in losses.items():
            self._sums[name] = self._sums.get(name, 0.0) + value
            self._counts[name] = self._counts.get(name, 0) + 1
        self._in_window += 1
        if self._in_window == self.stride:
            self._close_window(step)
            if len(self.steps) >= 2 * self.points:
                self._halve()

    def _close_window(self, step: int) -> None:
        index = len(self.steps)
        self.steps.append(step)
        for name in self._sums.keys() | self.losses.keys():
            column = self.losses.setdefault(name, [None] * index)
            column.append(self._sums[name] / self._counts[name] if self._counts.get(name) else None)
        self._sums, self._counts, self._in_window = {}, {}, 0

    def _halve(self) -> None:
        """Merge points pairwise (equal windows, so the mean of two means); the window doubles."""
        self.steps = self.steps[1::2]
        self.losses = {name: [_mean(a, b) for a, b in zip(values[0::2], values[1::2])] for name, values in self.losses.items()}
        self.stride *= 2

    def result(self, step: int) -> dict[str, Any]:
        """The curve as plain data, the last (partial) window included as a point of its own."""
        steps, losses = list(self.steps), {name: list(values) for name, values in self.losses.items()}
        if self._in_window:
            for name in self._sums.keys() | losses.keys():
                losses.setdefault(name, [None] * len(steps)).append(
                    self._sums[name] / self._counts[name] if self._counts.get(name) else None)
            steps.append(step)
        return {"steps": steps, "losses": losses, "window": self.stride}

    def state_dict(self) -> dict[str, Any]:
        return {"points": self.points, "stride": self.stride, "steps": self.steps, "losses": self.losses,
                "sums": self._sums, "counts": self._counts, "in_window": self._in_window}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.points, self.stride, self.steps, self.losses = state["points"], state["stride"], state["steps"], state["losses"]
        self._sums, self._counts, self._in_window = state["sums"], state["counts"], state["in_window"]


def _mean(a: float | None, b: float | None) -> float | None:
    if a is None or b is None:
        return a if b is None else b
    return (a + b) / 2
