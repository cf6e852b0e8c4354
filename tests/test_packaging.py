"""Meta-tests: every plugin package ships in the wheel with an entry point; every hook is
documented; the public face exports what plugins need."""

from __future__ import annotations

import inspect
import tomllib
from pathlib import Path

import benchbench
from benchbench.plugin import hookspecs

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def plugin_packages_on_disk() -> set[str]:
    return {
        "benchbench_plugins" + "".join(f".{part}" for part in init.parent.relative_to(ROOT / "plugins").parts)
        for init in (ROOT / "plugins").rglob("__init__.py")
    }


def test_every_plugin_folder_is_listed_in_the_package_list():
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    missing = plugin_packages_on_disk() - listed
    assert not missing, f"add {sorted(missing)} to [tool.setuptools] packages in pyproject.toml, then reinstall (pip install -e .)"


def test_every_host_folder_is_listed_in_the_package_list():
    host = {"benchbench" + "".join(f".{p}" for p in i.parent.relative_to(ROOT / "benchbench").parts) for i in (ROOT / "benchbench").rglob("__init__.py")}
    assert host <= set(PYPROJECT["tool"]["setuptools"]["packages"])


def test_the_pinned_classifier_weights_ship_in_the_wheel():
    declared = PYPROJECT["tool"]["setuptools"]["package-data"]["benchbench_plugins.metrics.features"]
    folder = ROOT / "plugins" / "metrics" / "features" / "pinned"
    shipped = {p.name for pattern in declared for p in (ROOT / "plugins" / "metrics" / "features").glob(pattern)}
    assert shipped == {p.name for p in folder.iterdir()}, "declare every file of pinned/ in [tool.setuptools.package-data]"
    assert "manifest.json" in shipped


def test_every_plugin_module_has_an_entry_point_and_every_entry_point_a_module():
    entry_points = PYPROJECT["project"]["entry-points"]["benchbench"]
    providers = set()
    for path in (ROOT / "plugins").rglob("*.py"):
        if "@benchbench.hookimpl" in path.read_text():
            relative = path.relative_to(ROOT / "plugins").with_suffix("")
            parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
            providers.add("benchbench_plugins." + ".".join(parts))
    assert providers == set(entry_points.values()), "entry points need a reinstall when added (pip install -e .)"


def test_every_hook_is_documented_with_when_and_what():
    hooks = [getattr(hookspecs, name) for name in dir(hookspecs) if name.startswith("benchbench_")]
    assert {h.__name__ for h in hooks} == {"benchbench_models", "benchbench_metrics", "benchbench_datasets", "benchbench_executors",
                                          "benchbench_cell_finished"}
    for hook in hooks:
        doc = inspect.getdoc(hook) or ""
        assert len(doc.splitlines()) >= 3, f"{hook.__name__} needs a docstring that says when it is called and what it returns"
        assert hasattr(hook, "benchbench_spec")


def test_public_face_exports_everything_a_plugin_needs():
    for name in benchbench.__all__:
        assert getattr(benchbench, name) is not None
    import torch

    assert issubclass(benchbench.Model, torch.nn.Module)
