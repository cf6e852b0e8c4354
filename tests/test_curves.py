"""Training curves: bounded, windowed means that count every step once, continued across a resume."""

from __future__ import annotations

import pytest

from benchbench.engine.curves import LossCurve


def fed(curve: LossCurve, steps: range) -> LossCurve:
    for step in steps:
        curve.add(step, {"loss": float(step), **({"odd": 1.0} if step % 2 else {})})
    return curve


@pytest.mark.parametrize("total", [1, 7, 16, 1000, 10_001])
def test_points_stay_bounded_and_each_is_its_windows_mean(total):
    result = fed(LossCurve(points=8), range(1, total + 1)).result(total)
    steps, losses = result["steps"], result["losses"]["loss"]
    assert len(steps) <= 2 * 8 + 1 and steps[-1] == total
    starts = [1] + [s + 1 for s in steps[:-1]]
    for start, end, value in zip(starts, steps, losses):
        assert value == pytest.approx((start + end) / 2)  # the mean of start..end, loss = step
    full = [end - start + 1 for start, end in zip(starts, steps)][:-1]
    assert len(set(full)) <= 1 and (not full or full[0] == result["window"])  # evenly spaced windows


def test_a_loss_some_steps_lack_is_averaged_over_the_steps_that_have_it():
    result = fed(LossCurve(points=4), range(1, 9)).result(8)
    assert result["losses"]["odd"] == [1.0] * len(result["steps"])


def test_a_resumed_curve_equals_the_uninterrupted_one():
    whole = fed(LossCurve(points=4), range(1, 101)).result(100)
    first = fed(LossCurve(points=4), range(1, 38))
    second = LossCurve()
    second.load_state_dict(first.state_dict())
    assert fed(second, range(38, 101)).result(100) == whole


def test_the_runner_records_one_curve_per_cell(tmp_path):
    from benchbench.engine.runner import run_suite
    from benchbench.results.store import read_records
    from fakes import runnable_registry, write_runnable_suite

    path = write_runnable_suite(tmp_path / "fake.toml", steps=40)
    outcome = run_suite(path, results_root=tmp_path / "results", run_id="r", registry=runnable_registry(), progress=False,
                        echo=lambda s: None)
    records = read_records(outcome.run_dir)[0]
    curves = [r for r in records if r["kind"] == "curve"]
    assert [(c["seed"], c["steps"][-1]) for c in curves] == [(0, 40), (1, 40)]
    assert set(curves[0]["losses"]) == set(next(r for r in records if r["kind"] == "cell")["final_losses"])
