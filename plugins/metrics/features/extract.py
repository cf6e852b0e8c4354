"""One feature pass per image set, through torch-fidelity, with the reference side cached by content.

A cell's feature metrics (FID, KID, IS, precision/recall, feature MMD, class histogram) all call
:func:`compare`. It converts the cell's samples and the reference split to uint8 the same way,
names each set by the SHA-256 of its uint8 bytes, and extracts every layer the metrics need (the
pool features and the logits) in one pass of torch-fidelity's ``get_featuresdict_from_dataset``:

* generated samples: kept in memory for the next metric of the cell (same bytes, same extractor);
* the reference split: its features and FID statistics are stored in
  ``<cache>/features/<key>.pt``, the key a SHA-256 of the extractor's identity (its torch-fidelity
  name, the SHA-256 of its weights file, the layers) and the images' content hash. torch-fidelity's
  own cache is keyed by an input's name only and goes stale when the data or weights change; it is
  not used.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch_fidelity
from torch_fidelity.utils import create_feature_extractor, get_featuresdict_from_dataset

from benchbench import EvalContext, NotApplicable

from . import classifier, inception
from .frechet import feature_statistics
from .images import CONVERSION, RGB_CONVERSION, UInt8Images, checked_samples, clamped_fraction, converted, \
    require_images

EXTRACTORS = ("classifier", "inception")
MEMORY_ENTRIES = 4  # feature sets kept in memory: a cell's samples and references under two extractors
CACHE_FORMAT = "reference-features/1"  # bump when what a cache entry holds or how it is computed changes


@dataclass(frozen=True)
class Extractor:
    """A named feature extractor as torch-fidelity builds it."""

    name: str              # in metric names: fid_<name>
    fidelity_name: str     # torch-fidelity registry name
    weights: Path
    weights_id: str        # SHA-256 of the weights file
    feature_layer: str     # pool features for FID, KID, precision/recall, MMD
    logits_layer: str | None  # None: no classifier head, so no Inception Score
    rgb: bool              # reads 3 channels
    protocol: dict[str, Any] = field(default_factory=dict)

    @property
    def layers(self) -> list[str]:
        return [self.feature_layer] + ([self.logits_layer] if self.logits_layer else [])

    @property
    def identity(self) -> str:
        return f"{self.fidelity_name}:{self.weights_id}:{','.join(self.layers)}"


@dataclass
class FeatureSet:
    """The features of one image set and where they came from."""

    features: dict[str, torch.Tensor]
    sha256: str
    source: str  # "computed", "memory" or "disk cache"
    statistics: dict[str, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(next(iter(self.features.values())))


@dataclass
class Comparison:
    """Generated and reference features under one extractor, and the protocol they define."""

    extractor: Extractor
    generated: FeatureSet
    reference: FeatureSet
    protocol: dict[str, Any]

    def layer(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        return self.generated.features[name], self.reference.features[name]


# ---- extractors ----------------------------------------------------------------------------------


def classifier_extractor(context: EvalContext, plan: classifier.TrainingPlan) -> Extractor:
    trained = classifier.trained_classifier(context.dataset, context.cache_dir, plan, context.device)
    return Extractor("classifier", classifier.FIDELITY_NAME, trained.path, trained.weights_sha256, "features", "logits",
                     rgb=False, protocol=trained.protocol())


def inception_extractor(context: EvalContext, weights: str) -> Extractor:
    found = inception.locate(context.cache_dir, weights)
    logits = inception.LOGITS_LAYER if found.classifier_head else None
    return Extractor("inception", inception.FIDELITY_NAME, found.path, found.sha256, inception.FEATURE_LAYER, logits,
                     rgb=True, protocol=found.protocol())


def resolve_extractor(context: EvalContext, extractor: str, weights: str = "", classifier_epochs: int = 15,
                      classifier_seed: int = 0) -> Extractor:
    if extractor == "classifier":
        return classifier_extractor(context, classifier.TrainingPlan(epochs=classifier_epochs, seed=classifier_seed))
    if extractor == "inception":
        return inception_extractor(context, weights)
    raise ValueError(f"unknown feature extractor {extractor!r}; choose one of {', '.join(EXTRACTORS)}")


_modules: dict[tuple[str, str], torch.nn.Module] = {}


def fidelity_module(extractor: Extractor, device: str) -> torch.nn.Module:
    """torch-fidelity's extractor module, built once per weights file and device."""
    key = (extractor.identity, device)
    if key not in _modules:
        try:
            _modules[key] = create_feature_extractor(
                extractor.fidelity_name, extractor.layers, cuda=device.startswith("cuda"), verbose=False,
                feature_extractor_weights_path=str(extractor.weights))
        except (RuntimeError, KeyError, ValueError) as error:
            raise ValueError(f"{extractor.weights} does not load as {extractor.fidelity_name} weights: {error}") from error
    return _modules[key]


# ---- feature passes ------------------------------------------------------------------------------


def extract(images: torch.Tensor, extractor: Extractor, device: str, batch_size: int) -> dict[str, torch.Tensor]:
    """All of ``extractor``'s layers for uint8 ``images``, in one pass of torch-fidelity's loop."""
    module = fidelity_module(extractor, device)
    return get_featuresdict_from_dataset(UInt8Images(images), module, batch_size, cuda=device.startswith("cuda"),
                                         save_cpu_ram=True, verbose=False)  # save_cpu_ram: no loader workers


_memory: OrderedDict[str, FeatureSet] = OrderedDict()


def _remember(key: str, found: FeatureSet) -> FeatureSet:
    _memory[key] = found
    _memory.move_to_end(key)
    while len(_memory) > MEMORY_ENTRIES:
        _memory.popitem(last=False)
    return found


def forget() -> None:
    """Drop the feature sets and extractor modules held in memory (benchmarks time cold passes)."""
    _memory.clear()
    _modules.clear()


def generated_features(images: torch.Tensor, sha256: str, extractor: Extractor, device: str,
                       batch_size: int) -> FeatureSet:
    key = f"{extractor.identity}:{sha256}"
    if key in _memory:
        return FeatureSet(_memory[key].features, sha256, "memory")
    return _remember(key, FeatureSet(extract(images, extractor, device, batch_size), sha256, "computed"))


def reference_features(images: torch.Tensor, sha256: str, extractor: Extractor, device: str, batch_size: int,
                       cache_dir: Path) -> FeatureSet:
    """Features and FID statistics of a reference set: memory, else disk, else one pass (then stored)."""
    key = hashlib.sha256(f"{CACHE_FORMAT}:{extractor.identity}:{sha256}".encode()).hexdigest()
    if key in _memory:
        found = _memory[key]
        return FeatureSet(found.features, sha256, "memory", found.statistics)
    path = Path(cache_dir) / "features" / f"{key[:40]}.pt"
    if path.is_file():
        return _remember(key, _read_reference(path, sha256))
    features = extract(images, extractor, device, batch_size)
    found = FeatureSet(features, sha256, "computed", feature_statistics(features[extractor.feature_layer]))
    _write_reference(path, found, extractor)
    return _remember(key, found)


def _write_reference(path: Path, found: FeatureSet, extractor: Extractor) -> None:
    payload = {"features": found.features, "images_sha256": found.sha256, "extractor": extractor.identity,
               "mu": torch.from_numpy(np.asarray(found.statistics["mu"])),
               "sigma": torch.from_numpy(np.asarray(found.statistics["sigma"]))}
    classifier.save_atomically(payload, path)


def _read_reference(path: Path, sha256: str) -> FeatureSet:
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        statistics = {"mu": payload["mu"].numpy(), "sigma": payload["sigma"].numpy()}
        stored = payload["images_sha256"]
    except Exception as error:
        raise ValueError(f"cached reference features {path} are damaged ({type(error).__name__}: {error}); "
                         "delete the file to recompute them") from error
    if stored != sha256:
        raise ValueError(f"cached reference features {path} belong to other images; delete the file")
    return FeatureSet(payload["features"], sha256, "disk cache", statistics)


# ---- the comparison every feature metric starts from ----------------------------------------------


def compare(context: EvalContext, extractor: str = "classifier", split: str = "test", batch_size: int = 64,
            weights: str = "", classifier_epochs: int = 15, classifier_seed: int = 0,
            needs_logits: bool = False) -> Comparison:
    """Features of the cell's samples and of ``split`` under the named extractor, with the protocol.
    Everything that makes a metric n/a or an error is checked before the first feature pass."""
    data = context.dataset
    require_images(data.shape, data.name)
    samples = checked_samples(context.samples, data.shape)
    chosen = resolve_extractor(context, extractor, weights, classifier_epochs, classifier_seed)
    if needs_logits and chosen.logits_layer is None:
        raise no_logits(chosen)
    generated = generated_features(*converted(samples, chosen.rgb), chosen, context.device, batch_size)
    reference = reference_features(*converted(getattr(data, split), chosen.rgb), chosen, context.device, batch_size,
                                   context.cache_dir)
    protocol = {
        "extractor": chosen.name, "feature_extractor": chosen.fidelity_name, **chosen.protocol,
        "feature_layer": chosen.feature_layer, "feature_dim": int(generated.features[chosen.feature_layer].shape[1]),
        "n_generated": len(generated), "n_reference": len(reference), "reference_split": split,
        "reference_sha256": reference.sha256[:16], "reference_features": reference.source,
        "image_conversion": RGB_CONVERSION if chosen.rgb else CONVERSION,
        "clamped_fraction": clamped_fraction(samples), "torch_fidelity": torch_fidelity.__version__,
    }
    return Comparison(chosen, generated, reference, protocol)


def no_logits(extractor: Extractor) -> NotApplicable:
    """Why a metric that needs class probabilities cannot use this extractor."""
    return NotApplicable(f"the {extractor.name} weights ({extractor.protocol.get('weights_source')}) "
                         "have no classifier head, so the Inception Score would be exactly 1.0. Set up the full "
                         "original weights (python -m benchbench_plugins.metrics.features.inception_setup --weights "
                         "PATH, e.g. torch-fidelity's weights-inception-2015-12-05-6726825d.pth) or pass them as the "
                         "metric's `weights`")
