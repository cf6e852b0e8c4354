"""A domain classifier: the feature extractor for labelled image data where Inception is a poor fit.

Inception-v3 was trained on ImageNet photographs; on 8x8 digits or MNIST its features say little
and cost 0.1 s per image on a CPU. Domain-specific FID and Inception Score use a classifier trained
on the data's own training split instead (as in the MNIST FIDs of e.g. Xu et al., 2018, "An
empirical study on evaluation metrics of generative adversarial networks"). Its numbers compare
only with numbers from the same classifier, so every number carries the classifier's key and test
accuracy, and the metric's name says ``classifier``.

* Architecture (:class:`DomainCNN`): three 3x3 convolutions (32, 32, 64 channels, ReLU, two 2x2 max
  pools), an adaptive average pool to 2x2, a 64-unit fully connected layer (its pre-activations
  are the **features**: unlike ReLU outputs they have no dead, constant dimensions), then ReLU and
  a linear layer to the class **logits** (so the Inception Score works). Any ``(C, H, W)`` with
  H, W >= 4. The features are divided by one constant fixed after training, their root mean square
  over the train split: KID's kernel ``(x·y / d + 1)³`` expects features of order one (Inception's
  are), and raw activations of order ten make it a sum of huge, noisy terms.
* Training: Adam, cross-entropy, on the train split converted to uint8 exactly as every image it
  will ever see (:func:`images.to_uint8`), on the cell's device, seeded; test accuracy on the test
  split.
* Pinned weights: a classifier is a fixed artifact, like Inception's weights. For the built-in
  datasets (``digits``, ``digits-binary`` and, trained on real MNIST, ``mnist``) it was trained once
  by the recipe in :mod:`.pin_classifier` and committed under ``pinned/``; ``pinned/manifest.json``
  maps each one's **data key** (a SHA-256 of the dataset's name, the content hashes of its train and
  test images and labels, the architecture and the training plan, nothing of the machine) to the
  file, its SHA-256 and its test accuracy. Data with a pinned classifier always uses it: loaded
  with ``weights_only=True`` after its SHA-256 is checked, never retrained. The protocol says
  ``extractor = classifier[pinned:<weights sha>]``.
* Any other data (a third party's dataset, or a built-in one with other parameters) trains a
  classifier locally, cached as ``<cache>/classifiers/<name>-<key>.pt`` (the key adds the device
  type and torch's version to the data key), and labelled ``classifier[local:<weights sha>]``, so
  numbers from two machines' local classifiers never look comparable.

Registered with torch-fidelity as the feature extractor :data:`FIDELITY_NAME`, so FID, KID, IS and
precision/recall run through torch-fidelity's code, one pass per image set giving both layers.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch_fidelity.feature_extractor_base import FeatureExtractorBase
from torch_fidelity.helpers import vassert
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

from benchbench import Dataset, NotApplicable

from .images import content_sha256, converted
from .inception import file_sha256

FIDELITY_NAME = "benchbench-domain-classifier"
ARCHITECTURE = "domain-cnn-v2"  # bump when DomainCNN or the training procedure changes
FORMAT = "benchbench-domain-classifier/1"
PINNED_DIR = Path(__file__).with_name("pinned")
PINNED_MANIFEST = PINNED_DIR / "manifest.json"


@dataclass(frozen=True)
class TrainingPlan:
    """How the classifier is trained; every field is part of its cache key."""

    epochs: int = 15
    batch_size: int = 128
    lr: float = 2e-3
    seed: int = 0
    width: int = 32
    feature_dim: int = 64


class DomainCNN(nn.Module):
    """``(B, C, H, W)`` floats in [0, 1] → ``(features (B, F), logits (B, K))``."""

    def __init__(self, channels: int, num_classes: int, width: int = 32, feature_dim: int = 64):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),      # (B, w, H/2, W/2)
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, 2w, H/4, W/4)
            nn.AdaptiveAvgPool2d(2), nn.Flatten(),                                  # (B, 8w)
            nn.Linear(8 * width, feature_dim),                                      # (B, F)
        )
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(feature_dim, num_classes))
        self.register_buffer("feature_scale", torch.tensor(1.0))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.body(x)
        return features / self.feature_scale, self.head(features)


@dataclass(frozen=True)
class TrainedClassifier:
    """A classifier's weights file, what defines it, where it came from, how well it classifies."""

    path: Path
    data_key: str
    test_accuracy: float
    plan: TrainingPlan
    source: str  # "pinned" (committed, never retrained) or "local" (trained on this machine)
    weights_sha256: str

    def protocol(self) -> dict[str, Any]:
        return {"extractor": f"classifier[{self.source}:{self.weights_sha256[:16]}]",
                "classifier_weights_sha256": self.weights_sha256[:16], "classifier_data_key": self.data_key[:16],
                "classifier_test_accuracy": self.test_accuracy, "classifier_architecture": ARCHITECTURE,
                "classifier_epochs": self.plan.epochs, "classifier_seed": self.plan.seed}


# ---- what defines a classifier -------------------------------------------------------------------


def require_labels(dataset: Dataset) -> None:
    """n/a with the reason when the data cannot train a classifier."""
    if dataset.train_labels is None or dataset.test_labels is None or not dataset.num_classes:
        raise NotApplicable(f"the domain classifier trains on labels; dataset {dataset.name!r} has none "
                            "(use extractor = \"inception\")")


def labelled_splits(dataset: Dataset) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Train images (uint8) and labels, test images and labels."""
    require_labels(dataset)
    labels = [torch.as_tensor(np.asarray(y, dtype=np.int64)) for y in (dataset.train_labels, dataset.test_labels)]
    return converted(dataset.train)[0], labels[0], converted(dataset.test)[0], labels[1]


def data_key(dataset: Dataset, plan: TrainingPlan) -> str:
    """SHA-256 of what the weights are meant to depend on: data, architecture, recipe; no machine."""
    require_labels(dataset)
    data = [converted(dataset.train)[1], content_sha256(np.asarray(dataset.train_labels, dtype=np.int64)),
            converted(dataset.test)[1], content_sha256(np.asarray(dataset.test_labels, dtype=np.int64))]
    fields = {"format": FORMAT, "architecture": ARCHITECTURE, "dataset": dataset.name, "num_classes": dataset.num_classes,
              "data": data, "plan": asdict(plan)}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def local_key(data: str, device: str) -> str:
    """The local cache's key: the data key plus what else the weights turn out to depend on."""
    fields = {"data_key": data, "device": torch.device(device).type, "torch": torch.__version__}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


# ---- training ------------------------------------------------------------------------------------


def train(images: torch.Tensor, labels: torch.Tensor, num_classes: int, plan: TrainingPlan, device: str) -> DomainCNN:
    """Adam on cross-entropy for ``plan.epochs`` epochs; reseeds inside, leaves global RNGs alone."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(plan.seed)
        net = DomainCNN(images.shape[1], num_classes, plan.width, plan.feature_dim).to(device)
        optimizer = torch.optim.Adam(net.parameters(), lr=plan.lr)
        generator = torch.Generator().manual_seed(plan.seed)
        x, y = images.to(device).float() / 255, labels.to(device)
        for _ in range(plan.epochs):
            for batch in torch.randperm(len(x), generator=generator).to(device).split(plan.batch_size):
                loss = nn.functional.cross_entropy(net(x[batch])[1], y[batch])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
        net.eval()
        net.feature_scale.copy_(root_mean_square(net, x))
    return net


@torch.no_grad()
def root_mean_square(net: DomainCNN, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """``sqrt(mean f²)`` of the unscaled features over ``x`` (floats)."""
    squares = sum(float(net.body(batch).pow(2).sum()) for batch in x.split(batch_size))
    return torch.tensor((squares / (len(x) * net.body[-1].out_features)) ** 0.5)


@torch.no_grad()
def accuracy(net: DomainCNN, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1024) -> float:
    device = next(net.parameters()).device
    correct = sum(int((net(x.to(device).float() / 255)[1].argmax(1).cpu() == y).sum())
                  for x, y in zip(images.split(batch_size), labels.split(batch_size)))
    return correct / len(labels)


def save_atomically(payload: dict[str, Any], path: Path) -> None:
    """``torch.save`` to a temporary file, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".tmp{os.getpid()}")
    torch.save(payload, temporary)
    os.replace(temporary, path)


def trained_classifier(dataset: Dataset, cache_dir: Path, plan: TrainingPlan, device: str) -> TrainedClassifier:
    """The pinned classifier of ``dataset`` if there is one; else one trained here once, then cached."""
    key = data_key(dataset, plan)
    pinned = pinned_classifier(key, plan)
    if pinned is not None:
        return pinned
    path = Path(cache_dir) / "classifiers" / f"{dataset.name}-{local_key(key, device)[:32]}.pt"
    if not path.is_file():
        save_atomically(train_payload(dataset, plan, device, key), path)
    checkpoint = load_checkpoint(path)
    return TrainedClassifier(path, key, float(checkpoint["test_accuracy"]), plan, "local", file_sha256(path))


def train_payload(dataset: Dataset, plan: TrainingPlan, device: str, key: str) -> dict[str, Any]:
    """Train a classifier for ``dataset`` and return what its weights file holds."""
    splits = labelled_splits(dataset)
    net = train(splits[0], splits[1], int(dataset.num_classes), plan, device)
    return {"format": FORMAT, "architecture": ARCHITECTURE, "key": key, "plan": asdict(plan),
            "channels": int(splits[0].shape[1]), "num_classes": int(dataset.num_classes),
            "test_accuracy": accuracy(net, splits[2], splits[3]),
            "state_dict": {k: v.cpu() for k, v in net.state_dict().items()}}


def pinned_manifest() -> dict[str, dict[str, Any]]:
    """Data key → ``{"dataset", "file", "sha256", "test_accuracy", "recipe"}`` of every pinned classifier."""
    return json.loads(PINNED_MANIFEST.read_text()) if PINNED_MANIFEST.is_file() else {}


def pinned_classifier(key: str, plan: TrainingPlan) -> TrainedClassifier | None:
    """The committed classifier for this data key, its SHA-256 checked; None if there is none."""
    entry = pinned_manifest().get(key)
    if entry is None:
        return None
    path = PINNED_DIR / entry["file"]
    actual = file_sha256(path) if path.is_file() else "(file missing)"
    if actual != entry["sha256"]:
        raise ValueError(f"pinned domain classifier {path} has SHA-256 {actual}, expected {entry['sha256']} "
                         f"(recorded in {PINNED_MANIFEST}); restore it from the repository, e.g. `git checkout -- {path}`. "
                         "It is never retrained in place: numbers from other weights would not compare")
    return TrainedClassifier(path, key, float(entry["test_accuracy"]), plan, "pinned", actual)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """A classifier file, read safely (tensors and plain types only); a clear error when damaged."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"cannot read the domain classifier {path} ({type(error).__name__}: {error}); delete it "
                         "to retrain") from error
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        raise ValueError(f"{path} is not a benchbench domain classifier ({FORMAT}); delete it to retrain")
    return checkpoint


# ---- the torch-fidelity feature extractor --------------------------------------------------------


class DomainClassifierExtractor(FeatureExtractorBase):
    """torch-fidelity's view of a trained :class:`DomainCNN`: uint8 images in, ``features`` and
    ``logits`` out. ``feature_extractor_weights_path`` names the classifier file."""

    def __init__(self, name: str, features_list: list[str], feature_extractor_weights_path: str | None = None,
                 **kwargs: Any):
        super().__init__(name, features_list)
        vassert(feature_extractor_weights_path is not None, f"{FIDELITY_NAME} needs feature_extractor_weights_path")
        checkpoint = load_checkpoint(feature_extractor_weights_path)
        plan = TrainingPlan(**checkpoint["plan"])
        self.net = DomainCNN(checkpoint["channels"], checkpoint["num_classes"], plan.width, plan.feature_dim)
        self.net.load_state_dict(checkpoint["state_dict"])
        self.requires_grad_(False)
        self.eval()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        vassert(torch.is_tensor(x) and x.dtype == torch.uint8, "Expecting image as torch.Tensor with dtype=torch.uint8")
        features, logits = self.net(x.float() / 255)
        layers = {"features": features, "logits": logits}
        return tuple(layers[name] for name in self.features_list)

    @staticmethod
    def get_provided_features_list() -> tuple[str, ...]:
        return "features", "logits"

    @staticmethod
    def get_default_feature_layer_for_metric(metric: str) -> str:
        return {"isc": "logits", "fid": "features", "kid": "features", "prc": "features"}[metric]

    @staticmethod
    def can_be_compiled() -> bool:
        return False

    @staticmethod
    def get_dummy_input_for_compile() -> torch.Tensor:
        return torch.zeros(1, 1, 8, 8, dtype=torch.uint8)


if FIDELITY_NAME not in FEATURE_EXTRACTORS_REGISTRY:
    register_feature_extractor(FIDELITY_NAME, DomainClassifierExtractor)
