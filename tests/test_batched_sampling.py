"""Samples drawn in batches: calls of at most ``sample_batch_size`` samples with their share of the
labels, gathered on the CPU, the batch size in the sampling protocol of every number they make."""

from __future__ import annotations

import textwrap

import torch

from benchbench.engine.cell import draw_samples
from benchbench.engine.runner import run_suite
from benchbench.results.store import read_records
from fakes import Gaussian, runnable_registry


class Counting(Gaussian):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[int] = []

    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        self.calls.append(n)
        return super().sample(n)


def test_batches_of_at_most_the_size_asked_gathered_on_the_cpu():
    model = Counting()
    samples = draw_samples(model, 25, None, "model 'fake'", (2,), batch=10)
    assert model.calls == [10, 10, 5] and samples.shape == (25, 2) and samples.device.type == "cpu"
    model.calls.clear()
    draw_samples(model, 25, None, "model 'fake'", (2,), batch=None)
    assert model.calls == [25]


def test_a_conditional_models_batches_get_their_share_of_the_labels(tmp_path):
    path = tmp_path / "batched.toml"
    path.write_text(textwrap.dedent("""
        [suite]
        name = "batched"
        samples = 64

        [[datasets]]
        name = "blobs"
        params = { classes = 3 }

        [[models]]
        family = "gaussian"
        variant = "conditional"
        budget = { steps = 5 }
        sample_batch_size = 10

        [[metrics]]
        name = "label-match"
    """))
    outcome = run_suite(path, results_root=tmp_path / "results", run_id="r", registry=runnable_registry(), progress=False,
                        echo=lambda s: None)
    assert not outcome.failures, outcome.failures
    saved = next((outcome.run_dir / "samples").glob("*[0-9a-f].pt"))
    labels = torch.load(saved.with_suffix(".labels.pt"), weights_only=True)
    samples = torch.load(saved, weights_only=True)
    assert len(samples) == 64 and torch.equal(samples[:, 0], labels.float())  # each sample got its own label
    records, _ = read_records(outcome.run_dir)
    rate = next(r for r in records if r.get("metric") == "samples_per_second")
    assert rate["protocol"]["sampling"]["sample_batch_size"] == 10
