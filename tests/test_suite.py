"""Suites: every mistake names the file and the exact key path; valid suites expand into cells."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

import benchbench.cli
from benchbench.engine.suite import Budget, Cell, load_suite, parse_suite
from benchbench.errors import SuiteError, UsageError

SUITE = """
[suite]
name = "smoke"
seeds = [0, 1]
device = "cpu"
time_limit = 60
samples = 500
"""

DATASETS = """
[[datasets]]
name = "8gaussians"
params = { n_train = 400 }

[[datasets]]
name = "digits"
"""

MODELS = """
[[models]]
family = "vae"
variant = "vae"
params = { latent_dim = 4 }
budget = { steps = 100 }
batch_size = 64

[[models]]
family = "flow"
budget = { seconds = 5 }
"""

METRICS = """
[[metrics]]
name = "nll"
params = { k = 10 }

[[metrics]]
name = "mmd"
"""


def suite_text(suite: str = SUITE, datasets: str = DATASETS, models: str = MODELS, metrics: str = METRICS, extra: str = "") -> str:
    """A suite made of the valid sections above, with one of them replaced; ``extra`` goes first
    (top-level keys written after a table header would belong to that table)."""
    return "\n".join([extra, suite, datasets, models, metrics])


def one_model(body: str) -> str:
    return f"[[models]]\n{body}\n"


VAE = 'family = "vae"\nbudget = { steps = 10 }\n'


# (id, suite text, exact key path, further text the message must contain)
MALFORMED = [
    # the file itself
    ("toml-syntax", "[suite\nseeds = [0]\n", "(syntax)", ["valid TOML"]),
    ("not-utf8", b"[suite]\nname = \"\xff\xfe\"\n", "(encoding)", ["UTF-8"]),
    ("unknown-top-level-key", suite_text(extra='model = "vae"'), "model", ["Did you mean: models"]),
    # [suite]
    ("suite-not-a-table", suite_text(suite='suite = 3'), "suite", ["a table", "found 3"]),
    ("suite-unknown-key", suite_text(suite="[suite]\nseed = [0]"), "suite.seed", ["Did you mean: seeds"]),
    ("seeds-not-a-list", suite_text(suite="[suite]\nseeds = 3"), "suite.seeds", ["an array", "found 3"]),
    ("seeds-empty", suite_text(suite="[suite]\nseeds = []"), "suite.seeds", ["non-empty"]),
    ("seeds-negative", suite_text(suite="[suite]\nseeds = [0, -1]"), "suite.seeds", ["non-negative"]),
    ("seeds-duplicate", suite_text(suite="[suite]\nseeds = [1, 1]"), "suite.seeds", ["distinct"]),
    ("seeds-bool", suite_text(suite="[suite]\nseeds = [true]"), "suite.seeds", ["integers"]),
    ("seeds-float", suite_text(suite="[suite]\nseeds = [0, 1.5]"), "suite.seeds", ["integers"]),
    ("device-unknown", suite_text(suite='[suite]\ndevice = "gpu"'), "suite.device", ["cuda:N", "'gpu'"]),
    ("device-not-string", suite_text(suite="[suite]\ndevice = 0"), "suite.device", ["a string"]),
    ("time-limit-zero", suite_text(suite="[suite]\ntime_limit = 0"), "suite.time_limit", ["positive"]),
    ("time-limit-negative", suite_text(suite="[suite]\ntime_limit = -5.0"), "suite.time_limit", ["positive"]),
    ("time-limit-string", suite_text(suite='[suite]\ntime_limit = "60"'), "suite.time_limit", ["number", "'60'"]),
    ("time-limit-bool", suite_text(suite="[suite]\ntime_limit = true"), "suite.time_limit", ["number"]),
    ("time-limit-nan", suite_text(suite="[suite]\ntime_limit = nan"), "suite.time_limit", ["positive"]),
    ("samples-zero", suite_text(suite="[suite]\nsamples = 0"), "suite.samples", ["positive"]),
    ("samples-float", suite_text(suite="[suite]\nsamples = 10.5"), "suite.samples", ["an integer"]),
    ("checkpoint-every-zero", suite_text(suite="[suite]\ncheckpoint_every = 0"), "suite.checkpoint_every", ["positive"]),
    ("name-with-space", suite_text(suite='[suite]\nname = "my suite"'), "suite.name", ["it names folders"]),
    ("name-with-slash", suite_text(suite='[suite]\nname = "../up"'), "suite.name", ["letters, digits"]),
    ("description-not-string", suite_text(suite="[suite]\ndescription = 5"), "suite.description", ["a string"]),
    # [[datasets]]
    ("datasets-missing", suite_text(datasets=""), "datasets", ["[[datasets]]"]),
    ("datasets-empty", suite_text(datasets="", extra="datasets = []"), "datasets", ["non-empty array of tables"]),
    ("datasets-a-table", suite_text(datasets='[datasets]\nname = "digits"'), "datasets", ["array of tables"]),
    ("datasets-strings", suite_text(datasets="", extra='datasets = ["digits"]'), "datasets[0]", ["a table", "'digits'"]),
    ("dataset-name-missing", suite_text(datasets="[[datasets]]\nparams = { n_train = 10 }"), "datasets[0].name", ["required"]),
    ("dataset-unknown-name", suite_text(datasets='[[datasets]]\nname = "8gausians"'), "datasets[0].name", ["unknown dataset '8gausians'", "Did you mean: 8gaussians"]),
    ("dataset-unknown-key", suite_text(datasets='[[datasets]]\nname = "digits"\nparms = {}'), "datasets[0].parms", ["Did you mean: params"]),
    ("dataset-unknown-param", suite_text(datasets='[[datasets]]\nname = "digits"\n[[datasets]]\nname = "8gaussians"\nparams = { n_trian = 5 }'),
     "datasets[1].params.n_trian", ["Did you mean: n_train"]),
    ("dataset-param-wrong-type", suite_text(datasets='[[datasets]]\nname = "8gaussians"\nparams = { n_train = "1000" }'),
     "datasets[0].params.n_train", ["an integer", "'1000'"]),
    ("dataset-params-not-table", suite_text(datasets='[[datasets]]\nname = "8gaussians"\nparams = 5'), "datasets[0].params", ["a table"]),
    ("dataset-duplicate", suite_text(datasets='[[datasets]]\nname = "digits"\n[[datasets]]\nname = "digits"'), "datasets[1]", ["datasets[0]"]),
    # [[models]]
    ("models-missing", suite_text(models=""), "models", ["[[models]]"]),
    ("model-unknown-key", suite_text(models=one_model(VAE + 'plugn = "vae"')), "models[0].plugn", ["Did you mean: plugin"]),
    ("model-plugin-missing", suite_text(models=one_model("budget = { steps = 10 }")), "models[0].family", ["a string (required)"]),
    ("model-plugin-not-string", suite_text(models=one_model("family = 3\nbudget = { steps = 10 }")), "models[0].family", ["a string"]),
    ("model-plugin-unknown", suite_text(models=one_model('family = "vea"\nbudget = { steps = 10 }')), "models[0].family", ["unknown model 'vea'", "Did you mean: vae"]),
    ("model-variant-unknown", suite_text(models=one_model(VAE + 'variant = "iwea"')), "models[0].variant", ["Did you mean: iwae"]),
    ("model-param-unknown", suite_text(models=one_model(VAE + "params = { latent_dims = 3 }")), "models[0].params.latent_dims", ["Did you mean: latent_dim"]),
    ("model-param-string-for-int", suite_text(models=one_model(VAE + 'params = { latent_dim = "2" }')), "models[0].params.latent_dim", ["an integer", "'2'"]),
    ("model-param-bool-for-int", suite_text(models=one_model(VAE + "params = { latent_dim = true }")), "models[0].params.latent_dim", ["an integer", "True"]),
    ("model-param-float-for-int", suite_text(models=one_model(VAE + "params = { latent_dim = 2.5 }")), "models[0].params.latent_dim", ["an integer", "2.5"]),
    ("model-param-string-for-float", suite_text(models=one_model(VAE + 'params = { beta = "high" }')), "models[0].params.beta", ["a number"]),
    ("model-param-not-in-choices", suite_text(models=one_model(VAE + 'params = { decoder = "poisson" }')), "models[0].params.decoder", ["'bernoulli', 'gaussian'", "'poisson'"]),
    ("model-params-not-table", suite_text(models=one_model(VAE + "params = [1, 2]")), "models[0].params", ["a table"]),
    ("sweep-unknown-param", suite_text(models=one_model(VAE + "sweep = { latent_dims = [2, 3] }")), "models[0].sweep.latent_dims", ["Did you mean: latent_dim"]),
    ("sweep-not-an-array", suite_text(models=one_model(VAE + "sweep = { latent_dim = 2 }")), "models[0].sweep.latent_dim", ["a non-empty array"]),
    ("sweep-empty", suite_text(models=one_model(VAE + "sweep = { latent_dim = [] }")), "models[0].sweep.latent_dim", ["a non-empty array"]),
    ("sweep-bad-value", suite_text(models=one_model(VAE + 'sweep = { latent_dim = [2, "3"] }')), "models[0].sweep.latent_dim[1]", ["an integer", "'3'"]),
    ("sweep-not-in-choices", suite_text(models=one_model(VAE + 'sweep = { decoder = ["bernoulli", "poisson"] }')), "models[0].sweep.decoder[1]", ["'poisson'"]),
    ("sweep-repeated-value", suite_text(models=one_model(VAE + "sweep = { beta = [1.0, 1.0] }")), "models[0].sweep.beta", ["distinct values"]),
    ("sweep-zip-lengths", suite_text(models=one_model(VAE + "sweep_zip = { beta = [1.0, 4.0], k = [1] }")), "models[0].sweep_zip", ["one length"]),
    ("sweep-zip-and-grid", suite_text(models=one_model(VAE + "sweep = { k = [1, 5] }\nsweep_zip = { k = [1, 5] }")), "models[0].sweep_zip", ["not also in sweep"]),
    ("precision-unknown", suite_text(models=one_model(VAE + 'precision = "bf61"')), "models[0].precision", ["'fp32', 'bf16', 'fp16'", "Did you mean: bf16"]),
    ("compile-a-number", suite_text(models=one_model(VAE + "compile = 1")), "models[0].compile", ["a boolean or string", "found 1"]),
    ("sample-batch-zero", suite_text(models=one_model(VAE + "sample_batch_size = 0")), "models[0].sample_batch_size", ["positive"]),
    ("resources-unknown", suite_text(models=one_model(VAE + "resources = { gpu = 1 }")), "models[0].resources.gpu", ["Did you mean: gpus"]),
    ("resources-zero-cpus", suite_text(models=one_model(VAE + "resources = { cpus = 0 }")), "models[0].resources.cpus", ["a positive number"]),
    ("resources-negative-gpus", suite_text(models=one_model(VAE + "resources = { gpus = -1 }")), "models[0].resources.gpus", ["a number >= 0"]),
    ("executor-unknown", suite_text(extra='[executor]\nname = "slurm"'), "executor.name", ["unknown executor 'slurm'"]),
    ("executor-param-unknown", suite_text(extra='[executor]\nname = "local"\nparams = { job = 2 }'), "executor.params.job", ["Did you mean: jobs"]),
    ("executor-param-type", suite_text(extra='[executor]\nname = "local"\nparams = { jobs = "2" }'), "executor.params.jobs", ["an integer"]),
    ("budget-missing", suite_text(models=one_model('family = "vae"')), "models[0].budget", ["required"]),
    ("budget-not-table", suite_text(models=one_model('family = "vae"\nbudget = 100')), "models[0].budget", ["a table", "100"]),
    ("budget-two-units", suite_text(models=one_model('family = "vae"\nbudget = { steps = 10, epochs = 1 }')), "models[0].budget", ["exactly one of steps, epochs or seconds"]),
    ("budget-empty", suite_text(models=one_model('family = "vae"\nbudget = {}')), "models[0].budget", ["exactly one"]),
    ("budget-unit-unknown", suite_text(models=one_model('family = "vae"\nbudget = { step = 10 }')), "models[0].budget.step", ["Did you mean: steps"]),
    ("budget-negative", suite_text(models=one_model('family = "vae"\nbudget = { steps = -10 }')), "models[0].budget.steps", ["positive", "-10"]),
    ("budget-steps-float", suite_text(models=one_model('family = "vae"\nbudget = { steps = 10.5 }')), "models[0].budget.steps", ["an integer", "10.5"]),
    ("budget-seconds-string", suite_text(models=one_model('family = "vae"\nbudget = { seconds = "30" }')), "models[0].budget.seconds", ["a number"]),
    ("batch-size-zero", suite_text(models=one_model(VAE + "batch_size = 0")), "models[0].batch_size", ["positive"]),
    ("batch-size-float", suite_text(models=one_model(VAE + "batch_size = 32.0")), "models[0].batch_size", ["an integer"]),
    ("model-name-not-string", suite_text(models=one_model(VAE + "name = 3")), "models[0].name", ["a string"]),
    ("model-datasets-not-a-list", suite_text(models=one_model(VAE + 'datasets = "digits"')), "models[0].datasets", ["an array"]),
    ("model-datasets-empty", suite_text(models=one_model(VAE + "datasets = []")), "models[0].datasets", ["non-empty array"]),
    ("model-datasets-unknown", suite_text(models=one_model(VAE + 'datasets = ["digit"]')), "models[0].datasets[0]",
     ["a dataset in this suite", "Did you mean: digits"]),
    ("model-name-with-slash", suite_text(models=one_model(VAE + 'name = "a/b"')), "models[0].name", ["it names folders"]),
    ("model-duplicate", suite_text(models=one_model(VAE) + one_model(VAE)), "models[1]", ["models[0]", "distinct `name`"]),
    # [[metrics]]
    ("metrics-a-table", suite_text(metrics='[metrics]\nname = "nll"'), "metrics", ["array of tables"]),
    ("metric-name-missing", suite_text(metrics="[[metrics]]\nparams = { k = 1 }"), "metrics[0].name", ["required"]),
    ("metric-unknown-name", suite_text(metrics='[[metrics]]\nname = "nlll"'), "metrics[0].name", ["unknown metric 'nlll'", "Did you mean: nll"]),
    ("metric-unknown-param", suite_text(metrics='[[metrics]]\nname = "nll"\nparams = { kk = 1 }'), "metrics[0].params.kk", ["Did you mean: k"]),
    ("metric-param-wrong-type", suite_text(metrics='[[metrics]]\nname = "nll"\nparams = { k = 1.5 }'), "metrics[0].params.k", ["an integer"]),
    ("metric-duplicate", suite_text(metrics='[[metrics]]\nname = "mmd"\n[[metrics]]\nname = "nll"\n[[metrics]]\nname = "mmd"'), "metrics[2]", ["metrics[0]"]),
]


def test_enough_distinct_malformed_cases() -> None:
    assert len({case[0] for case in MALFORMED}) == len(MALFORMED) >= 25
    assert len({case[1] for case in MALFORMED}) == len(MALFORMED)


@pytest.mark.parametrize(("text", "key", "expected"), [case[1:] for case in MALFORMED], ids=[case[0] for case in MALFORMED])
def test_malformed_suite_names_file_and_key(fake_registry, write_suite, text, key, expected) -> None:
    path = write_suite(text)
    with pytest.raises(UsageError) as caught:
        load_suite(path, fake_registry)
    message = str(caught.value)
    assert f"{path}: {key}: " in message
    for fragment in expected:
        assert fragment in message
    if isinstance(caught.value, SuiteError):
        assert (caught.value.file, caught.value.key) == (str(path), key)


def test_missing_file(fake_registry, tmp_path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(SuiteError) as caught:
        load_suite(path, fake_registry)
    assert f"{path}: (file): expected an existing suite file" in str(caught.value)


def test_unknown_name_lists_what_is_available(fake_registry, write_suite) -> None:
    path = write_suite(suite_text(models=one_model('family = "gan"\nbudget = { steps = 1 }')))
    with pytest.raises(UsageError, match=r"models\[0\]\.family: unknown model 'gan'\. Available: flow, vae"):
        load_suite(path, fake_registry)


def test_the_old_key_plugin_still_names_the_family(fake_registry, write_suite) -> None:
    path = write_suite(suite_text(models=one_model('plugin = "flow"\nbudget = { steps = 1 }')))
    assert load_suite(path, fake_registry).models[0].family == "flow"
    path = write_suite(suite_text(models=one_model('plugin = "gan"\nbudget = { steps = 1 }')))
    with pytest.raises(UsageError, match=r"models\[0\]\.plugin: unknown model 'gan'"):
        load_suite(path, fake_registry)


def test_family_and_plugin_together_are_refused(fake_registry, write_suite) -> None:
    path = write_suite(suite_text(models=one_model('family = "flow"\nplugin = "vae"\nbudget = { steps = 1 }')))
    with pytest.raises(SuiteError, match=r"models\[0\]\.plugin: expected either `family` or its old synonym `plugin`, not both"):
        load_suite(path, fake_registry)


# --------------------------------------------------------------------------------------------------
# valid suites
# --------------------------------------------------------------------------------------------------


def test_valid_suite_parses(fake_registry, write_suite) -> None:
    path = write_suite(suite_text())
    suite = load_suite(path, fake_registry)
    assert (suite.name, suite.path, suite.seeds, suite.device) == ("smoke", str(path), (0, 1), "cpu")
    assert suite.time_limit == 60.0 and isinstance(suite.time_limit, float)
    assert (suite.samples, suite.checkpoint_every, suite.description) == (500, 500, "")
    assert [(d.name, d.params) for d in suite.datasets] == [("8gaussians", {"n_train": 400}), ("digits", {})]
    vae, flow = suite.models
    assert (vae.name, vae.family, vae.variant, vae.batch_size) == ("vae", "vae", "vae", 64)
    assert vae.params == {"latent_dim": 4, "beta": 1.0, "decoder": "bernoulli", "k": 1}
    assert vae.budget == Budget("steps", 100) and str(vae.budget) == "100 steps"
    assert (flow.name, flow.variant, flow.params, flow.batch_size) == ("flow", "default", {"layers": 4}, 128)
    assert flow.budget == Budget("seconds", 5.0)
    assert [(m.name, m.params) for m in suite.metrics] == [("nll", {"k": 10}), ("mmd", {})]


def test_defaults_and_name_from_file_stem(fake_registry, write_suite) -> None:
    path = write_suite(suite_text(suite="", metrics=""), name="nightly-2d.toml")
    suite = load_suite(path, fake_registry)
    assert suite.name == "nightly-2d"
    assert (suite.seeds, suite.device, suite.time_limit, suite.samples, suite.checkpoint_every) == ((0,), "auto", 3600.0, 1000, 500)
    assert suite.metrics == ()


def test_parse_suite_takes_a_dict(fake_registry) -> None:
    raw = {"datasets": [{"name": "digits"}], "models": [{"family": "flow", "budget": {"epochs": 2}}]}
    suite = parse_suite(raw, "inline.toml", fake_registry)
    assert suite.name == "inline"
    assert suite.models[0].budget == Budget("epochs", 2.0)
    assert suite.raw is raw


def test_cells_expand_dataset_model_seed_in_order(fake_registry, write_suite) -> None:
    suite = load_suite(write_suite(suite_text()), fake_registry)
    cells = suite.cells()
    assert [(c.dataset.name, c.model.name, c.seed) for c in cells] == [
        ("8gaussians", "vae", 0), ("8gaussians", "vae", 1), ("8gaussians", "flow", 0), ("8gaussians", "flow", 1),
        ("digits", "vae", 0), ("digits", "vae", 1), ("digits", "flow", 0), ("digits", "flow", 1),
    ]
    assert all(isinstance(c, Cell) and c.suite == "smoke" for c in cells)


def test_a_model_restricted_to_some_datasets_gets_cells_only_there(fake_registry, write_suite) -> None:
    models = MODELS.replace('budget = { seconds = 5 }', 'budget = { seconds = 5 }\ndatasets = ["digits"]')
    cells = load_suite(write_suite(suite_text(models=models)), fake_registry).cells()
    assert [(c.dataset.name, c.model.name) for c in cells if c.seed == 0] == [
        ("8gaussians", "vae"), ("digits", "vae"), ("digits", "flow")]


def test_variant_params_applied_and_explicit_params_win(fake_registry, write_suite) -> None:
    models = (
        one_model('family = "vae"\nvariant = "iwae"\nbudget = { steps = 1 }')
        + one_model('family = "vae"\nvariant = "iwae"\nname = "iwae-k2"\nparams = { k = 2 }\nbudget = { steps = 1 }')
        + one_model('family = "vae"\nbudget = { steps = 1 }')
    )
    iwae, iwae_k2, vae = load_suite(write_suite(suite_text(models=models)), fake_registry).models
    assert (iwae.variant, iwae.params["k"]) == ("iwae", 5)
    assert (iwae_k2.name, iwae_k2.variant, iwae_k2.params["k"]) == ("iwae-k2", "iwae", 2)
    assert (vae.variant, vae.params["k"]) == ("vae", 1)  # the first variant is the default
    assert iwae.params["latent_dim"] == 2  # spec defaults fill the rest


def test_same_name_different_variants_are_distinct(fake_registry, write_suite) -> None:
    models = one_model(VAE) + one_model(VAE + 'variant = "iwae"')
    suite = load_suite(write_suite(suite_text(models=models)), fake_registry)
    assert [(m.name, m.variant) for m in suite.models] == [("vae", "vae"), ("vae", "iwae")]


def test_cell_id_is_stable_and_tracks_params(fake_registry, write_suite) -> None:
    first = [c.cell_id for c in load_suite(write_suite(suite_text(), "a.toml"), fake_registry).cells()]
    again = [c.cell_id for c in load_suite(write_suite(suite_text(), "b.toml"), fake_registry).cells()]
    assert first == again
    assert len(set(first)) == len(first)
    assert first[0].startswith("8gaussians/vae/vae/seed0/")

    changed = [c.cell_id for c in load_suite(write_suite(suite_text(models=MODELS.replace("latent_dim = 4", "latent_dim = 8")), "c.toml"), fake_registry).cells()]
    for before, after in zip(first, changed):
        assert (before == after) == ("/flow/" in before)  # only the vae cells changed

    budget = [c.cell_id for c in load_suite(write_suite(suite_text(models=MODELS.replace("steps = 100", "steps = 200")), "d.toml"), fake_registry).cells()]
    assert budget[0] != first[0]


# --------------------------------------------------------------------------------------------------
# `bench validate`
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def cli_with_fake_registry(monkeypatch, fake_registry) -> CliRunner:
    monkeypatch.setattr(benchbench.cli, "command_registry", lambda ctx: fake_registry)
    return CliRunner()


def test_cli_validate_malformed_exits_2(cli_with_fake_registry, write_suite) -> None:
    path = write_suite(suite_text(models=one_model('family = "vae"\nbudget = { steps = 10.5 }')))
    result = cli_with_fake_registry.invoke(benchbench.cli.cli, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert f"{path}: models[0].budget.steps: expected an integer, found 10.5" in result.output
    assert "Traceback" not in result.output


def test_cli_validate_unknown_plugin_exits_2(cli_with_fake_registry, write_suite) -> None:
    path = write_suite(suite_text(models=one_model('family = "vea"\nbudget = { steps = 1 }')))
    result = cli_with_fake_registry.invoke(benchbench.cli.cli, ["validate", str(path)])
    assert result.exit_code == 2
    assert f"{path}: models[0].family: unknown model 'vea'. Did you mean: vae?" in result.output


def test_cli_validate_missing_file_exits_2(cli_with_fake_registry, tmp_path) -> None:
    path = tmp_path / "nope.toml"
    result = cli_with_fake_registry.invoke(benchbench.cli.cli, ["validate", str(path)])
    assert result.exit_code == 2
    assert f"{path}: (file)" in result.output


def test_cli_validate_ok(cli_with_fake_registry, write_suite) -> None:
    path = write_suite(suite_text())
    result = cli_with_fake_registry.invoke(benchbench.cli.cli, ["validate", "--static", str(path)])
    assert result.exit_code == 0, result.output
    assert f"{path}: ok (8 cells: 2 datasets x 2 models x 2 seeds; 2 metrics; static checks only" in result.output
    assert "not checked: loading the data, data kinds, building the models" in result.output


def test_the_quick_suites_time_limit_is_ten_times_its_slowest_reference_cell() -> None:
    """The limit guards against a hang: a cell slowed down by a busy machine (ten times its idle
    time has been seen on 2 cores) must still finish ``ok``."""
    limit = tomllib.loads(Path("suites/quick.toml").read_text())["suite"]["time_limit"]
    records = (json.loads(line) for line in Path("results/quick/reference/cells.jsonl").read_text().splitlines())
    slowest = max(r["wall_seconds"] for r in records if r["kind"] == "cell")
    assert limit >= 10 * slowest, f"time_limit {limit} s leaves less than 10x the slowest cell's {slowest:.0f} s"
