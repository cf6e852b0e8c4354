"""The plots with axes: which loss a family's panel draws, and what it leaves out."""

from __future__ import annotations

from report_html import decoded_size

from benchbench.report.figures import Curve, curves_figure, main_loss

STEPS = [1, 10, 100, 1000]


def curve(label: str, family: str, *names: str) -> Curve:
    return Curve(label, family, STEPS, {name: [4.0, 3.0, 2.5, 2.0] for name in names})


def test_the_objective_is_the_main_loss_else_the_most_reported_name():
    assert main_loss([curve("ebm/cd", "ebm", "energy_gap", "loss")]) == "loss"
    assert main_loss([curve("flow/maf", "flow", "nll"), curve("flow/iaf-distilled", "flow", "kl")]) == "nll"
    gans = [curve("gan/wgan", "gan", "critic", "wasserstein"), curve("gan/ns-gan", "gan", "critic", "generator")]
    assert main_loss(gans) == "critic"


def test_a_curve_without_its_familys_main_loss_is_named_not_drawn():
    uri, skipped = curves_figure([curve("flow/maf", "flow", "nll"), curve("flow/iaf-distilled", "flow", "kl"),
                                  curve("independent", "independent", "nll")])
    assert skipped == ["flow/iaf-distilled (no nll)"]
    width, height = decoded_size(uri)
    assert width > 2 * height  # two panels side by side
