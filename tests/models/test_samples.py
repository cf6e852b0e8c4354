"""The ``samples`` model family and ``bench eval``: samples made elsewhere, scored as a cell.

The main test scores a built-in cell's saved samples again, as a tensor file, a .npy array and a
folder of PNGs, and gets the cell's own numbers back; then every bad input is refused naming the
file and the mismatch, labelled samples honour the host's conditional sampling, and ``bench eval``
runs end to end.
"""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from benchbench import CapabilityError
from benchbench.cli import cli
from benchbench.engine.runner import run_suite
from benchbench.evaluate import default_metrics, evaluate
from benchbench.plugin.registry import build_registry
from benchbench.results.store import read_records
from benchbench.testing import check_model, eval_context, tiny_datasets
from benchbench_plugins.datasets.toy2d import make_8gaussians
from benchbench_plugins.models.samples.model import build

METRICS = ("fid", "kid", "precision_recall", "mmd")  # fid, kid, precision_recall: the pinned digits classifier
COUNT = 300


def suite(path: Path, name: str, models: str) -> Path:
    metrics = "".join(f'\n[[metrics]]\nname = "{m}"\n' for m in METRICS)
    path.write_text(f'[suite]\nname = "{name}"\nsamples = {COUNT}\n\n[[datasets]]\nname = "digits"\n\n'
                    f"{textwrap.dedent(models)}{metrics}")
    return path


def run(path: Path, tmp_path: Path) -> Path:
    return run_suite(path, results_root=tmp_path / "results", run_id="r", registry=build_registry(), progress=False,
                     echo=lambda line: None, cache_dir=tmp_path / "cache").run_dir


def sample_values(run_dir: Path) -> dict[tuple[str, str], dict]:
    """(model, metric) → record, for every value computed from the samples (not the cost rows)."""
    return {(r["model"], r["metric"]): r for r in read_records(run_dir)[0]
            if r.get("kind") == "metric" and r["metric_spec"] not in ("(runner)", "(sampler)")}


def save_pngs(images: np.ndarray, folder: Path) -> Path:
    """8-bit grey PNGs named 0.png, 1.png, ..., 10.png: read back in natural, not lexicographic, order."""
    folder.mkdir()
    for i, image in enumerate(images):  # (1, H, W) in [0, 1]
        Image.fromarray(np.round(image[0] * 255).astype(np.uint8)).save(folder / f"{i}.png")
    return folder


@pytest.fixture()
def bench_eval():
    cli.add_command(evaluate)  # what cli.py does; idempotent
    return lambda *args: CliRunner().invoke(cli, ["eval", *map(str, args)])


# ---- (1) a cell's samples, scored again, give the cell's numbers -----------------------------------------


def test_a_cells_saved_samples_scored_again_give_the_cells_own_numbers(tmp_path):
    original = run(suite(tmp_path / "original.toml", "original", """
        [[models]]
        family = "independent"
        budget = { steps = 20 }
        """), tmp_path)
    pt = next((original / "samples").glob("*.pt"))
    samples = torch.load(pt)
    np.save(tmp_path / "samples.npy", samples.numpy())
    pngs = save_pngs(samples.numpy(), tmp_path / "pngs")
    again = run(suite(tmp_path / "again.toml", "again", "".join(f"""
        [[models]]
        family = "samples"
        name = "{name}"
        params = {{ path = "{path}" }}
        budget = {{ steps = 1 }}
        """ for name, path in [("pt", pt), ("npy", tmp_path / "samples.npy"), ("png", pngs)])), tmp_path)

    cell, scored = sample_values(original), sample_values(again)
    assert {m for _, m in cell} >= {"fid[classifier]", "kid[classifier]", "precision[classifier]", "mmd2"}
    for source in ("pt", "npy", "png"):
        for (_, metric), record in cell.items():
            # Every one is deterministic given the samples and the cell's seed (KID's subsets and MMD's
            # permutations are seeded by it), so the same samples give the same numbers. The PNGs are 8-bit:
            # round(255 k / 16) / 255 is no level, but rounding to the 17 levels k / 16 restores each value.
            assert scored[source, metric]["value"] == pytest.approx(record["value"], rel=1e-6, abs=1e-12), (source, metric)
    sampling = {source: scored[source, "fid[classifier]"]["protocol"]["sampling"] for source in ("pt", "npy", "png")}
    assert sampling["pt"]["sha256"] == hashlib.sha256(pt.read_bytes()).hexdigest()
    assert len({s["sha256"] for s in sampling.values()}) == 3  # three files, three hashes: never compared as one
    assert sampling["pt"]["level_offset_max"] == sampling["npy"]["level_offset_max"] == 0.0  # saved at the levels
    assert 0 < sampling["png"]["level_offset_max"] <= 0.5 / 255  # 8-bit rounding, undone by the levels
    assert "sampling" not in cell[next(iter(cell))]["protocol"]  # the independent baseline says nothing of its sampling


# ---- (2) bad input: an error naming the file and the mismatch, and exit status 2 --------------------------


def write_npy(array: np.ndarray):
    def write(folder: Path) -> Path:
        np.save(folder / "bad.npy", array)
        return folder / "bad.npy"
    return write


def mixed_sizes(folder: Path) -> Path:
    save_pngs(np.zeros((3, 1, 8, 8)), folder / "mixed")
    Image.fromarray(np.zeros((9, 9), np.uint8)).save(folder / "mixed" / "3.png")
    return folder / "mixed"


def text_file(folder: Path) -> Path:
    (folder / "notes.txt").write_text("not samples")
    return folder / "notes.txt"


def folder_with_text(folder: Path) -> Path:
    save_pngs(np.zeros((2, 1, 8, 8)), folder / "images")
    (folder / "images" / "README.txt").write_text("samples of my model")
    return folder / "images"


def corrupt_npy(folder: Path) -> Path:
    (folder / "broken.npy").write_bytes(b"\x93NUMPY garbage")
    return folder / "broken.npy"


BAD = {  # what is wrong: (writes the file and returns its path, the file named in the error, the mismatch)
    "wrong size": (write_npy(np.zeros((10, 1, 16, 16))), "bad.npy", "16x16 pixels; dataset 'digits' has 8x8 (wrong size)"),
    "wrong channel count": (write_npy(np.zeros((10, 3, 8, 8))), "bad.npy", "3 channels (NCHW); dataset 'digits' has 1"),
    "channels last": (write_npy(np.zeros((10, 8, 8, 3))), "bad.npy", "3 channels (NHWC)"),
    "outside the range": (write_npy(np.full((10, 1, 8, 8), 16.0)), "bad.npy",
                          "values outside the range 0-1: they span [16, 16] (640 of 640 outside); set range = '0-255'"),
    "not finite": (write_npy(np.full((10, 1, 8, 8), np.nan)), "bad.npy", "640 values are NaN or infinite"),
    "mixed sizes in a folder": (mixed_sizes, "mixed", "mixed image sizes: 0.png is 8x8 pixels, 3.png is 9x9"),
    "not an image or array": (text_file, "notes.txt", "not an image folder or an array file"),
    "not an image in the folder": (folder_with_text, "README.txt", "not a PNG or JPEG image"),
    "not a readable array": (corrupt_npy, "broken.npy", "not a readable .npy file"),
    "missing": (lambda folder: folder / "absent.npz", "absent.npz", "no such file or folder"),
}


@pytest.mark.parametrize("problem", BAD)
def test_bad_input_is_refused_naming_the_file_and_the_mismatch(problem, digits, tmp_path, bench_eval):
    write, name, mismatch = BAD[problem]
    path = write(tmp_path)
    with pytest.raises(CapabilityError) as refused:
        build(digits, path=str(path))
    assert name in str(refused.value) and mismatch in str(refused.value)
    result = bench_eval(path, "--dataset", "digits", "--results", tmp_path / "results")
    assert result.exit_code == 2, result.output
    assert name in result.output and mismatch in result.output
    assert not (tmp_path / "results").exists()  # refused before anything is written


def test_asking_for_more_samples_than_the_file_holds_names_the_file_and_both_counts(digits, tmp_path, bench_eval):
    np.save(tmp_path / "ten.npy", digits.test[:10])
    model = build(digits, path=str(tmp_path / "ten.npy"))
    with pytest.raises(CapabilityError, match=r"ten\.npy: holds 10 samples, 11 asked for"):
        model.sample(11)
    assert model.sample(10).shape == (10, 1, 8, 8)
    result = bench_eval(tmp_path / "ten.npy", "--dataset", "digits", "--samples", 11)
    assert result.exit_code == 2 and "ten.npy: holds 10 samples, --samples asks for 11" in result.output


def test_conversion_follows_the_layout_range_and_levels_asked_for(tmp_path):
    binary, vectors = tiny_datasets()["binary"], tiny_datasets()["continuous"]
    np.save(tmp_path / "hwc.npy", np.full((4, 8, 8, 1), 255, np.uint8))  # uint8 channels-last, 0-255
    model = build(binary, path=str(tmp_path / "hwc.npy"), range="0-255")
    assert model.sample(4).eq(1.0).all() and model.sampling_protocol()["layout"] == "NHWC"
    np.save(tmp_path / "tanh.npy", np.linspace(-1, 1, 4 * 64).reshape(4, 1, 8, 8))  # a tanh output, between levels
    levels = build(tiny_datasets()["discrete"], path=str(tmp_path / "tanh.npy"), range="-1-1").sample(4)
    assert torch.equal(levels, torch.round(levels * 16) / 16) and levels.min() == 0 and levels.max() == 1
    np.save(tmp_path / "points.npy", vectors.test * 100)  # continuous vectors: data units, as they are
    assert torch.allclose(build(vectors, path=str(tmp_path / "points.npy")).sample(16), torch.as_tensor(vectors.test * 100))
    with pytest.raises(CapabilityError, match="continuous vectors, taken in data units"):
        build(vectors, path=str(tmp_path / "points.npy"), range="0-1")


# ---- (3) labels: conditional sampling gives samples of the requested classes ----------------------------


def labelled(tmp_path: Path, per_class: int) -> Path:
    """An .npz of images that say what they are: pixel 0 holds the label's level (label / 16), pixels 1
    and 2 the image's index in the file (16 a + b); the labels under ``y``, the classes shuffled."""
    y = np.repeat(np.arange(10), per_class)[np.random.default_rng(0).permutation(10 * per_class)]
    x = np.zeros((len(y), 1, 8, 8))
    x[:, 0, 0, :3] = np.stack([y, np.arange(len(y)) // 16, np.arange(len(y)) % 16], 1) / 16
    np.savez(tmp_path / "labelled.npz", x=x, y=y)
    return tmp_path / "labelled.npz"


def label_and_index(images: torch.Tensor) -> tuple[list[int], list[int]]:
    codes = (images[:, 0, 0, :3] * 16).round().long()
    return codes[:, 0].tolist(), (16 * codes[:, 1] + codes[:, 2]).tolist()


def test_labelled_samples_are_drawn_for_the_labels_the_host_asks(digits, tmp_path):
    path = labelled(tmp_path, per_class=6)
    model = check_model(build_registry().model("samples"), digits, "default", path=str(path), labels_key="y")
    assert model.capabilities == {"conditional"}
    context = eval_context(model, digits, samples=50)  # as the host draws them: class-balanced, 5 of each class
    assert label_and_index(context.samples)[0] == context.sample_labels.tolist()
    y = np.load(path)["y"]
    asked = torch.tensor([3, 3, 1, 3])  # for each, the next unused sample of its class in file order
    threes, ones = np.flatnonzero(y == 3), np.flatnonzero(y == 1)
    assert label_and_index(model.sample(4, asked)) == ([3, 3, 1, 3], [threes[0], threes[1], ones[0], threes[2]])
    with pytest.raises(CapabilityError, match=r"labelled\.npz: holds 6 samples of class 3, 7 asked for"):
        model.sample(7, torch.full((7,), 3))
    np.save(tmp_path / "labels.npy", y)  # the same labels, in a file of their own
    by_file = build(digits, path=str(path), key="x", labels=str(tmp_path / "labels.npy"))
    assert torch.equal(by_file.sample(10, torch.arange(10)), model.sample(10, torch.arange(10)))
    assert by_file.sampling_protocol()["labels_sha256"] == hashlib.sha256((tmp_path / "labels.npy").read_bytes()).hexdigest()
    assert build(digits, path=str(path), key="x").capabilities == frozenset()  # without labels: not conditional


def test_labels_that_do_not_fit_are_refused(digits, tmp_path):
    path = labelled(tmp_path, per_class=2)
    np.save(tmp_path / "short.npy", np.zeros(5, np.int64))
    with pytest.raises(CapabilityError, match=r"short\.npy: labels shaped \(5,\) for 20 samples"):
        build(digits, path=str(path), key="x", labels=str(tmp_path / "short.npy"))
    np.save(tmp_path / "eleven.npy", np.full(20, 11))
    with pytest.raises(CapabilityError, match=r"eleven\.npy: labels span 11\.\.11; dataset 'digits' has classes 0\.\.9"):
        build(digits, path=str(path), key="x", labels=str(tmp_path / "eleven.npy"))
    unlabelled = tiny_datasets()["binary"]
    np.save(tmp_path / "bits.npy", unlabelled.test)
    with pytest.raises(CapabilityError, match="dataset 'tiny-binary' has no labels to condition on"):
        build(unlabelled, path=str(tmp_path / "bits.npy"), labels=str(tmp_path / "short.npy"))


# ---- (4) bench eval, end to end ----------------------------------------------------------------------------


def test_bench_eval_scores_an_array_and_a_different_file_is_not_comparable(digits, tmp_path, bench_eval):
    np.save(tmp_path / "mine.npy", digits.test[:200])
    results = tmp_path / "results"
    result = bench_eval(tmp_path / "mine.npy", "--dataset", "digits", "--results", results, "--run-id", "a")
    assert result.exit_code == 0, result.output
    assert "fid[classifier]" in result.output and "kid[classifier]" in result.output and "mine" in result.output
    assert 'family = "samples"' in (results / "eval" / "a" / "suite.toml").read_text()
    save_pngs(digits.test[:200], tmp_path / "mine")
    again = bench_eval(tmp_path / "mine", "--dataset", "digits", "--results", results, "--run-id", "b", "--metrics", "fid")
    assert again.exit_code == 0, again.output
    compared = CliRunner().invoke(cli, ["compare", *(str(results / "eval" / run / "leaderboard.csv") for run in "ab")])
    assert compared.exit_code == 0, compared.output
    fid_row = next(line for line in compared.output.splitlines() if "fid[classifier]" in line)
    assert "not comparable" in fid_row and "sampling" in fid_row


def test_bench_eval_refuses_unknown_metrics_and_parameters_as_the_suite_loader_does(digits, tmp_path, bench_eval):
    np.save(tmp_path / "mine.npy", digits.test[:20])
    unknown = bench_eval(tmp_path / "mine.npy", "--dataset", "digits", "--metrics", "fid,fdi")
    assert unknown.exit_code == 2 and "unknown metric 'fdi'" in unknown.output and "Did you mean: fid" in unknown.output
    misspelt = bench_eval(tmp_path / "mine.npy", "--dataset", "digits", "--param", "layuot=NHWC")
    assert misspelt.exit_code == 2 and "layuot" in misspelt.output and "Did you mean: layout" in misspelt.output


def test_default_metrics_are_the_sample_metrics_that_apply(digits):
    installed = build_registry().names("metric")
    assert default_metrics(digits, installed) == ["fid", "kid", "precision_recall", "mmd"]
    ring = make_8gaussians(n_train=100, n_val=50, n_test=50, data_seed=0, std=0.2, radius=2.0)
    assert default_metrics(ring, installed) == ["mmd", "mode_coverage", "parzen"]
    assert default_metrics(tiny_datasets()["continuous"], installed) == ["mmd", "parzen"]  # no known modes
