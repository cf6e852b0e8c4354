"""FID + KID + IS + precision/recall on 10,000 samples: benchbench against one direct torch-fidelity
call with the same feature extractor, and a second benchbench evaluation that reuses the cached
reference features.

Data: MNIST (``make mnist``): the reference is the 10,000 official test images; the "samples" are
10,000 training images with Gaussian noise (sigma 0.1), clamped, as floats in [0, 1], as a model
would return them. ``--dataset digits``: the 359 digits test images, and 10,000 noisy resamples of
the training split.

Extractor: the harness's domain classifier (trained once before the timings; its training time is
reported apart), or ``--extractor inception`` (the weights ``make inception`` set up; about 0.1 s
per image on a CPU, so use a GPU; without a classifier head there is no Inception Score on either
side).

Each run times, side by side, in alternating order:

* ``direct``: one ``torch_fidelity.calculate_metrics`` call (isc, fid, kid, prc; torch-fidelity's
  defaults otherwise, its cache off) on the uint8 tensors, converted before the clock starts; also
  ``direct lean``, the same with ``save_cpu_ram=True`` (no data-loader worker processes, which
  benchbench's feature pass does not use either; precision/recall then work in blocks). The ratio
  is taken against the faster of the two;
* ``benchbench cold``: the ``fid``, ``kid``, ``inception-score`` and ``precision-recall`` metric
  factories on the float samples, as a cell calls them, with nothing in memory and an empty
  feature cache: one feature pass per image set, the reference features then written to the cache;
* ``benchbench warm``: the same again with nothing in memory but the disk cache of the cold run:
  the reference pass is skipped (``reference_features`` says ``disk cache``).

The table reports each run, the medians, and the ratio cold / direct (the bar: at most 1.1).

    python benchmarks/feature_metrics.py [--dataset mnist|digits] [--extractor classifier|inception]
                                         [--runs 5] [--device cpu] [--classifier-epochs 1] [--threads 0]
                                         [--cache DIR]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch_fidelity
from threadpoolctl import threadpool_limits

import benchbench
from benchbench import Dataset, EvalContext, MetricValue
from benchbench_plugins.metrics.features import compute, extract, inception, inception_setup
from benchbench_plugins.metrics.features.images import UInt8Images, to_rgb, to_uint8

N_SAMPLES, NOISE, SEED = 10_000, 0.1, 0


def load(name: str) -> tuple[Dataset, torch.Tensor]:
    """The dataset and 10,000 noisy training images as the samples."""
    if name == "mnist":
        from benchbench_plugins.datasets.vision import make_mnist

        data = make_mnist(root="", split_seed=0, n_val=10_000, n_train=0, n_test=0)
    else:
        from benchbench_plugins.datasets.digits import make_digits

        data = make_digits(split_seed=0, val_fraction=0.1, test_fraction=0.2)
    rng = np.random.default_rng(SEED)
    images = data.train[rng.permutation(len(data.train))[:N_SAMPLES]] if len(data.train) >= N_SAMPLES \
        else data.train[rng.integers(0, len(data.train), N_SAMPLES)]
    samples = np.clip(images + rng.normal(0, NOISE, images.shape), 0, 1).astype(np.float32)
    return data, torch.as_tensor(samples)


def benchbench_values(data: Dataset, samples: torch.Tensor, cache: Path, device: str,
                      options: dict[str, Any], with_score: bool) -> list[MetricValue]:
    context = EvalContext(benchbench.Model(), data, samples, device, SEED, cache)
    factories = [compute.evaluate_fid, compute.evaluate_kid, compute.evaluate_precision_recall]
    factories += [compute.evaluate_inception_score] if with_score else []
    return [value for factory in factories for value in factory(context, **options)]


def direct_values(inputs: tuple[UInt8Images, UInt8Images], extractor: extract.Extractor, device: str,
                  with_score: bool, save_cpu_ram: bool) -> dict[str, float]:
    return torch_fidelity.calculate_metrics(
        input1=inputs[0], input2=inputs[1], isc=with_score, fid=True, kid=True, prc=True,
        feature_extractor=extractor.fidelity_name, feature_extractor_weights_path=str(extractor.weights),
        cuda=device.startswith("cuda"), cache=False, verbose=False, rng_seed=SEED, save_cpu_ram=save_cpu_ram,
        kid_subset_size=compute.kid_subset_size(0, len(inputs[0]), len(inputs[1])))  # as benchbench adapts it


def timed(function: Any, *args: Any) -> tuple[float, Any]:
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    result = function(*args)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=("mnist", "digits"), default="mnist")
    parser.add_argument("--extractor", choices=("classifier", "inception"), default="classifier")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--classifier-epochs", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=None, help="keep the trained classifier here between "
                        "invocations (default: a temporary folder; reference features always start empty)")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads for torch and BLAS (0: their defaults); "
                        "1 keeps timings stable on a machine shared with other jobs")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
        threadpool_limits(args.threads)
    data, samples = load(args.dataset)
    options = {"extractor": args.extractor, "classifier_epochs": args.classifier_epochs}
    if args.extractor == "inception":  # the set-up weights, named, since each run has a fresh cache
        options["weights"] = str(inception.locate(inception_setup.default_cache_dir()).path)
    with tempfile.TemporaryDirectory() as root:
        shared = args.cache or Path(root) / "shared"
        context = EvalContext(benchbench.Model(), data, samples, args.device, SEED, shared)
        seconds, chosen = timed(extract.resolve_extractor, context, args.extractor, options.get("weights", ""),
                                args.classifier_epochs)
        print(f"extractor {chosen.name} ({chosen.fidelity_name}) ready in {seconds:.1f} s "
              f"(training or loading, outside the timings); {chosen.protocol}")
        with_score = chosen.logits_layer is not None
        convert = (lambda x: to_rgb(to_uint8(x))) if chosen.rgb else to_uint8
        inputs = (UInt8Images(convert(samples)), UInt8Images(convert(torch.as_tensor(data.test))))
        rows = []
        for run in range(args.runs):
            cache = Path(root) / f"run{run}"
            cache.mkdir()
            if (shared / "classifiers").exists():
                (cache / "classifiers").symlink_to(shared / "classifiers")
            order = ["direct", "lean", "cold", "warm"] if run % 2 == 0 else ["cold", "warm", "lean", "direct"]
            row: dict[str, Any] = {}
            for step in order:
                extract.forget()
                if step in ("direct", "lean"):
                    row[step], row[f"{step}_values"] = timed(direct_values, inputs, chosen, args.device, with_score,
                                                             step == "lean")
                else:
                    row[step], values = timed(benchbench_values, data, samples, cache, args.device, options, with_score)
                    row[f"{step}_values"] = {v.name: v for v in values}
            rows.append(row)
            print(f"run {run + 1}: direct {row['direct']:.2f} s, direct lean {row['lean']:.2f} s, benchbench cold "
                  f"{row['cold']:.2f} s, warm {row['warm']:.2f} s", flush=True)
    report(rows, args, len(data.test), chosen.name)


def report(rows: list[dict[str, Any]], args: argparse.Namespace, n_reference: int, name: str) -> None:
    threads = args.threads or f"default ({torch.get_num_threads()})"
    print(f"\n{args.dataset}: {N_SAMPLES} samples vs {n_reference} reference images, extractor {name}, "
          f"device {args.device}, threads {threads}, {args.runs} runs\n")
    print("| run | direct s | direct lean s | benchbench cold s | cold / faster direct | benchbench warm s "
          "| reference features cold / warm |\n|---|---|---|---|---|---|---|")
    for i, row in enumerate(rows, 1):
        sources = "/".join(row[f"{s}_values"][f"fid_{name}"].protocol["reference_features"] for s in ("cold", "warm"))
        print(f"| {i} | {row['direct']:.2f} | {row['lean']:.2f} | {row['cold']:.2f} "
              f"| {row['cold'] / min(row['direct'], row['lean']):.3f} | {row['warm']:.2f} | {sources} |")
    median = {k: statistics.median(r[k] for r in rows) for k in ("direct", "lean", "cold", "warm")}
    print(f"| median | {median['direct']:.2f} | {median['lean']:.2f} | {median['cold']:.2f} "
          f"| {median['cold'] / min(median['direct'], median['lean']):.3f} | {median['warm']:.2f} | |")
    ours, theirs = rows[-1]["cold_values"], rows[-1]["direct_values"]
    pairs = [(f"fid_{name}", "frechet_inception_distance"), (f"kid_{name}", "kernel_inception_distance_mean"),
             (f"precision_{name}", "precision"), (f"recall_{name}", "recall"), (f"is_{name}", "inception_score_mean")]
    print("\n| value | benchbench | torch-fidelity |\n|---|---|---|")
    for mine, key in pairs:
        if mine in ours:
            print(f"| {mine} | {ours[mine].value:.8g} | {theirs[key]:.8g} |")


if __name__ == "__main__":
    main()
