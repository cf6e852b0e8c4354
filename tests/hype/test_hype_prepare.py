"""``prepare``: equal reals and fakes, lossless opaque PNGs, the manifest outside the served folder,
and a clear error for every way the run cannot give a study."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from PIL import Image

from benchbench.engine.cell import load_dataset
from benchbench.errors import UsageError
from benchbench.hype.prepare import prepare_study, to_pixels, upscale_factor
from benchbench.hype.study import load_study
from benchbench.plugin.manager import make_plugin_manager
from benchbench.plugin.registry import build_registry
from hype_helpers import DIGITS, N_SAMPLES


def test_the_study_has_equal_reals_and_fakes_and_ten_noise_images(prepared):
    study = load_study(prepared)
    assert len(study.names("real")) == len(study.names("fake")) == 30
    assert len(study.names("fake", "vigilance")) == 10 and not study.names("real", "vigilance")
    assert prepared == prepared.parents[1] / "hype" / "gan-wgan-gp-digits-seed0"  # RUN_DIR/hype/<model>-<variant>-<dataset>-seed<S>
    info = study.info
    assert (info["cell_id"], info["seed"], info["n"], info["upscale"], info["selection_seed"]) == \
        ("digits/gan/wgan-gp/seed0/abc123", 0, 30, 16, 0)
    assert info["image_size"] == [128, 128]


def test_pngs_are_the_lossless_upscaled_pixels_of_their_source(prepared):
    """Every file, read back with PIL, equals round(255 x) of its source image, repeated 16 x 16."""
    study = load_study(prepared)
    registry = build_registry(make_plugin_manager())
    reals = load_dataset(registry.dataset("digits"), DIGITS).test
    assert DIGITS == registry.dataset("digits").defaults()
    fakes = torch.load(prepared.parents[1] / "samples" / "digits__gan__wgan-gp__seed0__abc123.pt").numpy()
    for name, entry in study.images.items():
        if entry["role"] == "vigilance":
            continue
        source = (reals if entry["label"] == "real" else fakes)[entry["index"]]
        with Image.open(study.image_path(name)) as image:
            assert image.format == "PNG" and image.mode == "L" and image.size == (128, 128)
            pixels = np.asarray(image)
        assert np.array_equal(pixels, to_pixels(source, 16))
        assert np.array_equal(pixels[::16, ::16], np.rint(source[0] * 255).astype(np.uint8))


def test_names_are_opaque_and_the_manifest_is_outside_the_served_folder(prepared):
    study = load_study(prepared)
    served = sorted(p.name for p in (prepared / "images").iterdir())
    assert served == sorted(f"{name}.png" for name in study.images)
    assert all(re.fullmatch(r"[0-9a-f]{16}\.png", name) for name in served)
    assert (prepared / "manifest.json").is_file() and not list((prepared / "images").glob("*.json"))
    manifest = json.loads((prepared / "manifest.json").read_text())
    assert manifest["run_dir"] == str(prepared.parents[1].resolve()) and manifest["model"] == "gan"
    assert "images" not in json.loads((prepared / "study.json").read_text())  # labels only in the manifest
    reals, fakes = study.names("real"), study.names("fake")
    assert sorted(reals + fakes) != reals + fakes  # sorted names interleave the labels: a name says nothing


def test_the_selection_is_seeded_and_seed_picks_the_cell(run_dir, tmp_path):
    first = load_study(prepare_study(run_dir, "gan/wgan-gp", "digits", n=5, seed=1, out=tmp_path / "a"))
    again = load_study(prepare_study(run_dir, "gan/wgan-gp", "digits", n=5, seed=1, out=tmp_path / "b"))
    assert first.info["cell_id"] == "digits/gan/wgan-gp/seed1/abc123"
    indices = lambda s: sorted((e["label"], e["index"]) for e in s.images.values() if e["role"] == "study")  # noqa: E731
    assert indices(first) == indices(again)
    assert set(first.images).isdisjoint(again.images)  # names are fresh every time


@pytest.mark.parametrize(("model", "dataset", "n", "message"), [
    ("vae", "digits", 5, r"no model 'vae' on dataset 'digits'.*Available: gan, gan/ns-gan, gan/wgan-gp"),
    ("gan/wgan", "digits", 5, r"no model 'gan/wgan'.*Did you mean: gan/wgan-gp"),
    ("gan", "mnist", 5, r"no cell on dataset 'mnist'.*Available: 8gaussians, digits"),
    ("gan", "digits", 5, r"'gan' is ambiguous on 'digits': gan/ns-gan, gan/wgan-gp"),
    ("gan/ns-gan", "digits", 5, r"digits__gan__ns-gan__seed0__abc123.pt: no samples for gan/ns-gan"),
    ("flow", "8gaussians", 5, r"HYPE shows images .*these samples are \(40, 2\)"),
    ("gan/wgan-gp", "digits", N_SAMPLES + 1, rf"--n 41 needs 41 samples in .*, there are {N_SAMPLES}"),
])
def test_what_cannot_become_a_study_is_a_usage_error(run_dir, model, dataset, n, message):
    with pytest.raises(UsageError, match=message):
        prepare_study(run_dir, model, dataset, n=n)
    assert not (run_dir / "hype").exists() or not any((run_dir / "hype").iterdir())


def test_other_bad_input(run_dir, tmp_path):
    with pytest.raises(UsageError, match="has no seed 7; seeds: 0, 1"):
        prepare_study(run_dir, "gan/wgan-gp", "digits", n=5, seed=7)
    with pytest.raises(UsageError, match="no cells.jsonl"):
        prepare_study(tmp_path, "gan", "digits")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "answers.jsonl").write_text("")
    with pytest.raises(UsageError, match="already exists"):
        prepare_study(run_dir, "gan/wgan-gp", "digits", n=5, out=tmp_path / "taken")
    with pytest.raises(UsageError, match="not a HYPE study"):
        load_study(tmp_path / "taken")


def test_the_upscale_factor_is_the_smallest_integer_reaching_the_size():
    assert upscale_factor((8, 8), 128) == 16 and upscale_factor((28, 28), 128) == 5 and upscale_factor((32, 32), 128) == 4
    assert upscale_factor((256, 300), 128) == 1
