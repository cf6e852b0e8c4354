"""What a sample of a diffusion or score model costs, and what it buys: samples per second and the
domain-classifier FID of DDPM's ancestral sampler (all T steps) against DDIM at 10 and 50 steps
from the same trained network, and of NCSN's annealed Langevin dynamics, on digits (CPU).

Each model is trained once through the host's loop with the parameters and budget of its entry in
``--suite`` (the quick suite's, so the figures are those of its cells), then sampled with each
setting from the same weights (``DiffusionModel.sample_with``). For each setting we report the
median samples per second over ``--repeats`` draws of ``--samples`` samples, the network
evaluations per sample the model reports, and the FID of the last draw against the test split
with the pinned digits classifier (the quick suite's ``fid``).

    python benchmarks/diffusion_sampling.py [--suite suites/quick.toml] [--samples 2000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from benchbench.engine.cell import build_model, load_dataset, training_transform
from benchbench.engine.suite import load_suite
from benchbench.engine.training import FitPlan, fit
from benchbench.plugin.registry import build_registry
from benchbench.testing import eval_context
from benchbench_plugins.metrics.features.compute import evaluate_fid

DDIM_STEPS = (10, 50)


def trained(registry, entries, family: str, variant: str, data) -> tuple[torch.nn.Module, str]:
    """The suite's first ``family`` / ``variant`` entry on ``data``, trained for its budget."""
    entry = next(e for e in entries if e.family == family and e.variant == variant and e.runs_on(data.name))
    model = build_model(registry.provider("model", family), data, variant, dict(entry.params))
    x = torch.as_tensor(data.train)
    y = None if data.train_labels is None else torch.as_tensor(data.train_labels)
    with tempfile.TemporaryDirectory() as tmp:
        plan = FitPlan(entry.budget, entry.batch_size, checkpoint=Path(tmp) / "ckpt.pt", checkpoint_every=10**9,
                       progress=False, transform=training_transform(model, data))
        start = time.perf_counter()
        fit(model, x, y, plan, seed=0)
    return model.eval(), f"{entry.budget}, {time.perf_counter() - start:.0f} s"


def measure(draw: Callable[[], torch.Tensor], model, data, n: int, repeats: int) -> tuple[float, float, str]:
    """Median samples per second of ``draw``, the FID of its last draw, the evaluations per sample."""
    rates = []
    for repeat in range(repeats):
        torch.manual_seed(repeat)
        start = time.perf_counter()
        with torch.no_grad():
            samples = draw()
        rates.append(n / (time.perf_counter() - start))
    evals = next((f"{v.value:g}" for v in model.sampling_values() if v.name.endswith("_evals_per_sample")), "")
    fid = evaluate_fid(eval_context(model, data, samples))[0].value
    return statistics.median(rates), fid, evals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", default="suites/quick.toml")
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    registry = build_registry()
    data = load_dataset(registry.dataset("digits"), registry.dataset("digits").defaults())
    entries = load_suite(args.suite, registry).models
    n = args.samples
    print(f"digits, {n} samples per draw, median of {args.repeats} draws, torch threads {torch.get_num_threads()}\n")
    print("| model | trained | sampler | network evals/sample | samples/s | FID (classifier) |\n|---|---|---|---|---|---|")
    ddpm, how = trained(registry, entries, "diffusion", "ddpm", data)
    settings = [("ancestral, all T steps", ddpm.sampling)]
    settings += [(f"DDIM {s} steps, eta 0", dataclasses.replace(ddpm.sampling, sampler="ddim", sample_steps=s, eta=0.0))
                 for s in DDIM_STEPS]
    for name, sampling in settings:
        rate, fid, evals = measure(lambda sampling=sampling: ddpm.sample_with(sampling, n), ddpm, data, n, args.repeats)
        print(f"| diffusion ddpm | {how} | {name} | {evals} | {rate:.1f} | {fid:.3f} |")
    ncsn, how = trained(registry, entries, "score", "ncsn", data)
    rate, fid, evals = measure(lambda: ncsn.sample(n), ncsn, data, n, args.repeats)
    print(f"| score ncsn | {how} | annealed Langevin | {evals} | {rate:.1f} | {fid:.3f} |")


if __name__ == "__main__":
    main()
