"""Cost of the host's training loop against a plain PyTorch loop, per model variant, on digits.

For each variant the same model is trained for the same number of steps twice, alternating:
through ``benchbench.engine.training.fit`` (batching, budget, divergence guard, progress off,
checkpoint at the end as in a real cell) and through a bare loop that only slices batches and
calls ``train_step``. We report steps per second of both, their ratio (harness / plain; bar
1.05), the median over repeats after one warm-up pair, and samples per second of ``sample``.
The two loops run in alternating order from one repeat to the next.

With ``--suite``, each variant is built with the parameters of its first entry in that suite that
runs on ``--dataset`` (the quick suite's settings: a GAN's one generator pass per sample against
an EBM's Langevin chain, a diffusion model's 1,000 steps), and the network evaluations per sample
that a model reports are printed beside its samples per second.

    python benchmarks/training_loop.py [--steps 200] [--repeats 3] [--samples 500] [--only made,vae]
    python benchmarks/training_loop.py --suite suites/quick.toml --families gan,ebm [--dataset 8gaussians]
    python benchmarks/training_loop.py --only vae --placement stream [--workers 2]   # a streamed split's cost
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from benchbench.engine.cell import build_model, load_dataset
from benchbench.engine.precision import autocast
from benchbench.engine.suite import Budget, load_suite
from benchbench.engine.training import FitPlan, fit
from benchbench.engine.training_data import training_data
from benchbench.plugin.registry import build_registry

VARIANTS = [("independent", "default"), ("autoregressive", "fvsbn"), ("autoregressive", "nade"), ("autoregressive", "made"),
            ("autoregressive", "rnn"), ("autoregressive", "pixelcnn"), ("vae", "vae"), ("vae", "iwae"), ("vae", "hvae"),
            ("vae", "conv-vae"), ("flow", "realnvp"), ("flow", "maf"), ("flow", "iaf"),
            ("gan", "ns-gan"), ("gan", "f-gan"), ("gan", "wgan"), ("gan", "wgan-gp"), ("gan", "bigan"),
            ("ebm", "cd"), ("ebm", "score-matching"), ("ebm", "nce"),
            ("score", "ncsn"), ("score", "ssm"), ("score", "sde-ve"), ("score", "sde-vp"),
            ("diffusion", "ddpm"), ("diffusion", "ddim")]


def synchronize(device: str) -> None:
    """Wait for the device's queued work, so that a timing covers it (a no-op on the CPU)."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def plain_loop(model, x: torch.Tensor, steps: int, batch_size: int, precision: str = "fp32") -> float:
    """Seconds of ``steps`` bare ``train_step`` calls on shuffled batches of ``x`` (on the model's
    device), each under the entry's autocast as a cell runs it."""
    device = str(x.device)
    generator = torch.Generator().manual_seed(0)
    synchronize(device)
    start = time.perf_counter()
    order, position = torch.randperm(len(x), generator=generator).to(device), 0
    for _ in range(steps):
        if position + batch_size > len(x):
            order, position = torch.randperm(len(x), generator=generator).to(device), 0
        with autocast(precision, device):
            model.train_step(x[order[position:position + batch_size]])
        position += batch_size
    synchronize(device)
    return time.perf_counter() - start


def harness_loop(model, x: torch.Tensor, steps: int, batch_size: int, folder: Path, placement: str = "device",
                 workers: int = 0, precision: str = "fp32", device: str = "cpu") -> float:
    """Seconds of the host's ``fit`` of ``steps`` on ``x`` (a CPU tensor, placed on ``device`` as a cell places it)."""
    checkpoint = folder / "ckpt.pt"
    checkpoint.unlink(missing_ok=True)  # a finished checkpoint would make the next fit resume at its end
    plan = FitPlan(Budget("steps", steps), batch_size, checkpoint=checkpoint, checkpoint_every=10**9, progress=False,
                   autocast=lambda: autocast(precision, device))
    synchronize(device)
    start = time.perf_counter()  # a streamed split's loader (and its workers) start inside the timing
    fit(model, training_data(x.numpy(), None, device, placement, workers), None, plan, seed=0)
    synchronize(device)
    return time.perf_counter() - start


def timed_pair(build, x: torch.Tensor, args: argparse.Namespace, folder: Path, harness_first: bool) -> tuple[float, float]:
    """Seconds of the plain loop and of the harness on fresh models, in alternating order across
    repeats, so that whichever runs second in a warm process is not always the same one."""
    def plain() -> float:
        torch.manual_seed(0)
        return plain_loop(build(), x, args.steps, args.batch_size)

    def harness() -> float:
        torch.manual_seed(0)
        return harness_loop(build(), x, args.steps, args.batch_size, folder, args.placement, args.workers)

    if harness_first:
        b = harness()
        return plain(), b
    a = plain()
    return a, harness()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--only", default="", help="comma-separated variants")
    parser.add_argument("--families", default="", help="comma-separated families (default: all)")
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--placement", default="device", choices=("device", "stream"),
                        help="the harness's training split: one tensor, or streamed through a DataLoader")
    parser.add_argument("--workers", type=int, default=0, help="loader workers of a streamed split")
    parser.add_argument("--suite", default=None, help="take each variant's parameters from this suite")
    args = parser.parse_args()
    registry = build_registry()
    data = load_dataset(registry.dataset(args.dataset), registry.dataset(args.dataset).defaults())
    x = torch.as_tensor(data.train)
    entries = load_suite(args.suite, registry).models if args.suite else []
    print(f"{args.dataset} train {tuple(x.shape)}, {args.steps} steps of {args.batch_size}, median of {args.repeats}, "
          f"torch threads {torch.get_num_threads()}, harness split: {args.placement}"
          f"{f' with {args.workers} loader workers' if args.placement == 'stream' else ''}\n")
    print("| model | variant | plain steps/s | harness steps/s | time ratio harness/plain | samples/s "
          "| network evals/sample |\n|---|---|---|---|---|---|---|")
    for plugin, variant in VARIANTS:
        if (args.only and variant not in args.only.split(",")) or (args.families and plugin not in args.families.split(",")):
            continue
        provided = registry.provider("model", plugin)
        spec = provided.spec
        params = suite_params(entries, plugin, variant, args.dataset) or {**spec.defaults(), **spec.variants[variant]}
        ratios, plain, harness = [], [], []
        with tempfile.TemporaryDirectory() as tmp:
            for repeat in range(args.repeats + 1):  # the first pair warms up and is dropped
                a, b = timed_pair(lambda: build_model(provided, data, variant, params), x, args, Path(tmp),
                                  harness_first=repeat % 2 == 1)
                if repeat == 0:
                    continue
                plain.append(args.steps / a)
                harness.append(args.steps / b)
                ratios.append(b / a)
        model = build_model(provided, data, variant, params).eval()
        start = time.perf_counter()
        with torch.no_grad():
            model.sample(args.samples)
        rate = args.samples / (time.perf_counter() - start)
        evals = next((f"{v.value:g}" for v in model.sampling_values() if v.name.endswith("_evals_per_sample")), "")
        print(f"| {plugin} | {variant} | {statistics.median(plain):.1f} | {statistics.median(harness):.1f} "
              f"| {statistics.median(ratios):.3f} | {rate:.0f} | {evals} |")


def suite_params(entries: list, family: str, variant: str, dataset: str) -> dict | None:
    """The parameters of the suite's first entry of this family and variant that runs on ``dataset``."""
    return next((dict(e.params) for e in entries if e.family == family and e.variant == variant and e.runs_on(dataset)), None)


if __name__ == "__main__":
    main()
