"""The metric contract: what a metric receives (:class:`EvalContext`) and returns
(:class:`MetricValue`). A metric is a plain function ``evaluate(context, **params)``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .dataset import Dataset
from .specs import Direction

if TYPE_CHECKING:  # torch is imported only where a cell runs
    import torch

    from .model import Model


@dataclass
class MetricValue:
    """One number. ``name`` includes whatever defines it (K of a bound, the feature extractor);
    ``exactness`` is ``exact``, ``bound`` or ``estimate``; ``protocol`` records how it was made."""

    name: str
    value: float
    direction: Direction
    unit: str = ""
    exactness: str = "estimate"
    protocol: dict[str, Any] = field(default_factory=dict)


@dataclass
class EvalContext:
    """Everything a metric may use in one cell. ``samples`` are drawn once per cell and shared.

    ``sample_labels`` are the class labels the samples were drawn for, ``(N,)`` int64 on the cell's
    device, when the model declares ``conditional`` and the data has labels (class-balanced, drawn
    by the host); ``None`` for samples drawn unconditionally."""

    model: Model
    dataset: Dataset
    samples: torch.Tensor | None
    device: str
    seed: int
    cache_dir: Path
    batch_size: int = 256
    sample_labels: torch.Tensor | None = None

    def split(self, name: str = "test") -> torch.Tensor:
        """A split of the dataset as a float tensor on the cell's device."""
        import torch

        return torch.as_tensor(getattr(self.dataset, name), device=self.device)
