"""Lossless compression with a real entropy coder: the model's bits/dim beside the length of the
stream its coder actually writes (range coding for the baseline and MADE, bits-back ANS for the
VAE), PNG, WebP and lzma on the same images, and the coder's encode and decode throughput.

Data: the digits (17 levels) and binarised digits test sets, and binarised MNIST (the official test
set, one stochastic binarisation) when ``make mnist`` has prepared ``data/`` (skipped with a
message otherwise). Models: the independent-pixel baseline, MADE with one ordering (a mixture of
orderings has no single chain of conditionals to range-code with) and the VAE, each at its
defaults, trained for ``--steps`` steps on random batches of 64 (seed 0), then coded on the first
``--n`` test images by the ``compression`` metric exactly as a cell runs it (one thread by default).

    python benchmarks/compression.py [--steps 500] [--n 200] [--datasets digits,digits-binary,mnist-binary]
                                     [--threads 1]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from benchbench import Dataset, EvalContext, UsageError
from benchbench.testing import plugin_registry
from benchbench_plugins.metrics.compression.compute import evaluate_compression

MODELS = [("independent", "default", {}), ("autoregressive", "made", {"orderings": 1}), ("vae", "vae", {})]
COLUMNS = ["model bits/dim", "stream bits/dim", "stream - model", "PNG", "WebP", "lzma", "encode img/s", "decode img/s",
           "fit s"]


def train(registry, family: str, variant: str, data: Dataset, steps: int, **overrides) -> tuple[torch.nn.Module, float]:
    spec = registry.model(family)
    torch.manual_seed(0)
    model = spec.resolve()(data, variant=variant, **{**spec.defaults(), **spec.variants[variant], **overrides})
    x = torch.as_tensor(data.train, dtype=torch.float32)
    start = time.perf_counter()
    for _ in range(steps):
        model.train_step(x[torch.randint(len(x), (64,))])
    return model.eval(), time.perf_counter() - start


def row(registry, family: str, variant: str, overrides: dict, data: Dataset, steps: int, n: int) -> list[str]:
    model, fit_seconds = train(registry, family, variant, data, steps, **overrides)
    torch.manual_seed(0)
    values = {v.name: v.value for v in evaluate_compression(EvalContext(model, data, None, "cpu", 0, Path(".")), n=n)}
    coder = "range" if "stream_bpd[range]" in values else "bits_back"
    numbers = [values[f"model_bpd[{coder}]"], values[f"stream_bpd[{coder}]"], values[f"stream_overhead_bpd[{coder}]"],
               values["stream_bpd[png]"], values.get("stream_bpd[webp]", float("nan")), values["stream_bpd[lzma]"]]
    rates = [values[f"encode_images_per_second[{coder}]"], values[f"decode_images_per_second[{coder}]"], fit_seconds]
    name = f"{family}/{variant}" + "".join(f" {k}={v}" for k, v in overrides.items()) + f" ({coder})"
    return [name, *(f"{v:.3f}" for v in numbers), *(f"{v:.0f}" for v in rates[:2]), f"{rates[2]:.1f}"]


def load(registry, name: str) -> Dataset | None:
    spec = registry.dataset(name)
    try:
        return spec.resolve()(**spec.defaults())
    except UsageError as error:
        print(f"\n## {name}: skipped ({error})")
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=500, help="training steps per model (batches of 64)")
    parser.add_argument("--n", type=int, default=200, help="test images coded")
    parser.add_argument("--datasets", default="digits,digits-binary,mnist-binary")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    registry = plugin_registry(installed=True)
    for name in args.datasets.split(","):
        data = load(registry, name)
        if data is None:
            continue
        n = min(args.n, len(data.test))
        print(f"\n## {name}: first {n} test images, {data.dim} dims, {data.levels} levels, {args.steps} steps, "
              f"{args.threads} thread(s)\n")
        print("| model | " + " | ".join(COLUMNS) + " |\n" + "|---" * (len(COLUMNS) + 1) + "|")
        for family, variant, overrides in MODELS:
            print("| " + " | ".join(row(registry, family, variant, overrides, data, args.steps, n)) + " |", flush=True)


if __name__ == "__main__":
    main()
