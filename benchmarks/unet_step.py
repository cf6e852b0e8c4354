"""A U-Net DDPM training step on CIFAR-10-sized input: the host's loop against a plain PyTorch loop,
in fp32 and bf16, eager and compiled, in steps per second.

The model is the CIFAR-10 GPU suite's DDPM (Ho et al.'s U-Net: 128 channels, 4 levels, 2 residual
blocks, attention at 16x16, dropout 0.1; ``suites/cifar10_gpu.toml``) built on random images of
shape 3x32x32 in [0, 1], so the benchmark needs no data on the machine: a step's cost does not
depend on what the pixels show. For each setting the same model is trained twice, alternating
which goes first: through ``benchbench.engine.training.fit`` (batching, budget, the divergence
guard, one checkpoint at the end, each ``train_step`` under the entry's autocast, as in a cell) and
through a bare loop that slices batches and calls ``train_step`` under the same autocast. A
compiled model is compiled as a cell compiles it (``compile_networks``) and warmed up before
timing, so compilation is reported in its own column, not in the steps per second. Both loops are
``benchmarks/training_loop.py``'s, whose timings wait for the device at both ends.

    python benchmarks/unet_step.py --device cuda [--steps 200] [--repeats 3] [--batch-size 128]
    python benchmarks/unet_step.py --device cpu --channels 32 --levels 2 --batch-size 8 --steps 5 --repeats 1   # wiring only
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import numpy as np
import torch

from training_loop import harness_loop, plain_loop  # the same two loops as every variant's benchmark

from benchbench import Dataset
from benchbench.engine.cell import build_model
from benchbench.engine.precision import compile_networks
from benchbench.plugin.registry import build_registry

SETTINGS = [("fp32", False), ("bf16", False), ("fp32", True), ("bf16", True)]


def random_images(n: int, seed: int = 0) -> Dataset:
    """``n`` uniform 3x32x32 images in [0, 1] with 256 levels, as CIFAR-10 is stored."""
    rng = np.random.default_rng(seed)
    split = lambda m: (rng.integers(0, 256, (m, 3, 32, 32)) / 255).astype(np.float32)  # noqa: E731
    return Dataset("random-32x32x3", split(n), split(16), split(16), "discrete", levels=256)


def warmed(build, x: torch.Tensor, compile: bool, args: argparse.Namespace, precision: str) -> tuple[object, float]:
    """A fresh model, compiled if asked, after a few steps that trigger compilation; their seconds."""
    torch.manual_seed(0)
    model = build()
    compile_networks(model, compile)
    seconds = plain_loop(model, x, args.warmup, args.batch_size, precision)
    return model, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10, help="steps before timing (compilation happens here)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--channels", type=int, default=128)
    parser.add_argument("--levels", type=int, default=4)
    parser.add_argument("--only", default="", help="comma-separated settings, e.g. fp32,bf16+compile")
    args = parser.parse_args()
    registry = build_registry()
    provided = registry.provider("model", "diffusion")
    data = random_images(max(4 * args.batch_size, 512))
    params = {**provided.spec.defaults(), "channels": args.channels, "levels": args.levels, "res_blocks": 2,
              "attention_resolution": 16, "dropout": 0.1, "lr": 2e-4, "ema_decay": 0.9999, "bound_timesteps": 100}
    x_host = torch.as_tensor(data.train)
    x = x_host.to(args.device)
    build = lambda: build_model(provided, data, "ddpm", params).to(args.device)  # noqa: E731
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    print(f"DDPM U-Net ({args.channels} channels, {args.levels} levels) on {tuple(x.shape[1:])}, batches of "
          f"{args.batch_size}, {args.steps} steps, median of {args.repeats}, {name}, torch {torch.__version__}\n")
    print("| precision | compile | warm-up s | plain steps/s | harness steps/s | time ratio harness/plain |"
          "\n|---|---|---|---|---|---|")
    for precision, compile in SETTINGS:
        label = precision + ("+compile" if compile else "")
        if args.only and label not in args.only.split(","):
            continue
        plain, harness, ratios = [], [], []
        with tempfile.TemporaryDirectory() as tmp:
            for repeat in range(args.repeats):
                first, warm = warmed(build, x, compile, args, precision)
                second, _ = warmed(build, x, compile, args, precision)
                runs = [lambda m=first: plain_loop(m, x, args.steps, args.batch_size, precision),
                        lambda m=second: harness_loop(m, x_host, args.steps, args.batch_size, Path(tmp),
                                                      precision=precision, device=args.device)]
                order = runs if repeat % 2 == 0 else runs[::-1]  # alternate which loop goes first
                times = [run() for run in order]
                a, b = times if repeat % 2 == 0 else times[::-1]
                plain.append(args.steps / a)
                harness.append(args.steps / b)
                ratios.append(b / a)
        print(f"| {precision} | {'inductor' if compile else 'eager'} | {warm:.1f} | {statistics.median(plain):.2f} "
              f"| {statistics.median(harness):.2f} | {statistics.median(ratios):.3f} |")
        if compile:
            torch._dynamo.reset()  # a fresh compilation per setting, not a cache hit from the last


if __name__ == "__main__":
    main()
