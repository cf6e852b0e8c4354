"""The mean gap: how far the model's samples are, on average, from the test data.

``|| mean(samples) - mean(test) ||_2`` in data units. Zero for a model that gets the first
moment right and says nothing about anything else, which is why it is only an example.
"""

from __future__ import annotations

import torch

from benchbench import EvalContext, MetricValue


def mean_gap(context: EvalContext) -> list[MetricValue]:
    """The factory named in the spec: ``factory(context, **params)``, returning values, not floats."""
    samples = context.samples.flatten(1).to(torch.float64)  # (N, D), drawn once per cell by the host
    test = context.split("test").flatten(1).to(torch.float64)  # (M, D)
    gap = torch.linalg.vector_norm(samples.mean(0) - test.mean(0)).item()
    return [
        MetricValue(
            name="example-mean-gap",
            value=gap,
            direction="lower",
            unit="data units",
            # A Monte Carlo estimate from a finite number of samples, neither exact nor a bound.
            exactness="estimate",
            protocol={"samples": len(samples), "split": "test", "norm": "l2"},
        )
    ]
