"""The training loop reads losses back every few steps, not every step: tensors stay unread until
then, the first non-finite step is still the one reported, and nothing is read twice."""

from __future__ import annotations

import math

import pytest
import torch

from benchbench.engine.loss_window import CHECK_EVERY, LossWindow
from benchbench.errors import ContractError, Diverged


class Unread(torch.Tensor):
    """A tensor that counts how often it is read back on its own (``item``)."""

    reads = 0

    def item(self):  # noqa: ANN201 - torch's signature
        Unread.reads += 1
        return super().item()


def test_tensors_wait_unread_until_the_window_is_due_then_come_back_exact():
    window = LossWindow("model 'fake'")
    losses = [torch.tensor(0.1 * (i + 1), dtype=torch.float32).as_subclass(Unread) for i in range(CHECK_EVERY)]
    for step, loss in enumerate(losses, start=1):
        assert not window.due
        window.add(step, {"loss": loss, "kl": 2.0})
    assert window.due and Unread.reads == 0 and all(isinstance(v["loss"], torch.Tensor) for _, v in window.pending)
    read = window.flush()
    assert [s for s, _ in read] == list(range(1, CHECK_EVERY + 1)) and not window.pending
    assert [v["loss"] for _, v in read] == [loss.item() for loss in losses]  # as .item() gives them, bit for bit
    assert all(v["kl"] == 2.0 for _, v in read)


def test_the_first_non_finite_step_is_the_one_reported():
    window = LossWindow("model 'fake'")
    for step in range(1, 8):
        value = math.nan if step in (5, 7) else 1.0
        window.add(step, {"loss": torch.tensor(value)})
    with pytest.raises(Diverged) as caught:
        window.flush()
    assert caught.value.step == 5


def test_a_malformed_loss_is_the_models_contract_error_at_once():
    window = LossWindow("model 'fake'")
    with pytest.raises(ContractError, match="model 'fake'"):
        window.add(1, {"loss": torch.ones(3)})
    with pytest.raises(ContractError, match="model 'fake'"):
        window.add(1, {"loss": "low"})


def test_a_tensor_loss_that_diverges_mid_window_is_recorded_at_its_step(tmp_path):
    """Through the host's loop: the fake returns a tensor loss that turns NaN at step 5, inside
    the first window, and the cell says step 5."""
    from benchbench.engine.runner import run_suite
    from fakes import runnable_registry, write_runnable_suite

    path = write_runnable_suite(tmp_path / "fake.toml", variant="tensor-diverge")
    outcome = run_suite(path, results_root=tmp_path / "results", run_id="r", registry=runnable_registry(),
                        progress=False, echo=lambda s: None)
    assert [(f["status"], f["diverged_step"]) for f in outcome.failures] == [("diverged", 5), ("diverged", 5)]
