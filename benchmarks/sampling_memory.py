"""Peak memory of drawing 50,000 digits at once against in batches (a model entry's
``sample_batch_size``), through the host's own ``draw_samples``. The model: the quick suite's
digits DDPM (an MLP of 4 blocks of 256 units on the flattened image) sampled by DDIM in 10 steps;
untrained, since memory does not depend on the weights. On the CPU the peak is the process's
resident set since the measurement began (the host's method for a cell's peak), so the baseline
(torch, the model) is in both numbers and their difference is what batching saves; on a GPU the
same script gives torch's peak allocation.

    python benchmarks/sampling_memory.py [--n 50000] [--batch 5000]
"""

from __future__ import annotations

import argparse
import time

import torch

from benchbench.engine.cell import draw_samples
from benchbench.engine.memory import peak_mb, reset_peak
from benchbench.testing import plugin_registry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    from benchbench_plugins.datasets.digits import make_digits

    data = make_digits(split_seed=0, val_fraction=0.1, test_fraction=0.2)
    spec = plugin_registry(installed=True).model("diffusion")
    params = {**spec.defaults(), **spec.variants["ddim"], "network": "mlp", "hidden": 256, "depth": 4, "sample_steps": 10}
    model = spec.resolve()(data, variant="ddim", **params).to(args.device).eval()
    print(f"{args.n} digits from the digits DDPM (MLP 4 x 256, DDIM 10 steps) on {args.device}")
    print("| draw | peak MiB | above the baseline | seconds |")
    print("|---|---|---|---|")
    baseline = peak_mb(args.device, reset_peak(args.device))  # torch, the model, the data: in every peak
    print(f"| nothing (baseline) | {baseline:.0f} | 0 | - |")
    for batch in (args.batch, None):  # batches first: the heap the big draw leaves would count in theirs
        torch.manual_seed(0)
        method = reset_peak(args.device)
        start = time.perf_counter()
        samples = draw_samples(model, args.n, None, "model 'diffusion'", data.shape, batch)
        seconds = time.perf_counter() - start
        peak = peak_mb(args.device, method)
        print(f"| {'all at once' if batch is None else f'batches of {batch}'} | {peak:.0f} | {peak - baseline:.0f} | {seconds:.1f} |")
        del samples


if __name__ == "__main__":
    main()
