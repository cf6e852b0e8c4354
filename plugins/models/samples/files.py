"""Reading samples made elsewhere, as stored, with the SHA-256 of every byte read.

What the path is decides the format:

* a folder: every entry is a PNG or JPEG image (anything else, a hidden file or a subfolder
  included, is an error naming it), read with Pillow in the natural order of the names (``2.png``
  before ``10.png``), all of one size, one channel count and one pixel depth (8 or 16 bits):
  ``(N, H, W, C)``. The hash covers each file's name and bytes, in that order.
* ``.npy``: one array, read without pickles.
* ``.npz``: named arrays; ``key`` picks the samples, ``labels_key`` the labels.
* ``.pt`` / ``.pth``: a tensor, or a dict of tensors, read with ``weights_only=True``.

Each file is read into memory once and hashed and parsed from those bytes, so the hash is of
exactly what was parsed. Nothing is converted here: :mod:`.model` checks shape, range and kind
against the dataset. Every failure is a :class:`benchbench.CapabilityError` naming the file.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchbench import CapabilityError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
IMAGE_FORMATS = ("PNG", "JPEG", "MPO")  # MPO: a JPEG with a second frame, as some cameras write
CONVERTED_MODES = {"1": "L", "P": "RGB", "CMYK": "RGB", "YCbCr": "RGB"}  # read as these
EIGHT_BIT_MODES = ("L", "LA", "RGB", "RGBA")
SIXTEEN_BIT_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N")  # grey; Pillow's names for 16-bit PNGs
FORMATS = {".npy": "npy", ".npz": "npz", ".pt": "pt", ".pth": "pt"}
WHAT_WE_READ = "a folder of PNG / JPEG images, a .npy / .npz array or a .pt tensor file"


@dataclass(frozen=True)
class Stored:
    """What a samples file holds, as stored."""

    array: np.ndarray  # (N, ...) numbers, as stored
    format: str  # "image folder", "npy", "npz" or "pt"
    sha256: str  # of every byte read
    labels: np.ndarray | None = None  # the array under labels_key in the same file, if asked for
    pixel_depth: int | None = None  # image files: the largest pixel value, 255 or 65535
    layout: str | None = None  # fixed by the format (image files: NHWC), else the layout parameter says


def read_samples(path: Path, key: str = "", labels_key: str = "") -> Stored:
    """The samples at ``path`` (and the labels under ``labels_key`` of the same file, if given)."""
    if path.is_dir():
        if labels_key:
            raise CapabilityError(f"{path}: labels_key names an array in a .npz / .pt file; give an image "
                                  "folder's labels as a file (labels = ...)")
        return read_image_folder(path)
    raw = read_bytes(path)
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        raise CapabilityError(f"{path}: a single image; give the folder that holds the samples' images")
    named = parse_arrays(raw, path)
    return Stored(pick(named, key, labels_key, path), FORMATS[suffix], sha256(raw),
                  pick(named, labels_key, "", path) if labels_key else None)


def read_labels(path: Path, key: str = "") -> tuple[np.ndarray, str]:
    """The array of a labels file (``key`` in a .npz / dict .pt), and the SHA-256 of the file."""
    raw = read_bytes(path)
    return pick(parse_arrays(raw, path), key, "", path), sha256(raw)


def sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise CapabilityError(f"{path}: no such file or folder; expected {WHAT_WE_READ}")
    if path.is_dir() or path.suffix.lower() not in (*IMAGE_SUFFIXES, *FORMATS):
        raise CapabilityError(f"{path}: not an image folder or an array file; expected {WHAT_WE_READ}")
    return path.read_bytes()


# ---- arrays: .npy, .npz, .pt -----------------------------------------------------------------------


def parse_arrays(raw: bytes, path: Path) -> dict[str, np.ndarray]:
    """Every array in the file by name; a .npy file or a bare tensor is the one array ``""``."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise CapabilityError(f"{path}: expected a .npy, .npz or .pt file")
    try:
        if suffix == ".npy":
            named = {"": np.load(io.BytesIO(raw), allow_pickle=False)}
        elif suffix == ".npz":
            with np.load(io.BytesIO(raw), allow_pickle=False) as archive:
                named = {name: archive[name] for name in archive.files}
        else:
            named = tensors_as_arrays(load_tensors(raw), path)
    except CapabilityError:
        raise
    except Exception as error:  # numpy's and torch's many ways of saying "not this format"
        raise CapabilityError(f"{path}: not a readable {suffix} file ({type(error).__name__}: {error})") from None
    for name, array in named.items():
        if not isinstance(array, np.ndarray) or array.dtype.kind not in "biuf":
            what = f"array {name!r}" if name else "the array"
            raise CapabilityError(f"{path}: {what} holds {getattr(array, 'dtype', type(array).__name__)} values, "
                                  "expected numbers")
    return named


def load_tensors(raw: bytes) -> Any:
    import torch

    return torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)


def tensors_as_arrays(loaded: Any, path: Path) -> dict[str, np.ndarray]:
    import torch

    if isinstance(loaded, torch.Tensor):
        loaded = {"": loaded}
    if not isinstance(loaded, dict) or not loaded:
        raise CapabilityError(f"{path}: holds {type(loaded).__name__}, expected a tensor or a dict of tensors")
    named = {}
    for name, tensor in loaded.items():
        if not isinstance(tensor, torch.Tensor):
            raise CapabilityError(f"{path}: entry {name!r} is {type(tensor).__name__}, expected a tensor")
        tensor = tensor.detach()  # float16 / bfloat16 have no numpy dtype: float64 holds them exactly
        named[str(name)] = (tensor.double() if tensor.is_floating_point() else tensor).numpy()
    return named


def pick(named: dict[str, np.ndarray], key: str, other: str, path: Path) -> np.ndarray:
    """The array ``key``; without a key the only one, or the first that is not ``other``."""
    if key:
        if key not in named:
            held = ", ".join(repr(n) for n in named if n) or "one unnamed array"
            raise CapabilityError(f"{path}: no array {key!r}; it holds {held}")
        return named[key]
    candidates = [name for name in named if not other or name != other]
    if not candidates:
        raise CapabilityError(f"{path}: holds only {other!r}, the labels; no array of samples")
    return named[candidates[0]]


# ---- image folders ---------------------------------------------------------------------------------


def natural_key(name: str) -> list[Any]:
    """``img2.png`` before ``img10.png``: digit runs compare as numbers."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def read_image_folder(folder: Path) -> Stored:
    """Every image of ``folder`` as ``(N, H, W, C)`` uint8 or uint16, of one size, channel count and depth."""
    entries = sorted(folder.iterdir(), key=lambda p: natural_key(p.name))
    for entry in entries:
        if entry.is_dir() or entry.suffix.lower() not in IMAGE_SUFFIXES:
            raise CapabilityError(f"{entry}: not a PNG or JPEG image; the samples folder {folder} must hold "
                                  "only the samples' images")
    if not entries:
        raise CapabilityError(f"{folder}: holds no images; expected {WHAT_WE_READ}")
    digest, images, first = hashlib.sha256(), [], None
    for entry in entries:
        raw = entry.read_bytes()
        digest.update(entry.name.encode() + b"\0" + hashlib.sha256(raw).digest())
        pixels, depth = decode_image(raw, entry)
        if first is None:
            first = (entry, pixels.shape, depth)
        else:
            check_alike(first, entry, pixels.shape, depth, folder)
        images.append(pixels)
    return Stored(np.stack(images), "image folder", digest.hexdigest(), pixel_depth=first[2], layout="NHWC")


def decode_image(raw: bytes, path: Path) -> tuple[np.ndarray, int]:
    """``(H, W, C)`` pixels of one image file and their depth (the largest value: 255 or 65535)."""
    from PIL import Image

    try:
        image = Image.open(io.BytesIO(raw))
        image.load()
    except Exception as error:  # Pillow raises UnidentifiedImageError, OSError, SyntaxError, ...
        raise CapabilityError(f"{path}: not a readable PNG or JPEG image ({type(error).__name__}: {error})") from None
    if image.format not in IMAGE_FORMATS:
        raise CapabilityError(f"{path}: a {image.format} image; expected PNG or JPEG")
    image = image.convert(CONVERTED_MODES[image.mode]) if image.mode in CONVERTED_MODES else image
    if image.mode in EIGHT_BIT_MODES:
        pixels, depth = np.asarray(image), 255
    elif image.mode in SIXTEEN_BIT_MODES:
        pixels, depth = np.asarray(image).astype(np.int64), 65535
        if pixels.min() < 0 or pixels.max() > depth:
            raise CapabilityError(f"{path}: pixel values outside 0..65535 in mode {image.mode}")
    else:
        raise CapabilityError(f"{path}: pixel mode {image.mode} is not read; save grey, RGB or RGBA images")
    return (pixels[:, :, None] if pixels.ndim == 2 else pixels), depth


def check_alike(first: tuple[Path, tuple[int, ...], int], path: Path, shape: tuple[int, ...], depth: int,
                folder: Path) -> None:
    """Every image of a folder like the first: size, channel count, depth."""
    first_path, (h, w, c), first_depth = first
    if shape[:2] != (h, w):
        raise CapabilityError(f"{folder}: mixed image sizes: {first_path.name} is {w}x{h} pixels, "
                              f"{path.name} is {shape[1]}x{shape[0]}")
    if shape[2] != c:
        raise CapabilityError(f"{folder}: mixed channel counts: {first_path.name} has {c}, {path.name} has {shape[2]}")
    if depth != first_depth:
        raise CapabilityError(f"{folder}: mixed pixel depths: {first_path.name} is {first_depth.bit_length()}-bit, "
                              f"{path.name} is {depth.bit_length()}-bit")
