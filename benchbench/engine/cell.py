"""One cell: seed → data → model → fit → sample once → every metric → records.

A plain function of its :class:`CellJob` returning plain JSON-able records; it catches its own
exceptions into ``failed``, ``diverged`` or ``timeout`` records, so any executor can run it and
only the driver writes the results store.

Samples are drawn once and shared by every metric. A ``conditional`` model on labelled data is
given class-balanced labels (:func:`labels_to_sample`), saved beside the samples and handed to the
metrics; how the samples were drawn (the model's ``sampling_protocol()``) goes into the protocol of
every number computed from them.
"""

from __future__ import annotations

import contextlib
import functools
import math
import signal
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .. import __version__
from ..api.contract import checked_samples, checked_values, describe
from ..api.dataset import Dataset
from ..api.metric import EvalContext, MetricValue
from ..api.model import Model
from ..api.specs import DatasetSpec, MetricSpec, Requirements, ValueSpec
from ..errors import CellTimeout, ContractError, Diverged, NotApplicable
from ..nn import dequantize
from ..plugin.registry import Provided
from .density_grid import density_grid, save_density_grid
from . import sweeps
from .latent_traversals import latent_traversals, save_latent_traversals
from .precision import autocast, compile_networks, protocol_of
from .environment import seed_everything
from .memory import peak_mb, reset_peak
from .suite import Cell, MetricEntry
from .training import FitPlan, fit
from .training_data import training_data

COST_METRICS = {
    "fit_seconds": ValueSpec("fit_seconds", "lower", "s", headline=True),
    "train_steps_per_second": ValueSpec("train_steps_per_second", "higher", "steps/s"),
    "samples_per_second": ValueSpec("samples_per_second", "higher", "samples/s", headline=True),
    "peak_memory_mb": ValueSpec("peak_memory_mb", "lower", "MiB"),
}


@dataclass
class CellJob:
    """Everything one cell needs, resolved by the driver; picklable for remote executors."""

    run_id: str
    cell: Cell
    model: Provided  # the model spec and the plugin that provides it
    dataset_spec: DatasetSpec
    metrics: list[tuple[MetricEntry, Provided]]
    device: str
    samples: int
    time_limit: float
    checkpoint_every: int
    run_dir: Path
    cache_dir: Path
    progress: bool = True
    deterministic: bool = False  # torch's deterministic algorithms were on; part of every value's protocol
    reuses_training_of: str = ""  # a sweep point's cell that trained this model: its final checkpoint is loaded
    executor: str = "local"  # where it ran, in every record: the executor's name and
    node: str = ""           # the node the executor placed it on (set there, before run_cell)

    @property
    def dataset_key(self) -> str:
        """Identifies a loaded dataset, so cells sharing one load it once."""
        return f"{self.cell.dataset.name}:{sorted(self.cell.dataset.params.items())}"


def load_dataset(spec: DatasetSpec, params: dict[str, Any]) -> Dataset:
    return spec.resolve()(**params)


def build_model(provided: Provided, dataset: Dataset, variant: str, params: dict[str, Any]) -> Model:
    """Build through the plugin's factory; it raises CapabilityError for data it cannot model."""
    model = provided.spec.resolve()(dataset, variant=variant, **params)
    if not isinstance(model, Model):
        raise ContractError(f"model {provided.spec.name!r} from {provided}: factory returned {type(model).__name__}, "
                            "expected a benchbench.Model")
    return model


def model_where(provided: Provided) -> str:
    """How contract errors name a model: its spec and the plugin and distribution providing it."""
    return f"model {provided.spec.name!r} from {provided}"


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[float]:
    """Yield a monotonic deadline; on the main thread a timer also interrupts code past it."""
    deadline = time.monotonic() + seconds
    use_alarm = threading.current_thread() is threading.main_thread() and math.isfinite(seconds)
    if use_alarm:
        def _raise(signum: int, frame: Any) -> None:
            raise CellTimeout(f"cell ran past its time limit of {seconds:g} s")
        previous = signal.signal(signal.SIGALRM, _raise)
        signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield deadline
    finally:
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


def run_cell(job: CellJob, dataset: Dataset | None = None) -> list[dict[str, Any]]:
    """Run one cell; always returns records, the cell's summary record last."""
    t0 = time.perf_counter()
    summary: dict[str, Any] = {"status": "ok", "error": None}
    records: list[dict[str, Any]] = []
    timings: dict[str, float] = {}
    try:
        with time_limit(job.time_limit) as deadline:
            _run(job, dataset, deadline, records, timings, summary)
    except Diverged as error:
        summary.update(status="diverged", error=str(error), diverged_step=error.step)
    except CellTimeout as error:
        summary.update(status="timeout", error=str(error))
    except Exception as error:  # the cell is recorded as failed and the run goes on
        summary.update(status="failed", error=f"{type(error).__name__}: {error}", traceback=traceback.format_exc())
    timings["wall_seconds"] = time.perf_counter() - t0
    if summary["status"] == "ok" and any(r.get("status") == "failed" for r in records):
        summary.update(status="failed", error="; ".join(r["error"] for r in records if r.get("status") == "failed"))
    return [_stamp(job, r) for r in records] + [_stamp(job, {"kind": "cell", **summary, **timings})]


def _run(job: CellJob, dataset: Dataset | None, deadline: float, records: list, timings: dict, summary: dict) -> None:
    cell = job.cell
    seed_everything(cell.seed)
    dataset = dataset or load_dataset(job.dataset_spec, cell.dataset.params)
    model = build_model(job.model, dataset, cell.model.variant, cell.model.params).to(job.device)
    compiled = compile_networks(model, cell.model.compile)
    if compiled:
        summary["compiled"] = compiled
    in_precision = functools.partial(autocast, cell.model.precision, job.device)
    memory_method = reset_peak(job.device)
    train = training_data(dataset.train, dataset.train_labels, job.device, cell.dataset.placement, cell.dataset.loader_workers)
    plan = FitPlan(cell.model.budget, cell.model.batch_size, _checkpoint_path(job), job.checkpoint_every,
                   deadline, job.progress, training_transform(model, dataset), where=model_where(job.model),
                   autocast=in_precision)
    report = fit(model, train, None, plan, seed=cell.seed)
    summary.update(steps=report.steps, final_losses=report.losses, resumed_from_step=report.resumed_from)
    if job.reuses_training_of:
        summary["training_reused_from"] = job.reuses_training_of
    records.append({"kind": "curve", **report.curve})
    timings["fit_seconds"] = report.seconds
    model.eval()
    labels = labels_to_sample(model, dataset, job.samples, cell.seed, job.device)
    with in_precision():
        samples = _sample(job, model, labels, dataset.shape, timings)  # always: sampling throughput is a result in itself
    sampling = _sampling_protocol(job, model, labels)
    grid = density_grid(model, dataset, job.device, cell.model.batch_size)
    if grid is not None:
        save_density_grid(grid, job.run_dir / "samples" / _safe(cell.cell_id))
    traversals = latent_traversals(model, dataset, job.device, cell.model.batch_size)
    if traversals is not None:
        save_latent_traversals(traversals, job.run_dir / "samples" / _safe(cell.cell_id))
    records += _cost_records(report, timings, job.device, job.samples, memory_method, sampling, job.reuses_training_of,
                             train.placement)
    records += _sampling_records(job, model, sampling)
    context = EvalContext(model, dataset, samples, job.device, cell.seed, job.cache_dir, batch_size=cell.model.batch_size,
                          sample_labels=labels)
    started = time.perf_counter()
    for entry, provided in job.metrics:
        records += _evaluate(entry, provided, context, sampling)
    timings["metric_seconds"] = time.perf_counter() - started


def training_transform(model: Model, dataset: Dataset) -> Any:
    """What the host does to each training batch: a new binarisation for dynamically binarised
    data, then dequantisation for a continuous density, as the likelihood metrics evaluate it."""
    binarize, levels = dataset.dynamic_binarization, dataset.levels if model.density == "continuous" else None
    if not binarize and not levels:
        return None

    def transform(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if binarize:
            batch = (torch.rand(batch.shape, generator=generator).to(batch.device) < batch).to(batch.dtype)
        return dequantize(batch, levels, generator) if levels else batch
    return transform


def _checkpoint_path(job: CellJob) -> Path:
    """The cell's own, or for sweep points sharing a training, the training's: the first point
    writes it, the others find it finished and only sample and score."""
    if job.cell.shares_training:
        return job.run_dir / "checkpoints" / f"training-{job.cell.training_key}.pt"
    return job.run_dir / "checkpoints" / f"{_safe(job.cell.cell_id)}.pt"


def _safe(cell_id: str) -> str:
    return cell_id.replace("/", "__")


def balanced_labels(n: int, num_classes: int, seed: int) -> torch.Tensor:
    """``n`` int64 labels in blocks of ``num_classes`` that each hold every class once, in an order
    shuffled by ``seed``: every prefix (the first 64 in the image grid, say) is balanced to within one."""
    generator = torch.Generator().manual_seed(seed)
    blocks = torch.rand(-(-n // num_classes), num_classes, generator=generator).argsort(1)  # (ceil(n / C), C)
    return blocks.flatten()[:n]


def labels_to_sample(model: Model, dataset: Dataset, n: int, seed: int, device: str) -> torch.Tensor | None:
    """The labels a cell draws its ``n`` samples for: class-balanced, on ``device``, when the model
    declares ``conditional`` and the data has labels; else None, and the model is sampled unconditionally."""
    if not (model.supports("conditional") and dataset.has_labels and dataset.num_classes):
        return None
    return balanced_labels(n, dataset.num_classes, seed).to(device)


def draw_samples(model: Model, n: int, labels: torch.Tensor | None, where: str, shape: tuple[int, ...],
                 batch: int | None = None) -> torch.Tensor:
    """``sample(n, labels)`` for labels, else ``sample(n)``, under no_grad, checked against the
    contract; with ``batch``, in calls of at most ``batch`` samples (and their labels), each moved
    to the CPU at once, so the device holds one batch and ``n`` may exceed its memory."""
    if batch is None or batch >= n:
        with torch.no_grad():
            samples = model.sample(n) if labels is None else model.sample(n, labels)
        return checked_samples(samples, n, shape, where)
    parts = []
    for start in range(0, n, batch):
        size, part_labels = min(batch, n - start), None if labels is None else labels[start:start + batch]
        parts.append(draw_samples(model, size, part_labels, where, shape).cpu())
    return torch.cat(parts)


def _sample(job: CellJob, model: Model, labels: torch.Tensor | None, shape: tuple[int, ...], timings: dict) -> torch.Tensor:
    seed_everything(job.cell.seed + 1_000_003)
    start = time.perf_counter()
    samples = draw_samples(model, job.samples, labels, model_where(job.model), shape, job.cell.model.sample_batch_size)
    if samples.dtype in (torch.float16, torch.bfloat16):  # drawn under autocast; the metrics work in fp32
        samples = samples.float()
    _synchronize(job.device)
    timings["sample_seconds"] = time.perf_counter() - start
    _save_samples(samples, labels, job.run_dir / "samples" / _safe(job.cell.cell_id))
    return samples


def _save_samples(samples: torch.Tensor, labels: torch.Tensor | None, stem: Path) -> None:
    """All samples as a tensor file, their labels beside them; for images also an 8 x 8 grid to look at."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    samples = samples.detach().cpu().to(torch.float32)
    torch.save(samples, stem.parent / f"{stem.name}.pt")
    if labels is not None:
        torch.save(labels.cpu(), stem.parent / f"{stem.name}.labels.pt")
    if samples.dim() == 4 and samples.shape[1] in (1, 3):
        image_grid(samples[:64]).save(stem.parent / f"{stem.name}.png")


def image_grid(images: torch.Tensor, columns: int = 8) -> Any:
    """``(N, C, H, W)`` floats in [0, 1] → one PIL image, ``columns`` wide, 1-pixel gaps."""
    from PIL import Image

    n, c, h, w = images.shape
    rows = math.ceil(n / columns)
    grid = torch.ones(c, rows * (h + 1) + 1, columns * (w + 1) + 1)
    for i, image in enumerate(images.clamp(0, 1)):
        top, left = 1 + (i // columns) * (h + 1), 1 + (i % columns) * (w + 1)
        grid[:, top:top + h, left:left + w] = image
    pixels = (grid * 255).round().to(torch.uint8).permute(1, 2, 0).squeeze(-1).numpy()
    return Image.fromarray(pixels)


def _sampling_protocol(job: CellJob, model: Model, labels: torch.Tensor | None) -> dict[str, Any]:
    """How the cell's samples were drawn: the model's ``sampling_protocol()``, and for which labels."""
    protocol = model.sampling_protocol()
    if not isinstance(protocol, dict) or not all(isinstance(k, str) for k in protocol):
        raise ContractError(f"{model_where(job.model)}: sampling_protocol() must return a dict with string keys, "
                            f"got {describe(protocol)}")
    if job.cell.model.precision != "fp32":
        protocol = {**protocol, "precision": job.cell.model.precision}
    batch = job.cell.model.sample_batch_size
    if batch is not None and batch < job.samples:  # another draw of the random stream: part of how they were drawn
        protocol = {**protocol, "sample_batch_size": batch}
    return protocol if labels is None else {**protocol, "labels": "class-balanced"}


def _evaluate(entry: MetricEntry, provided: Provided, context: EvalContext,
              sampling: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Run one metric into records; ``sampling`` (how the samples were drawn) goes into the protocol
    of each value of a metric that requires samples. The values of a swept metric entry end their
    names (and wide-table columns) in the point, ``nll_bits_per_dim[k=10]``, so two points of one
    metric are two rows."""
    records = _evaluated(entry, provided, context, sampling)
    if not entry.sweep:
        return records
    point = sweeps.label(entry.sweep)
    return [{**r, "metric": r["metric"] + point, "metric_sweep": entry.sweep,
             **({"column": r["column"] + point} if r.get("column") else {})} for r in records]


def _evaluated(entry: MetricEntry, provided: Provided, context: EvalContext,
               sampling: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    spec = provided.spec
    base = {"kind": "metric", "metric_spec": spec.name, "metric_plugin": provided.plugin, "metric_distribution": provided.origin,
            "metric_version": spec.version, "metric_params": entry.params}
    params = {**spec.defaults(), **entry.params}
    reason = unmet(spec.requires, context)
    if reason:
        return _not_applicable(base, spec, params, reason)
    seed_everything(context.seed + 2_000_003)
    start = time.perf_counter()
    try:
        values = checked_values(spec.resolve()(context, **entry.params), f"metric {spec.name!r} from {provided}")
    except NotApplicable as error:
        return _not_applicable(base, spec, params, str(error))
    except CellTimeout:
        raise
    except Exception as error:
        return [{**base, "metric": spec.name, "status": "failed", "error": f"{spec.name}: {type(error).__name__}: {error}",
                 "traceback": traceback.format_exc(), "value": None}]
    seconds = time.perf_counter() - start
    sampling = sampling if spec.requires.samples else None
    return [_declared_record(base, spec, params, v, seconds, sampling) for v in values]


def _not_applicable(base: dict[str, Any], spec: MetricSpec, params: dict[str, Any], reason: str) -> list[dict[str, Any]]:
    """An ``n/a`` under each name the metric declares (the spec's own name when it declares none), so
    a metric that does not apply is recorded under the names its values would have."""
    declared = [(v, v.concrete(params)) for v in spec.values]
    named = [(v, name) for v, name in declared if name is not None]
    if not named:
        return [{**base, "metric": spec.name, "status": "n/a", "error": reason, "value": None}]
    return [{**base, "metric": name, "status": "n/a", "error": reason, "value": None, "direction": v.direction,
             "unit": v.unit, **_layout(v, name, params)} for v, name in named]


def _declared_record(base: dict[str, Any], spec: MetricSpec, params: dict[str, Any], v: MetricValue, seconds: float,
                     sampling: dict[str, Any] | None) -> dict[str, Any]:
    """The value's record with its declaration's layout; a value its spec does not declare is that
    value's ``failed`` (a declaration names it, or an ``n/a`` would be recorded under another name)."""
    record = _value_record(base, v, seconds, sampling)
    if not spec.values:
        return record
    declared = spec.declared(v.name, params)
    if declared is None:
        names = ", ".join(repr(d.name) for d in spec.values)
        return {**record, "value": None, "status": "failed",
                "error": f"metric {spec.name!r} returned {v.name!r}, which its spec does not declare (declared: {names})"}
    return {**record, **_layout(declared, v.name, params)}


def _layout(declared: ValueSpec, name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Where the value ``name`` goes in the wide tables: its column, and whether it is shown by default."""
    layout = {"headline": declared.headline, "column": declared.column_name(name, params)}
    return {**layout, "reference": True} if declared.reference else layout


def _value_record(base: dict[str, Any], v: MetricValue, seconds: float,
                  sampling: dict[str, Any] | None = None) -> dict[str, Any]:
    finite = v.value is not None and math.isfinite(v.value)
    return {**base, "metric": v.name, "value": float(v.value) if finite else None, "direction": v.direction,
            "unit": v.unit, "exactness": v.exactness, "protocol": _with_sampling(v.protocol, sampling), "seconds": seconds,
            "status": "ok" if finite else "failed", "error": None if finite else f"{v.name} is not finite ({v.value})"}


def unmet(requires: Requirements, context: EvalContext) -> str:
    """Why a metric does not apply to this cell, or '' when it does."""
    model, dataset = context.model, context.dataset
    missing = sorted(c for c in requires.capabilities if not model.supports(c))
    if missing:
        return f"model {type(model).__name__} does not provide {', '.join(missing)}"
    if requires.any_capabilities and not any(model.supports(c) for c in requires.any_capabilities):
        return f"model {type(model).__name__} provides none of {', '.join(sorted(requires.any_capabilities))}"
    if requires.labels and not dataset.has_labels:
        return f"dataset {dataset.name!r} has no labels"
    if dataset.kind not in requires.data_kinds:
        return f"needs {' or '.join(sorted(requires.data_kinds))} data, {dataset.name!r} is {dataset.kind}"
    if requires.samples and context.samples is None:
        return "the cell drew no samples"
    if requires.samples and len(context.samples) < requires.min_samples:
        return f"needs at least {requires.min_samples} samples, the suite draws {len(context.samples)}"
    return ""


def _with_sampling(protocol: dict[str, Any], sampling: dict[str, Any] | None) -> dict[str, Any]:
    """``protocol`` with how the samples were drawn under ``"sampling"``, when there is anything to say."""
    return {**protocol, "sampling": sampling} if sampling else protocol


def _cost_records(report: Any, timings: dict, device: str, n_samples: int, memory_method: str,
                  sampling: dict[str, Any], reused_from: str = "", placement: str = "") -> list[dict[str, Any]]:
    """The cell's costs; training's time and speed say where the training split lived
    (``training_data``), and a sweep point that reused another point's training reports that
    training's, saying so (``training: reused from <cell>``)."""
    values = {
        "fit_seconds": report.seconds,
        "train_steps_per_second": report.steps / report.seconds if report.seconds > 0 else None,
        "peak_memory_mb": peak_mb(device, memory_method),
    }
    if "sample_seconds" in timings and timings["sample_seconds"] > 0:
        values["samples_per_second"] = n_samples / timings["sample_seconds"]
    training = {"training_data": placement} if placement else {}
    if reused_from:
        training = {"training": f"reused from {reused_from}"}
    protocols = {"peak_memory_mb": {"method": memory_method}, "samples_per_second": _with_sampling({}, sampling),
                 "fit_seconds": training, "train_steps_per_second": training}
    return [{"kind": "metric", "metric": name, "value": value, "direction": COST_METRICS[name].direction,
             "unit": COST_METRICS[name].unit, "exactness": "measured", "protocol": protocols.get(name, {}), "status": "ok",
             "error": None, "metric_spec": "(runner)", "metric_plugin": "(runner)", "metric_distribution": f"benchbench {__version__}",
             "metric_version": "1", **_layout(COST_METRICS[name], name, {})}
            for name, value in values.items() if value is not None]


def _sampling_records(job: CellJob, model: Model, sampling: dict[str, Any]) -> list[dict[str, Any]]:
    """What the model measured about its own sampling (network evaluations per sample, an acceptance
    rate), as cost rows beside samples per second, with how it sampled; a broken report is the
    model's ``failed`` row."""
    base = {"kind": "metric", "metric_spec": "(sampler)", "metric_plugin": job.model.plugin,
            "metric_distribution": job.model.origin, "metric_version": job.model.spec.version}
    try:
        values = model.sampling_values()
        if not values:
            return []
        values = checked_values(values, f"{model_where(job.model)}: sampling_values()")
    except ContractError as error:
        return [{**base, "metric": "sampling_values", "status": "failed", "error": str(error), "value": None}]
    return [_value_record(base, v, 0.0, sampling) for v in values]


def _synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def _stamp(job: CellJob, record: dict[str, Any]) -> dict[str, Any]:
    """Add what defines the record: suite, run, cell, configuration, seed, versions, device."""
    cell = job.cell
    extra = {**({"deterministic": True} if job.deterministic else {}), **protocol_of(cell.model.precision, cell.model.compile)}
    if extra and record.get("kind") == "metric" and record.get("value") is not None:
        record = {**record, "protocol": {**(record.get("protocol") or {}), **extra}}
    return {
        "suite": cell.suite, "run_id": job.run_id, "cell_id": cell.cell_id, "dataset": cell.dataset.name,
        "model": cell.model.name, "family": cell.model.family, "variant": cell.model.variant,
        "model_plugin": job.model.plugin, "model_distribution": job.model.origin,
        "params_hash": cell.params_hash, "model_params": cell.model.params, "dataset_params": cell.dataset.params,
        "budget": str(cell.model.budget), "seed": cell.seed, "model_version": job.model.spec.version,
        "device": job.device, "executor": job.executor, "node": job.node,
        **({"sweep": cell.model.sweep} if cell.model.sweep else {}), **record,
    }


def lost_cell(job: CellJob, status: str, error: str, **where: Any) -> list[dict[str, Any]]:
    """The records of a cell whose run never came back (its worker died, its node left, it was
    cancelled past its time limit): the summary alone, ``status`` with the reason, stamped as
    ``run_cell`` stamps, ``where`` (``node``, ``attempts``) included."""
    return [_stamp(job, {"kind": "cell", "status": status, "error": error, "wall_seconds": 0.0, **where})]
