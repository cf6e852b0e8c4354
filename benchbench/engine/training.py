"""The one training loop every model family goes through.

It owns batching, the budget (steps, epochs or seconds), the progress bar, the divergence guard
(every few steps, without a device sync per step: :mod:`.loss_window`), checkpoints, timing and the
training curve (:mod:`.curves`); the model owns only ``train_step``. A checkpoint holds the model, its
optimisers, the step, the RNG states and the epoch's batch order, so a resumed fit continues
exactly where an interrupted one stopped.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ..api.model import Model
from ..errors import CapabilityError, CellTimeout, Diverged, ModelDiverged
from .curves import LossCurve
from .loss_window import LossWindow
from .suite import Budget
from .training_data import Streamed, WholeTensor


@dataclass
class FitReport:
    steps: int
    seconds: float
    losses: dict[str, float]
    resumed_from: int = 0
    curve: dict = field(default_factory=dict)  # LossCurve.result(): steps, windowed mean losses, window


@dataclass
class FitPlan:
    """How one fit runs: what the budget means in steps, and where checkpoints go."""

    budget: Budget
    batch_size: int
    checkpoint: Path | None = None
    checkpoint_every: int = 500
    deadline: float = math.inf
    progress: bool = True
    transform: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None
    where: str = "model"  # how contract errors name the model and its plugin
    autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext  # each train_step runs in it

    def total_steps(self, n: int) -> int | None:
        """Steps the budget allows, or None for a budget in seconds."""
        if self.budget.unit == "steps":
            return int(self.budget.amount)
        if self.budget.unit == "epochs":
            return int(self.budget.amount) * math.ceil(n / self.batch_size)
        return None


class _State:
    """Where the loop is: step, elapsed seconds, and the current epoch's batch order."""

    def __init__(self, n: int, generator: torch.Generator):
        self.step, self.elapsed, self.n, self.generator = 0, 0.0, n, generator
        self.order = torch.empty(0, dtype=torch.long)
        self.curve = LossCurve()

    def epoch_position(self, batch_size: int) -> int:
        """This step's batch position in its epoch; each epoch's start draws a new seeded order."""
        steps_per_epoch = math.ceil(self.n / batch_size)
        position = self.step % steps_per_epoch
        if position == 0 or len(self.order) != self.n:
            self.order = torch.randperm(self.n, generator=self.generator)
        return position


def fit(model: Model, x: torch.Tensor | WholeTensor | Streamed, y: torch.Tensor | None, plan: FitPlan,
        seed: int) -> FitReport:
    """Train ``model`` until the budget is spent (see :class:`FitPlan`) on ``x`` with labels ``y``,
    tensors on the device, or on a placed training split (:mod:`.training_data`), which carries its labels."""
    data = x if isinstance(x, (WholeTensor, Streamed)) else WholeTensor(x, y)
    generator = torch.Generator().manual_seed(seed)
    state = _State(len(data), generator)
    resumed = _restore(model, state, plan.checkpoint)
    total = plan.total_steps(len(data))
    losses: dict[str, float] = {}
    bar = tqdm(total=total if total is not None else plan.budget.amount, initial=state.step if total else 0,
               disable=not plan.progress, leave=False, unit="step" if total else "s", dynamic_ncols=True)
    start = time.perf_counter() - state.elapsed
    window = LossWindow(plan.where)
    try:
        while not _spent(plan, state, total):
            if time.monotonic() > plan.deadline:
                raise CellTimeout(f"time limit reached during training, at step {state.step}")
            position = state.epoch_position(plan.batch_size)  # first: an epoch's start draws its order
            batch, labels = data.take(state.order, position, plan.batch_size)
            if plan.transform is not None:
                batch = plan.transform(batch, generator)
            try:
                with plan.autocast():
                    step_losses = model.train_step(batch, labels)
                window.add(state.step + 1, step_losses)
            except ModelDiverged as error:
                raise Diverged(state.step + 1, {}, str(error)) from None
            state.step += 1
            state.elapsed = time.perf_counter() - start
            _advance(bar, state, total)
            checkpoint_due = plan.checkpoint is not None and state.step % plan.checkpoint_every == 0
            if window.due or checkpoint_due:  # never checkpoint a step that diverged
                losses = _look(window, state, bar) or losses
            if checkpoint_due:
                save_checkpoint(model, state, plan.checkpoint, done=False)
        losses = _look(window, state, bar) or losses
    finally:
        bar.close()
    if state.step > resumed or not resumed:  # a finished checkpoint keeps the time its training took
        state.elapsed = time.perf_counter() - start
    if plan.checkpoint is not None:
        save_checkpoint(model, state, plan.checkpoint, done=True)
    return FitReport(state.step, state.elapsed, losses, resumed, state.curve.result(state.step))


def _spent(plan: FitPlan, state: _State, total: int | None) -> bool:
    if total is not None:
        return state.step >= total
    return state.elapsed >= plan.budget.amount


def _advance(bar: tqdm, state: _State, total: int | None) -> None:
    if not bar.disable:
        bar.update(1 if total is not None else state.elapsed - bar.n)


def _look(window: LossWindow, state: _State, bar: tqdm) -> dict[str, float]:
    """Read the window's losses (``Diverged`` at the first non-finite step) into the curve and the
    progress bar; the last step's losses, or {} when no step was pending."""
    steps = window.flush()
    for step, losses in steps:
        state.curve.add(step, losses)
    if steps and not bar.disable:
        bar.set_postfix({k: f"{v:.4g}" for k, v in steps[-1][1].items()}, refresh=False)
    return steps[-1][1] if steps else {}


def save_checkpoint(model: Model, state: _State, path: Path, done: bool) -> None:
    """Write atomically (temporary file, fsync, rename): a reader never sees half a checkpoint."""
    payload = {
        "model": model.state_dict(),
        "optimizers": [opt.state_dict() for opt in model.optimizers()],
        "step": state.step,
        "elapsed": state.elapsed,
        "done": done,
        "order": state.order,
        "curve": state.curve.state_dict(),
        "generator": state.generator.get_state(),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as handle:
        torch.save(payload, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def load_checkpoint(path: Path) -> dict | None:
    """A checkpoint written by :func:`save_checkpoint`, loaded without executing pickled code."""
    if not path.is_file():
        return None
    return torch.load(path, map_location="cpu", weights_only=True)


def _restore(model: Model, state: _State, path: Path | None) -> int:
    payload = load_checkpoint(path) if path is not None else None
    if payload is None:
        return 0
    try:
        model.load_state_dict(payload["model"])
    except RuntimeError as error:
        raise CapabilityError(f"checkpoint {path} does not fit {type(model).__name__} as configured: {error}") from None
    for opt, opt_state in zip(model.optimizers(), payload["optimizers"]):
        opt.load_state_dict(opt_state)
    state.step, state.elapsed, state.order = payload["step"], payload["elapsed"], payload["order"]
    if "curve" in payload:  # checkpoints written before curves were kept start a new one
        state.curve.load_state_dict(payload["curve"])
    state.generator.set_state(payload["generator"])
    torch.set_rng_state(payload["torch_rng"])
    if payload["cuda_rng"]:
        torch.cuda.set_rng_state_all(payload["cuda_rng"])
    return state.step
