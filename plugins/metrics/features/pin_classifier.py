"""Train the pinned domain classifiers by their one recipe, and record what they are.

``python -m benchbench_plugins.metrics.features.pin_classifier digits digits-binary mnist``

The recipe, the same for every dataset: the dataset with its default parameters (the splits every
suite uses unless it says otherwise), :class:`.classifier.TrainingPlan`'s defaults (15 epochs of
Adam at 2e-3, batches of 128, seed 0, width 32, 64 features), on the CPU, with torch's
deterministic algorithms. The weights go to ``pinned/<dataset>.pt`` and ``pinned/manifest.json``
records, under the data key, the file, its SHA-256, its test accuracy and this recipe.

Run it only to pin a new dataset or to change the recipe on purpose (bump ``ARCHITECTURE`` then):
every feature metric's number changes with the weights, so the committed reference runs must be
regenerated in the same commit. Datasets read from local files (MNIST) need them first (``make
mnist``).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

import torch

from benchbench.testing import plugin_registry

from . import classifier
from .inception import file_sha256

RECIPE = "TrainingPlan defaults, dataset defaults, CPU, torch deterministic algorithms (pin_classifier.py)"


def pin(name: str) -> dict[str, object]:
    """Train the classifier of dataset ``name``, write it to ``pinned/`` and return its manifest entry."""
    spec = plugin_registry(installed=True).dataset(name)
    dataset = spec.resolve()(**spec.defaults())
    plan = classifier.TrainingPlan()
    key = classifier.data_key(dataset, plan)
    torch.use_deterministic_algorithms(True)
    payload = classifier.train_payload(dataset, plan, "cpu", key)
    path = classifier.PINNED_DIR / f"{name}.pt"
    classifier.save_atomically(payload, path)
    return {"key": key, "dataset": name, "file": path.name, "sha256": file_sha256(path),
            "test_accuracy": payload["test_accuracy"], "plan": asdict(plan), "recipe": RECIPE,
            "torch": torch.__version__}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="+", help="built-in dataset names, e.g. digits digits-binary mnist")
    args = parser.parse_args()
    manifest = classifier.pinned_manifest()
    for name in args.datasets:
        entry = pin(name)
        manifest = {k: v for k, v in manifest.items() if v["dataset"] != name}  # one pinned classifier per dataset
        manifest[entry.pop("key")] = entry
        print(f"{name}: {entry['file']} sha256 {entry['sha256'][:16]}… test accuracy {entry['test_accuracy']:.4f}")
    text = json.dumps(dict(sorted(manifest.items(), key=lambda kv: kv[1]["dataset"])), indent=2) + "\n"
    classifier.PINNED_DIR.mkdir(exist_ok=True)
    tmp = classifier.PINNED_MANIFEST.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(classifier.PINNED_MANIFEST)


if __name__ == "__main__":
    main()
