"""Third-party plugins: the example plugin installed for real, and discovery's failure modes with
fake distributions.

The real install proves the whole path a user takes (pip, entry point, ``bench list``, a suite).
The fake distributions are real ``*.dist-info`` folders in a temporary directory; the manager sees
only them because ``importlib.metadata.entry_points`` is replaced by one that reads that directory.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchbench.cli import cli
from benchbench.errors import PluginError
from benchbench.plugin.manager import DISABLE_ENV, TRACE_ENV, make_plugin_manager
from benchbench.plugin.registry import Registry, build_registry

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_DIR = ROOT / "examples" / "benchbench-example-plugin"
EXAMPLE_SUITE = ROOT / "examples" / "example_suite.toml"
EXAMPLE_DIST = "benchbench-example-plugin"
EXAMPLE_PACKAGE = "benchbench_example"


# -------------------------------------------------------------------------------------------------
# The example plugin, installed with pip into the test environment
# -------------------------------------------------------------------------------------------------


def _pip(*args: str) -> None:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    result = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, env=env)
    if result.returncode != 0:
        pytest.fail(f"pip {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")


def _forget_example() -> None:
    for name in [m for m in sys.modules if m == EXAMPLE_PACKAGE or m.startswith(f"{EXAMPLE_PACKAGE}.")]:
        del sys.modules[name]
    importlib.invalidate_caches()


@pytest.fixture(scope="module")
def installed_example(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Install the example plugin as a user would (not editable), yield its version, uninstall.

    Module-scoped rather than session-scoped: installed once, and gone before other test modules
    run, so they never see a third-party plugin. pip builds from a copy so that its build folders
    never land in the repository.
    """
    source = tmp_path_factory.mktemp("example") / EXAMPLE_DIR.name
    shutil.copytree(EXAMPLE_DIR, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    _pip("install", "--no-deps", "--no-build-isolation", "-q", str(source))
    _forget_example()
    try:
        yield importlib.metadata.version(EXAMPLE_DIST)
    finally:
        _pip("uninstall", "-y", EXAMPLE_DIST)
        _forget_example()


def _listed(stdout: str, name: str) -> str:
    line = next((line for line in stdout.splitlines() if line.split()[:1] == [name]), None)
    assert line is not None, f"{name!r} is not in `bench list`:\n{stdout}"
    return line


def test_bench_list_shows_the_installed_plugin(installed_example: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != DISABLE_ENV}
    result = subprocess.run([sys.executable, "-m", "benchbench", "list"], capture_output=True, text=True,
                            cwd=tmp_path, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    origin = f"(example: {EXAMPLE_DIST} {installed_example}, v1)"
    assert _listed(result.stdout, "example-gaussian").endswith(f"[full, diagonal]  {origin}")
    assert _listed(result.stdout, "example-mean-gap").endswith(origin)
    assert "plugin 'example'" not in result.stderr


def test_example_suite_runs_with_the_installed_plugin(installed_example: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from benchbench.engine.runner import run_suite

    monkeypatch.delenv(DISABLE_ENV, raising=False)
    registry = build_registry(make_plugin_manager())
    assert registry.entries["model"]["example-gaussian"].plugin == "example"
    if "8gaussians" not in registry.names("dataset"):
        pytest.fail("examples/example_suite.toml needs the dataset '8gaussians' from the built-in toy2d plugin, "
                    f"which is not registered. Datasets: {registry.names('dataset')}; "
                    f"plugin problems: {sorted(registry.problems)}")
    outcome = run_suite(EXAMPLE_SUITE, results_root=tmp_path / "results", run_id="example", registry=registry,
                        progress=False, echo=lambda _: None, cache_dir=tmp_path / "cache")
    assert not outcome.failures
    board = outcome.leaderboard
    rows = board[(board["model"] == "example-gaussian") & (board["metric"] == "example-mean-gap")]
    assert sorted(zip(rows["dataset"], rows["variant"])) == [
        ("8gaussians", "diagonal"), ("8gaussians", "full"), ("example-ring", "diagonal"), ("example-ring", "full")]
    assert (rows["status"] == "ok").all()
    assert (rows["direction"] == "lower").all()
    assert rows["mean"].astype(float).between(0, 10).all()
    assert set(rows["model_distribution"]) == {f"{EXAMPLE_DIST} {installed_example}"}
    assert set(rows["metric_plugin"]) == {"example"}


def test_the_example_plugins_own_tests_pass_through_the_public_testing_module(installed_example: str) -> None:
    """docs/plugins.md's "Testing a plugin" is this folder: an author's tests, run as an author runs them."""
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], capture_output=True,
                            text=True, cwd=EXAMPLE_DIR, env={k: v for k, v in os.environ.items() if k != DISABLE_ENV}, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout and "failed" not in result.stdout


# -------------------------------------------------------------------------------------------------
# Fake distributions: discovery's failure modes
# -------------------------------------------------------------------------------------------------

MODEL_PLUGIN = """
    import benchbench

    @benchbench.hookimpl
    def benchbench_models():
        return [benchbench.ModelSpec({name!r}, "a fake model", "unused:factory")]
"""

Install = Callable[..., None]


@pytest.fixture
def fake_dists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Install]:
    """``install(dist, plugins={entry-point name: module source})`` writes a distribution that the
    plugin manager, and only it, sees as installed. Each plugin's module is named ``fake_<name>``."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    for variable in (DISABLE_ENV, TRACE_ENV):
        monkeypatch.delenv(variable, raising=False)
    modules: list[str] = []

    def install(dist: str, plugins: dict[str, str], version: str = "1.0") -> None:
        info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        lines = [f"{name} = fake_{name}_{dist.replace('-', '_')}" for name in plugins]
        (info / "entry_points.txt").write_text("[benchbench]\n" + "\n".join(lines) + "\n")
        for name, source in plugins.items():
            module = f"fake_{name}_{dist.replace('-', '_')}"
            (site / f"{module}.py").write_text(textwrap.dedent(source))
            modules.append(module)

    def entry_points(**selection: str) -> importlib.metadata.EntryPoints:
        dists = sorted(importlib.metadata.distributions(path=[str(site)]), key=lambda d: d.metadata["Name"])
        return importlib.metadata.EntryPoints(ep for d in dists for ep in d.entry_points).select(**selection)

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    yield install
    for module in modules:
        sys.modules.pop(module, None)


def _registry(**options: object) -> Registry:
    return build_registry(make_plugin_manager(**options))


def _bomb(marker: Path) -> str:
    """A plugin module that leaves a mark and fails as soon as it is imported."""
    return f"""
        open({str(marker)!r}, "a").write("imported")
        raise RuntimeError("this plugin is disabled and must never be imported")
    """


def test_a_plugin_that_fails_to_import_is_reported_and_the_others_load(fake_dists: Install) -> None:
    fake_dists("broken-dist", {"broken": "import a_dependency_that_is_not_installed\n"})
    fake_dists("good-dist", {"good": MODEL_PLUGIN.format(name="good-model")})
    registry = _registry()
    problem = registry.problems["broken"]
    assert problem.startswith('Error importing plugin "broken" (fake_broken_broken_dist): ModuleNotFoundError')
    assert "a_dependency_that_is_not_installed" in problem
    assert "Traceback" in problem
    assert registry.names("model") == ["good-model"]
    assert registry.entries["model"]["good-model"].origin == "good-dist 1.0"


def test_a_misspelt_hook_is_reported_with_the_right_name(fake_dists: Install) -> None:
    fake_dists("typo-dist", {"typo": MODEL_PLUGIN.format(name="typo-model").replace("benchbench_models", "benchbench_modles")})
    registry = _registry()
    assert "'benchbench_modles'" in registry.problems["typo"]
    assert "Did you mean: benchbench_models," in registry.problems["typo"]
    assert registry.manager.get_plugin("typo") is None


def test_an_unmarked_hook_is_reported(fake_dists: Install) -> None:
    fake_dists("plain-dist", {"plain": MODEL_PLUGIN.format(name="plain-model").replace("@benchbench.hookimpl", "")})
    registry = _registry()
    assert registry.problems["plain"] == "'benchbench_models' is not marked with @benchbench.hookimpl"
    assert registry.names("model") == []


def test_importing_another_benchbench_package_is_not_a_hook(fake_dists: Install, tmp_path: Path) -> None:
    (tmp_path / "site" / "benchbench_helpers.py").write_text("VALUE = 1\n")
    fake_dists("user-dist", {"user": "import benchbench_helpers\n" + textwrap.dedent(MODEL_PLUGIN.format(name="m"))})
    try:
        registry = _registry()
    finally:
        sys.modules.pop("benchbench_helpers", None)
    assert registry.problems == {}
    assert registry.names("model") == ["m"]


def test_two_plugins_registering_one_model_name_is_a_clash_that_names_both(fake_dists: Install) -> None:
    fake_dists("alpha-dist", {"alpha": MODEL_PLUGIN.format(name="shared")})
    fake_dists("beta-dist", {"beta": MODEL_PLUGIN.format(name="shared")}, version="2.0")
    registry = _registry()
    assert registry.problems == {}
    assert [p.plugin for p in registry.clashes["model"]["shared"]] == ["alpha", "beta"]
    with pytest.raises(PluginError) as caught:
        registry.model("shared")
    assert ("model 'shared' is provided by 2 plugins: plugin 'alpha' (alpha-dist 1.0), plugin 'beta' (beta-dist 2.0). "
            "benchbench does not choose between them") in str(caught.value)
    assert "`bench -p no:alpha ...` or `bench -p no:beta ...`" in str(caught.value)
    assert _registry(disabled=["alpha"]).model("shared") is not None


def test_one_plugin_name_from_two_distributions_loads_neither(fake_dists: Install) -> None:
    fake_dists("alpha-dist", {"same": MODEL_PLUGIN.format(name="from-alpha")})
    fake_dists("beta-dist", {"same": MODEL_PLUGIN.format(name="from-beta")})
    registry = _registry()
    assert registry.problems == {"same": "plugin name 'same' is declared by 2 distributions (alpha-dist 1.0, beta-dist 1.0); "
                                         "neither is loaded, since which one would win depends on install order: uninstall one of them"}
    assert registry.names("model") == []
    assert "fake_same_alpha_dist" not in sys.modules and "fake_same_beta_dist" not in sys.modules


BUILT_INS = {"flow": "from benchbench_plugins.models.flow import benchbench_models\n",
             "toy2d": "from benchbench_plugins.datasets.toy2d import benchbench_datasets\n"}
FLOW_SUITE = """
[[datasets]]
name = "8gaussians"

[[models]]
family = "flow"
variant = "realnvp"
budget = { steps = 2 }
"""


@pytest.mark.parametrize("impostor_dist", ["aaa-impostor", "zzz-impostor"], ids=["loads-first", "loads-last"])
def test_a_third_party_model_named_like_a_built_in_is_refused_whatever_the_load_order(
        fake_dists: Install, tmp_path: Path, impostor_dist: str) -> None:
    fake_dists("benchbench", BUILT_INS, version="0.1.0")
    fake_dists(impostor_dist, {"impostor": MODEL_PLUGIN.format(name="flow")})
    suite = tmp_path / "flow.toml"
    suite.write_text(FLOW_SUITE)
    clash = (f"model 'flow' is provided by 2 plugins: plugin 'flow' (benchbench 0.1.0), plugin 'impostor' ({impostor_dist} 1.0). "
             "benchbench does not choose between them; disable the one you do not want")
    for command in (["validate", "--static", str(suite)], ["run", str(suite), "--results", str(tmp_path / "results")]):
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 2, result.output
        assert f"{suite}: models[0].family: {clash}" in result.output
    assert not (tmp_path / "results").exists()
    listed = CliRunner().invoke(cli, ["list"])
    assert "CLASH: provided by several plugins" in listed.output and f"clash: {clash}" in listed.output
    # The user chooses: with the impostor disabled the built-in is used, and the other way round.
    assert CliRunner().invoke(cli, ["-p", "no:impostor", "validate", "--static", str(suite)]).exit_code == 0
    chosen = _registry(disabled=["flow"]).entries["model"]["flow"]
    assert (chosen.plugin, chosen.origin) == ("impostor", f"{impostor_dist} 1.0")


def test_a_plugin_disabled_by_argument_is_never_imported(fake_dists: Install, tmp_path: Path) -> None:
    marker = tmp_path / "imported"
    fake_dists("bomb-dist", {"bomb": _bomb(marker)})
    fake_dists("good-dist", {"good": MODEL_PLUGIN.format(name="good-model")})
    registry = _registry(disabled=["bomb"])
    assert not marker.exists()
    assert registry.problems == {}
    assert registry.names("model") == ["good-model"]


def test_a_plugin_disabled_by_environment_is_never_imported(fake_dists: Install, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "imported"
    fake_dists("bomb-dist", {"bomb": _bomb(marker)})
    fake_dists("good-dist", {"good": MODEL_PLUGIN.format(name="good-model")})
    monkeypatch.setenv(DISABLE_ENV, "unknown , bomb")
    registry = _registry()
    assert not marker.exists()
    assert registry.problems == {}
    assert registry.names("model") == ["good-model"]


def test_cli_p_no_name_disables_a_plugin(fake_dists: Install, tmp_path: Path) -> None:
    marker = tmp_path / "imported"
    fake_dists("bomb-dist", {"bomb": _bomb(marker)})
    fake_dists("good-dist", {"good": MODEL_PLUGIN.format(name="good-model")})
    result = CliRunner().invoke(cli, ["-p", "no:bomb", "list"])
    assert result.exit_code == 0, result.output
    assert "good-model" in result.output
    assert "bomb" not in result.output
    assert not marker.exists()
    # The same fake plugin is imported, and reported, without the option: the fake is real enough.
    result = CliRunner().invoke(cli, ["list"])
    assert marker.exists()
    assert "problem: plugin 'bomb': Error importing plugin \"bomb\"" in result.output


def test_tracing_shows_loading_and_discovery(fake_dists: Install, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dists("good-dist", {"good": MODEL_PLUGIN.format(name="good-model")})
    monkeypatch.setenv(TRACE_ENV, "1")
    _registry()
    trace = capsys.readouterr().err
    assert "[plugins] loaded good from good-dist 1.0" in trace
    assert "[plugins] benchbench_models good -> ['good-model']" in trace
