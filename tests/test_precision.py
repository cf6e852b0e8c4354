"""Mixed precision and compilation per model entry: training and sampling under autocast, the
networks compiled, metrics in fp32, and both in every value's protocol."""

from __future__ import annotations

import textwrap

import pytest
import torch

from benchbench.engine.precision import autocast, compile_networks, protocol_of
from benchbench.engine.runner import run_suite
from benchbench.results.store import read_records


def test_autocast_runs_a_matmul_in_bf16_and_fp32_is_untouched():
    a = torch.randn(4, 4)
    with autocast("bf16", "cpu"):
        assert (a @ a).dtype == torch.bfloat16
    with autocast("fp32", "cpu"):
        assert (a @ a).dtype == torch.float32


def test_compiling_wraps_the_networks_that_hold_parameters():
    model = torch.nn.Module()
    model.net, model.act = torch.nn.Linear(3, 2), torch.nn.ReLU()
    assert compile_networks(model, "eager") == ["net"] and compile_networks(model, False) == []
    assert torch.allclose(model.net(torch.ones(1, 3)), torch.nn.functional.linear(torch.ones(1, 3), model.net.weight, model.net.bias))
    assert protocol_of("bf16", True) == {"precision": "bf16", "compile": "inductor"} and protocol_of("fp32", False) == {}


@pytest.mark.usefixtures("one_thread")
def test_a_vae_cell_in_bf16_with_compiled_networks_learns_and_says_so(tmp_path):
    path = tmp_path / "bf16.toml"
    text = """
        [suite]
        name = "precision"
        samples = 200
        device = "cpu"

        [[datasets]]
        name = "digits"

        [[models]]
        family = "vae"
        name = "{name}"
        params = {{ latent_dim = 4, hidden = 64 }}
        budget = {{ steps = 300 }}
        {extra}

        [[metrics]]
        name = "elbo"
    """
    path.write_text(textwrap.dedent(text.format(name="bf16", extra='precision = "bf16"\ncompile = "eager"')))
    outcome = run_suite(path, results_root=tmp_path / "r", run_id="a", progress=False, echo=lambda s: None)
    assert not outcome.failures, outcome.failures
    records, _ = read_records(outcome.run_dir)
    cell = next(r for r in records if r["kind"] == "cell")
    assert cell["compiled"] == ["encoder", "decoder"]
    elbo = next(r for r in records if r.get("metric") == "neg_elbo")
    assert elbo["protocol"]["precision"] == "bf16" and elbo["protocol"]["compile"] == "eager"
    rate = next(r for r in records if r.get("metric") == "samples_per_second")
    assert rate["protocol"]["sampling"]["precision"] == "bf16"
    losses = next(r for r in records if r["kind"] == "curve")["losses"]["loss"]
    assert losses[-1] < 0.8 * losses[0]  # it learns in bf16
