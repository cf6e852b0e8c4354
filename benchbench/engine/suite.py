"""Declarative suites: TOML in, a checked :class:`Suite` out. A suite never executes code.

Every mistake raises :class:`SuiteError` with the file, the dotted key path, what was expected and
what was found, with close-match suggestions for names.

.. code-block:: toml

    [suite]
    name = "smoke"            # default: the file name
    seeds = [0, 1]
    device = "auto"           # auto | cpu | cuda | cuda:N
    time_limit = 300          # seconds per cell
    samples = 1000            # drawn once per cell, shared by every metric
    checkpoint_every = 200    # training steps between checkpoints
    deterministic = false     # true: torch's deterministic algorithms (recorded in every protocol)

    [[datasets]]
    name = "8gaussians"
    params = { n_train = 4000 }

    [[datasets]]
    name = "cifar10"
    placement = "stream"      # optional: auto (default), device (whole tensor) or stream (DataLoader to the device)
    loader_workers = 4        # optional: worker processes of a streamed split (default 0)

    [[models]]
    family = "vae"            # the model spec's name, as `bench list` shows it ("plugin" is an old synonym)
    variant = "vae"
    name = "vae-z2"           # optional; default: the family name
    params = { latent_dim = 2 }
    budget = { steps = 500 }  # or { epochs = 3 } or { seconds = 30 }
    batch_size = 128
    sample_batch_size = 5000  # optional: draw the samples this many per call, gathered on the CPU
    precision = "bf16"        # optional: fp32 (default), bf16 or fp16 autocast for training and sampling
    compile = true            # optional: torch.compile the model's networks (or a backend name)
    datasets = ["8gaussians"] # optional: only these datasets of the suite (default: all)
    sweep = { lr = [1e-3, 3e-4] }  # optional: one entry per value, named vae-z2[lr=0.001] (engine/sweeps.py)
    resources = { cpus = 1, gpus = 0.5 }  # optional: what a cell asks of an executor that places cells

    [executor]                # optional: what runs the cells (default: local; `bench run --executor`)
    name = "ray"
    params = { address = "auto" }

    [[metrics]]
    name = "nll"
    params = { k = 100 }
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import SuiteError, suggest
from ..results.names import RENAMED_METRICS
from . import sweeps

SUITE_KEYS = {"name", "description", "seeds", "device", "time_limit", "samples", "checkpoint_every", "deterministic"}
DATASET_KEYS = {"name", "params", "placement", "loader_workers"}
MODEL_KEYS = {"family", "plugin", "variant", "name", "params", "budget", "batch_size", "sample_batch_size", "datasets",
              "resources", "sweep", "sweep_zip", "precision", "compile"}
PRECISIONS = ("fp32", "bf16", "fp16")
PLACEMENTS = ("auto", "device", "stream")  # of a training split: engine/training_data.py
METRIC_KEYS = {"name", "params", "sweep", "sweep_zip"}
EXECUTOR_KEYS = {"name", "params"}
RESOURCE_KEYS = {"cpus", "gpus"}
TOP_KEYS = {"suite", "datasets", "models", "metrics", "executor"}
BUDGET_UNITS = ("steps", "epochs", "seconds")
SAFE_NAME = re.compile(r"[A-Za-z0-9_.-]+")
DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


@dataclass(frozen=True)
class DatasetEntry:
    name: str
    params: dict[str, Any]
    placement: str = "auto"  # the training split whole on the device, or streamed to it (engine/training_data.py)
    loader_workers: int = 0  # processes that gather a streamed split's batches (0: the cell's own)


@dataclass(frozen=True)
class Budget:
    unit: str
    amount: float

    def __str__(self) -> str:
        return f"{self.amount:g} {self.unit}"


@dataclass(frozen=True)
class ModelEntry:
    name: str
    family: str  # the name of the model spec (which plugin provides it is the registry's business)
    variant: str
    params: dict[str, Any]
    budget: Budget
    batch_size: int
    datasets: tuple[str, ...] | None = None  # restrict the model to these datasets; None: all
    resources: dict[str, float] = field(default_factory=dict)  # cpus, gpus a cell asks of an executor that places cells
    sweep: dict[str, Any] = field(default_factory=dict)  # this point's swept values (already in params and name)
    sample_batch_size: int | None = None  # samples drawn per sample() call, gathered on the CPU; None: all in one call
    precision: str = "fp32"  # train_step and sampling under autocast (engine/precision.py)
    compile: bool | str = False  # torch.compile the model's networks: true (inductor) or a backend name
    group: str = ""  # the entry's own name, shared by its sweep's points
    sampling_keys: frozenset[str] = frozenset()  # the spec's sampling_params

    @property
    def training_params(self) -> dict[str, Any]:
        """The parameters that shape training: all but the spec's sampling parameters."""
        return {k: v for k, v in self.params.items() if k not in self.sampling_keys}

    def runs_on(self, dataset: str) -> bool:
        return self.datasets is None or dataset in self.datasets


@dataclass(frozen=True)
class MetricEntry:
    name: str
    params: dict[str, Any]
    sweep: dict[str, Any] = field(default_factory=dict)  # this point's swept values: its values' names end in them


@dataclass(frozen=True)
class ExecutorEntry:
    """The suite's ``[executor]`` table: which executor runs the cells, with its parameters."""

    name: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Cell:
    """One unit of work: a dataset, a model and a seed."""

    suite: str
    dataset: DatasetEntry
    model: ModelEntry
    seed: int

    @property
    def params_hash(self) -> str:
        blob = json.dumps([self.dataset.params, self.model.params, str(self.model.budget), self.model.batch_size], sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:10]

    @property
    def shares_training(self) -> bool:
        """Whether the entry's sweep moves a sampling parameter: then its points that differ only in
        those share one training, and this cell's checkpoint is the training's, not the cell's."""
        return bool(set(self.model.sweep) & self.model.sampling_keys)

    @property
    def training_key(self) -> str:
        """The same for every cell that trains the same model the same way (same data, entry, seed,
        budget and training parameters)."""
        blob = json.dumps([self.dataset.name, self.dataset.params, self.model.family, self.model.variant, self.model.group,
                           self.model.training_params, str(self.model.budget), self.model.batch_size, self.seed],
                          sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:10]

    @property
    def cell_id(self) -> str:
        """Stable across runs of the same suite, so a resumed run recognises finished cells."""
        return f"{self.dataset.name}/{self.model.name}/{self.model.variant}/seed{self.seed}/{self.params_hash}"


@dataclass(frozen=True)
class Suite:
    name: str
    path: str
    description: str
    seeds: tuple[int, ...]
    device: str
    time_limit: float
    samples: int
    checkpoint_every: int
    deterministic: bool
    datasets: tuple[DatasetEntry, ...]
    models: tuple[ModelEntry, ...]
    metrics: tuple[MetricEntry, ...]
    executor: ExecutorEntry | None = None  # None: the command line's choice, else local
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    def cells(self) -> list[Cell]:
        return [Cell(self.name, d, m, s) for d in self.datasets for m in self.models if m.runs_on(d.name) for s in self.seeds]


class _Reader:
    """Typed access to a TOML table that reports mistakes by file and key path."""

    def __init__(self, file: str):
        self.file = file

    def fail(self, key: str, expected: str, found: Any = None, hint: str = "") -> SuiteError:
        return SuiteError(self.file, key, expected, found, hint)

    def table(self, value: Any, key: str, allowed: set[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, "a table", value)
        for name in value:
            if name not in allowed:
                raise self.fail(f"{key}.{name}" if key else name, f"one of the keys {sorted(allowed)}", name, suggest(name, allowed))
        return value

    def tables(self, value: Any, key: str, allowed: set[str]) -> list[dict[str, Any]]:
        if not isinstance(value, list) or not value:
            raise self.fail(key, f"a non-empty array of tables ([[{key}]])", value)
        return [self.table(item, f"{key}[{i}]", allowed) for i, item in enumerate(value)]

    def get(self, table: dict[str, Any], key: str, path: str, kind: type | tuple[type, ...], default: Any = ..., positive: bool = False) -> Any:
        if key not in table:
            if default is ...:
                raise self.fail(f"{path}.{key}" if path else key, f"{_a(kind)} (required)")
            return default
        value = table[key]
        if isinstance(value, bool) and bool not in _as_tuple(kind) or not isinstance(value, kind):
            raise self.fail(f"{path}.{key}" if path else key, _a(kind), value)
        if positive and not value > 0:  # also rejects nan
            raise self.fail(f"{path}.{key}" if path else key, "a positive number", value)
        return value


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _type_name(kind: type | tuple[type, ...]) -> str:
    names = {int: "integer", float: "number", str: "string", bool: "boolean", list: "array", dict: "table"}
    kinds = [k for k in _as_tuple(kind) if not (k is int and float in _as_tuple(kind))]  # an integer is a number
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _a(kind: type | tuple[type, ...]) -> str:
    """'an integer', 'a string': the expected type with its article."""
    name = _type_name(kind)
    return f"{'an' if name[:1] in tuple('aeiou') else 'a'} {name}"


def read_toml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise SuiteError(str(path), "(file)", "an existing suite file", hint="check the path")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise SuiteError(str(path), "(syntax)", "valid TOML", hint=str(error)) from None
    except UnicodeDecodeError:
        raise SuiteError(str(path), "(encoding)", "UTF-8 text") from None


def load_suite(path: str | Path, registry: Any) -> Suite:
    """Read and fully check a suite against the registry of installed plugins."""
    return parse_suite(read_toml(path), str(path), registry)


def parse_suite(raw: dict[str, Any], file: str, registry: Any) -> Suite:
    r = _Reader(file)
    r.table(raw, "", TOP_KEYS)
    head = r.table(raw.get("suite", {}), "suite", SUITE_KEYS)
    seeds = checked_seeds(r.get(head, "seeds", "suite", list, [0]), lambda e, f: r.fail("suite.seeds", e, f))
    device = r.get(head, "device", "suite", str, "auto")
    if not DEVICE_PATTERN.match(device):
        raise r.fail("suite.device", "auto, cpu, mps, cuda or cuda:N", device)
    name = _safe_name(r, r.get(head, "name", "suite", str, Path(file).stem), "suite.name")
    datasets = _datasets(r, raw.get("datasets"), registry)
    return Suite(
        name=name,
        path=file,
        description=r.get(head, "description", "suite", str, ""),
        seeds=tuple(seeds),
        device=device,
        time_limit=float(r.get(head, "time_limit", "suite", (int, float), 3600, positive=True)),
        samples=r.get(head, "samples", "suite", int, 1000, positive=True),
        checkpoint_every=r.get(head, "checkpoint_every", "suite", int, 500, positive=True),
        deterministic=r.get(head, "deterministic", "suite", bool, False),
        datasets=datasets,
        models=_models(r, raw.get("models"), registry, {d.name for d in datasets}),
        metrics=_metrics(r, raw.get("metrics", []), registry),
        executor=_executor(r, raw.get("executor"), registry),
        raw=raw,
    )


def checked_seeds(seeds: Any, fail: Any) -> list[int]:
    """Seeds as a suite or ``--seeds`` gives them; ``fail(expected, found)`` builds the error."""
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds):
        raise fail("a non-empty array of non-negative integers", seeds)
    if len(set(seeds)) != len(seeds):
        raise fail("distinct seeds", seeds)
    return seeds


def _safe_name(r: _Reader, name: str, key: str) -> str:
    """Suite and model names become folder and file names: keep them to a safe alphabet."""
    if not SAFE_NAME.fullmatch(name):
        raise r.fail(key, "letters, digits, '_', '-' or '.' (it names folders and files)", name)
    return name


def _params(r: _Reader, table: dict[str, Any], path: str, spec: Any) -> dict[str, Any]:
    given = r.get(table, "params", path, dict, {})
    for key, value in given.items():
        param = spec.param(key)
        where = f"{path}.params.{key}"
        if param is None:
            raise r.fail(where, f"a parameter of {spec.name!r}", key, suggest(key, [p.name for p in spec.params]))
        if not _fits(value, param.type):
            raise r.fail(where, _a(param.type), value)
        if param.choices is not None and value not in param.choices:
            raise r.fail(where, f"one of {list(param.choices)}", value)
    return {**spec.defaults(), **given}


def _fits(value: Any, kind: type) -> bool:
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _datasets(r: _Reader, value: Any, registry: Any) -> tuple[DatasetEntry, ...]:
    entries = []
    for i, table in enumerate(r.tables(value, "datasets", DATASET_KEYS)):
        path = f"datasets[{i}]"
        name = r.get(table, "name", path, str)
        spec = registry.dataset(name, f"{r.file}: {path}.name")
        entries.append(DatasetEntry(name, _params(r, table, path, spec), _choice(r, table, path, "placement", PLACEMENTS),
                                    _count(r, table, path, "loader_workers")))
    _unique(r, "datasets", [(e.name, json.dumps(e.params, sort_keys=True)) for e in entries])
    return tuple(entries)


def _models(r: _Reader, value: Any, registry: Any, dataset_names: set[str]) -> tuple[ModelEntry, ...]:
    entries = []
    for i, table in enumerate(r.tables(value, "models", MODEL_KEYS)):
        path = f"models[{i}]"
        key = _family_key(r, table, path)
        spec = registry.model(r.get(table, key, path, str), f"{r.file}: {path}.{key}")
        variant = r.get(table, "variant", path, str, spec.default_variant)
        if variant not in spec.variants:
            raise r.fail(f"{path}.variant", f"a variant of {spec.name!r}", variant, suggest(variant, spec.variants))
        params = {**_params(r, table, path, spec), **spec.variants[variant], **r.get(table, "params", path, dict, {})}
        name = _safe_name(r, r.get(table, "name", path, str, spec.name), f"{path}.name")
        shared = dict(family=spec.name, variant=variant, budget=_budget(r, table, path), group=name,
                      sampling_keys=frozenset(spec.sampling_params),
                      batch_size=r.get(table, "batch_size", path, int, 128, positive=True),
                      sample_batch_size=r.get(table, "sample_batch_size", path, int, None, positive=True),
                      precision=_choice(r, table, path, "precision", PRECISIONS), compile=r.get(table, "compile", path, (bool, str), False),
                      datasets=_model_datasets(r, table, path, dataset_names), resources=_resources(r, table, path))
        for point in sweeps.points(_swept(r, table, path, "sweep", spec), _swept(r, table, path, "sweep_zip", spec)):
            entries.append(ModelEntry(name=name + sweeps.label(point), params={**params, **point}, sweep=point, **shared))
    _unique(r, "models", [(e.name, e.variant) for e in entries], "Give each a distinct `name`")
    return tuple(entries)


def _count(r: _Reader, table: dict[str, Any], path: str, key: str) -> int:
    value = r.get(table, key, path, int, 0)
    if value < 0:
        raise r.fail(f"{path}.{key}", "a whole number >= 0", value)
    return value


def _choice(r: _Reader, table: dict[str, Any], path: str, key: str, choices: tuple[str, ...]) -> str:
    value = r.get(table, key, path, str, choices[0])
    if value not in choices:
        raise r.fail(f"{path}.{key}", f"one of {list(choices)}", value, suggest(value, choices))
    return value


def _swept(r: _Reader, table: dict[str, Any], path: str, key: str, spec: Any) -> dict[str, list[Any]]:
    """``sweep`` or ``sweep_zip``: parameter names to non-empty arrays of values, each value checked
    as the parameter's; a ``sweep_zip``'s arrays of one length."""
    given = r.get(table, key, path, dict, {})
    for name, values in given.items():
        where = f"{path}.{key}.{name}"
        param = spec.param(name)
        if param is None:
            raise r.fail(where, f"a parameter of {spec.name!r}", name, suggest(name, [p.name for p in spec.params]))
        if not isinstance(values, list) or not values:
            raise r.fail(where, "a non-empty array of values", values)
        for i, value in enumerate(values):
            if not _fits(value, param.type) or (param.choices is not None and value not in param.choices):
                expected = _a(param.type) if param.choices is None else f"one of {list(param.choices)}"
                raise r.fail(f"{where}[{i}]", expected, value)
        if len(set(map(repr, values))) != len(values):
            raise r.fail(where, "distinct values", values)
    if key == "sweep_zip" and len({len(v) for v in given.values()}) > 1:
        raise r.fail(f"{path}.{key}", "arrays of one length (values are paired by position)",
                     {k: len(v) for k, v in given.items()})
    if key == "sweep_zip" and (both := set(given) & set(table.get("sweep", {}))):
        raise r.fail(f"{path}.{key}", "keys not also in sweep", sorted(both))
    return given


def _resources(r: _Reader, table: dict[str, Any], path: str) -> dict[str, float]:
    """``resources = { cpus = 2, gpus = 0.5 }``: what each cell of the entry asks of an executor
    that places cells (a fraction of a GPU shares it); the local executor runs cells as they come."""
    given = r.table(r.get(table, "resources", path, dict, {}), f"{path}.resources", RESOURCE_KEYS)
    for key, value in given.items():
        if not _fits(value, float) or value < 0 or (key == "cpus" and value == 0):
            raise r.fail(f"{path}.resources.{key}", "a positive number" if key == "cpus" else "a number >= 0", value)
    return {k: float(v) for k, v in given.items()}


def _executor(r: _Reader, value: Any, registry: Any) -> ExecutorEntry | None:
    """``[executor]``: ``name`` and ``params``, checked against the executor's spec as a model's are."""
    if value is None:
        return None
    table = r.table(value, "executor", EXECUTOR_KEYS)
    name = r.get(table, "name", "executor", str)
    return ExecutorEntry(name, _params(r, table, "executor", registry.executor(name, f"{r.file}: executor.name")))


def _family_key(r: _Reader, table: dict[str, Any], path: str) -> str:
    """``family`` names the model spec; ``plugin``, its old name, is still read (one of the two)."""
    if "family" in table and "plugin" in table:
        raise r.fail(f"{path}.plugin", "either `family` or its old synonym `plugin`, not both", table["plugin"])
    return "plugin" if "plugin" in table else "family"


def _model_datasets(r: _Reader, table: dict[str, Any], path: str, known: set[str]) -> tuple[str, ...] | None:
    names = r.get(table, "datasets", path, list, None)
    if names is None:
        return None
    if not names or not all(isinstance(n, str) for n in names):
        raise r.fail(f"{path}.datasets", "a non-empty array of dataset names", names)
    for i, name in enumerate(names):
        if name not in known:
            raise r.fail(f"{path}.datasets[{i}]", "the name of a dataset in this suite", name, suggest(name, known))
    return tuple(names)


def _budget(r: _Reader, table: dict[str, Any], path: str) -> Budget:
    budget = r.table(r.get(table, "budget", path, dict), f"{path}.budget", set(BUDGET_UNITS))
    if len(budget) != 1:
        raise r.fail(f"{path}.budget", "exactly one of steps, epochs or seconds", budget)
    (unit, amount), = budget.items()
    kind = float if unit == "seconds" else int
    return Budget(unit, float(r.get(budget, unit, f"{path}.budget", (int, float) if kind is float else int, positive=True)))


def _metrics(r: _Reader, value: Any, registry: Any) -> tuple[MetricEntry, ...]:
    if value == []:
        return ()
    entries = []
    for i, table in enumerate(r.tables(value, "metrics", METRIC_KEYS)):
        path = f"metrics[{i}]"
        name = r.get(table, "name", path, str)
        if name in RENAMED_METRICS:
            raise r.fail(f"{path}.name", "a metric name", name, f"{name!r} was renamed {RENAMED_METRICS[name]!r}")
        spec = registry.metric(name, f"{r.file}: {path}.name")
        params = _params(r, table, path, spec)
        for point in sweeps.points(_swept(r, table, path, "sweep", spec), _swept(r, table, path, "sweep_zip", spec)):
            entries.append(MetricEntry(name, {**params, **point}, point))
    _unique(r, "metrics", [(e.name, json.dumps(e.params, sort_keys=True)) for e in entries])
    return tuple(entries)


def _unique(r: _Reader, key: str, identities: list[Any], hint: str = "") -> None:
    seen: dict[Any, int] = {}
    for i, identity in enumerate(identities):
        if identity in seen:
            raise r.fail(f"{key}[{i}]", f"an entry different from {key}[{seen[identity]}]", identity[0], hint)
        seen[identity] = i
