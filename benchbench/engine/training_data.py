"""Where the training split lives while a model trains: whole on the device, or streamed to it.

Small datasets (every built-in one on a CPU, MNIST and CIFAR-10 on a GPU) are placed on the device
as one tensor and batches are gathered there: no copies, no workers, the fastest path. A training
split too large for the device, or one memory-mapped from a local folder, is streamed instead: a
``torch.utils.data.DataLoader`` gathers each batch's rows on the host (in worker processes, when
asked) into pinned memory and copies them to the device while the previous step runs.

Both paths take the batch order from the loop's own state (:meth:`~.training._State.epoch_position`,
one seeded permutation per epoch), so a streamed fit trains on exactly the batches a whole-tensor
fit trains on, step for step, and resumes from a checkpoint the same way. Only the rows move
through the loader; the random per-batch transforms (dynamic binarisation, dequantisation) stay in
the loop, drawn from the loop's generator in the same order on both paths.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from .suite import PLACEMENTS

DEVICE_SHARE = 0.25  # "auto" streams a split larger than this share of the device's free memory


def on_disk(array: np.ndarray) -> bool:
    """Whether ``array`` is (a view of) a memory-mapped file, whose rows are read only when touched."""
    while array is not None:
        if isinstance(array, np.memmap):
            return True
        array = array.base if isinstance(array.base, np.ndarray) else None
    return False


def choose_placement(train: np.ndarray, device: str, placement: str) -> str:
    """``device`` or ``stream`` for ``placement`` ``auto``: stream a memory-mapped split (placing it
    whole would read all of it into memory first) or one that would take more than a quarter of a
    GPU's free memory, which the model, its optimiser state and activations need."""
    if placement not in PLACEMENTS:
        raise ValueError(f"placement must be one of {PLACEMENTS}, got {placement!r}")
    if placement != "auto":
        return placement
    if on_disk(train):
        return "stream"
    if device.startswith("cuda"):
        free, _ = torch.cuda.mem_get_info(torch.device(device))
        return "stream" if train.nbytes > DEVICE_SHARE * free else "device"
    return "device"


class WholeTensor:
    """The training split as one tensor on the device (and its labels); batches are gathered there."""

    placement = "device"

    def __init__(self, x: torch.Tensor, y: torch.Tensor | None = None):
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def take(self, order: torch.Tensor, position: int, batch_size: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The batch at ``position`` of the epoch's ``order``, and its labels."""
        indices = order[position * batch_size:(position + 1) * batch_size]
        return self.x[indices.to(self.x.device)], None if self.y is None else self.y[indices.to(self.y.device)]


class _Rows(torch.utils.data.Dataset):
    """One item per batch: the rows (and labels) a list of indices names, read from host arrays."""

    def __init__(self, train: np.ndarray, labels: np.ndarray | None):
        self.train, self.labels = train, labels

    def __len__(self) -> int:
        return len(self.train)

    def __getitem__(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        rows = indices.numpy()
        x = torch.from_numpy(np.ascontiguousarray(self.train[rows]))
        y = torch.from_numpy(np.asarray(self.labels[rows], dtype=np.int64)) if self.labels is not None else torch.empty(0)
        return x, y


class Streamed:
    """The training split on the host, its batches streamed to ``device`` through a DataLoader.

    ``workers`` processes gather rows (0: the loop's process does it); pinned memory and
    non-blocking copies are used when the device is a GPU.
    """

    def __init__(self, train: np.ndarray, labels: np.ndarray | None, device: str, workers: int = 0):
        self.device, self.has_labels = torch.device(device), labels is not None
        self.placement = f"streamed, {workers} loader workers"
        self.sampler: list[torch.Tensor] = []  # the rest of the epoch's index lists, iterated in this process
        pin = self.device.type == "cuda"
        self.loader = torch.utils.data.DataLoader(
            _Rows(train, labels), batch_size=None, sampler=self.sampler, num_workers=workers, pin_memory=pin,
            persistent_workers=workers > 0)
        self._order: torch.Tensor | None = None
        self._batches: Any = None

    def __len__(self) -> int:
        return len(self.loader.dataset)

    def take(self, order: torch.Tensor, position: int, batch_size: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The batch at ``position`` of the epoch's ``order``, and its labels, on the device."""
        if order is not self._order:  # a new epoch's order, or the first step of a (resumed) fit
            self._start_epoch(order, position, batch_size)
        x, y = next(self._batches)
        x = x.to(self.device, non_blocking=True)
        return x, y.to(self.device, non_blocking=True) if self.has_labels else None

    def _start_epoch(self, order: torch.Tensor, position: int, batch_size: int) -> None:
        steps = math.ceil(len(order) / batch_size)
        self.sampler[:] = [order[i * batch_size:(i + 1) * batch_size] for i in range(position, steps)]
        self._order, self._batches = order, iter(self.loader)


def training_data(train: np.ndarray, labels: np.ndarray | None, device: str, placement: str,
                  workers: int) -> WholeTensor | Streamed:
    """The training split for :func:`~.training.fit`, placed as ``placement`` (see :data:`PLACEMENTS`) says."""
    if choose_placement(train, device, placement) == "stream":
        return Streamed(train, labels, device, workers)
    x = torch.as_tensor(train if train.flags.writeable else np.array(train), device=device)  # a mapped file, read whole
    return WholeTensor(x, None if labels is None else torch.as_tensor(labels, device=device))
