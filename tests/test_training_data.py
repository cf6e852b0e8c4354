"""A streamed training split trains on exactly the batches a whole-tensor one does, resumes the same
way, and is chosen for memory-mapped data; the array-folder dataset that memory-maps it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import benchbench
from benchbench import UsageError
from benchbench.engine.suite import Budget
from benchbench.engine.training import FitPlan, fit
from benchbench.engine.training_data import Streamed, WholeTensor, choose_placement, on_disk, training_data
from benchbench.nn import dequantize


class Recorder(benchbench.Model):
    """Keeps every batch and its labels, after the host's transform; learns a mean so that it has
    optimiser state to checkpoint."""

    def __init__(self):
        super().__init__()
        self.mean = torch.nn.Parameter(torch.zeros(3))
        self.opt = torch.optim.SGD(self.parameters(), lr=0.1)
        self.seen: list[tuple[torch.Tensor, torch.Tensor | None]] = []

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, float]:
        self.seen.append((x.clone(), None if y is None else y.clone()))
        loss = ((x - self.mean) ** 2).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return {"loss": loss.detach()}


def _plan(steps: int, checkpoint=None) -> FitPlan:
    """Batches of 8 over 50 rows (an epoch of 7 steps, the last one short), dequantised with the
    loop's generator, so the generator's draws interleave with the epochs' orders."""
    return FitPlan(Budget("steps", steps), 8, checkpoint=checkpoint, checkpoint_every=5, progress=False,
                   transform=lambda batch, generator: dequantize(batch, 17, generator))


@pytest.fixture
def rows() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.integers(0, 17, size=(50, 3)).astype(np.float32) / 16, rng.integers(0, 4, size=50)


def _fit(data, steps: int, checkpoint=None, labels=None) -> Recorder:
    model = Recorder()
    fit(model, data, labels, _plan(steps, checkpoint), seed=3)
    return model


def _same_batches(a: list, b: list) -> None:
    assert len(a) == len(b)
    for (xa, ya), (xb, yb) in zip(a, b):
        assert torch.equal(xa, xb)
        assert (ya is None and yb is None) or torch.equal(ya, yb)


@pytest.mark.parametrize("workers", [0, 2])
def test_a_streamed_split_gives_the_whole_tensors_batches_step_for_step(one_thread, rows, workers):
    x, y = rows
    whole = _fit(torch.as_tensor(x), 20, labels=torch.as_tensor(y))
    streamed = _fit(Streamed(x, y, "cpu", workers=workers), 20)
    _same_batches(whole.seen, streamed.seen)
    assert torch.equal(whole.mean, streamed.mean)
    assert len({tuple(batch[1].tolist()) for batch in whole.seen[:7]}) == 7  # really shuffled, not one batch repeated


def test_a_streamed_fit_resumes_mid_epoch_where_it_stopped(one_thread, rows, tmp_path):
    x, y = rows
    uninterrupted = _fit(torch.as_tensor(x), 20, labels=torch.as_tensor(y))
    checkpoint = tmp_path / "ckpt.pt"
    _fit(Streamed(x, y, "cpu"), 10, checkpoint)  # stops at step 10 of 20, in the second epoch
    resumed = _fit(Streamed(x, y, "cpu"), 20, checkpoint)
    _same_batches(uninterrupted.seen[10:], resumed.seen)
    assert torch.equal(uninterrupted.mean, resumed.mean)


def test_memory_mapped_splits_are_streamed_and_in_memory_ones_placed_whole(rows, tmp_path):
    x, _ = rows
    np.save(tmp_path / "train.npy", x)
    mapped = np.load(tmp_path / "train.npy", mmap_mode="r")
    assert on_disk(mapped) and on_disk(mapped[:40]) and not on_disk(x) and not on_disk(np.array(mapped))
    assert choose_placement(mapped, "cpu", "auto") == "stream"
    assert choose_placement(x, "cpu", "auto") == "device"
    assert choose_placement(mapped, "cpu", "device") == "device"
    assert isinstance(training_data(x, None, "cpu", "stream", 0), Streamed)
    assert isinstance(training_data(mapped, None, "cpu", "device", 0), WholeTensor)
    with pytest.raises(ValueError, match="placement must be one of"):
        choose_placement(x, "cpu", "disk")


def test_on_a_gpu_auto_streams_a_split_over_a_quarter_of_the_free_memory(rows, monkeypatch):
    x, _ = rows  # 600 bytes
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (2000, 8000))
    assert choose_placement(x, "cuda:0", "auto") == "stream"
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (4000, 8000))
    assert choose_placement(x, "cuda:0", "auto") == "device"


# ---- the array-folder dataset ------------------------------------------------------------------


def _folder(tmp_path, n_train=40, val=False, labels=True):
    rng = np.random.default_rng(1)
    np.save(tmp_path / "train.npy", rng.random((n_train, 1, 4, 4), dtype=np.float32))
    np.save(tmp_path / "test.npy", rng.random((10, 1, 4, 4), dtype=np.float32))
    if val:
        np.save(tmp_path / "val.npy", rng.random((6, 1, 4, 4), dtype=np.float32))
    if labels:
        np.save(tmp_path / "train_labels.npy", np.arange(n_train) % 3)
        np.save(tmp_path / "test_labels.npy", np.arange(10) % 3)
        if val:
            np.save(tmp_path / "val_labels.npy", np.arange(6) % 3)
    return tmp_path


def _make(folder, **params):
    from benchbench_plugins.datasets.array_folder import make_array_folder

    return make_array_folder(**{"root": str(folder), "kind": "continuous", "levels": 256, "n_val": 8, **params})


def test_the_array_folder_maps_its_training_split_and_carves_validation_from_its_end(tmp_path):
    folder = _folder(tmp_path)
    data = _make(folder)
    stored = np.load(folder / "train.npy")
    assert on_disk(data.train) and not on_disk(data.val) and not on_disk(data.test)
    assert np.array_equal(data.train, stored[:32]) and np.array_equal(data.val, stored[32:])
    assert data.train_labels.tolist() == (np.arange(40) % 3)[:32].tolist() and len(data.val_labels) == 8
    assert data.num_classes == 3 and data.shape == (1, 4, 4)
    (tmp_path / "v").mkdir()
    with_val = _make(_folder(tmp_path / "v", val=True))
    assert len(with_val.train) == 40 and len(with_val.val) == 6 and len(with_val.val_labels) == 6


@pytest.mark.parametrize("damage, message", [
    (lambda f: (f / "test.npy").unlink(), "missing in .*test.npy"),
    (lambda f: np.save(f / "test.npy", np.zeros((10, 2, 4, 4), np.float32)), "shapes differ"),
    (lambda f: np.save(f / "train_labels.npy", np.zeros(39, np.int64)), "train_labels.npy: expected 40 integer labels"),
    (lambda f: np.save(f / "test_labels.npy", np.full(10, 0.5)), "test_labels.npy: expected 10 integer labels"),
    (lambda f: (f / "train.npy").write_text("not an array"), "train.npy: not a numeric .npy array"),
    (lambda f: (f / "test_labels.npy").unlink(), "labels need both train_labels.npy and test_labels.npy"),
])
def test_a_damaged_array_folder_is_named_with_what_was_expected(tmp_path, damage, message):
    folder = _folder(tmp_path)
    damage(folder)
    with pytest.raises(UsageError, match=message):
        _make(folder)


def test_the_array_folder_needs_its_root_and_enough_rows_for_validation(tmp_path):
    with pytest.raises(UsageError, match="needs its `root`"):
        _make("")
    with pytest.raises(UsageError, match="n_val must be between 1 and 39"):
        _make(_folder(tmp_path), n_val=40)


def test_a_suite_on_an_array_folder_streams_it_and_says_so(tmp_path, one_thread):
    from click.testing import CliRunner

    from benchbench.cli import cli
    from benchbench.results.store import read_records

    rng = np.random.default_rng(2)
    np.save(tmp_path / "train.npy", rng.normal(size=(600, 2)).astype(np.float32))
    np.save(tmp_path / "test.npy", rng.normal(size=(200, 2)).astype(np.float32))
    suite = tmp_path / "own.toml"
    suite.write_text(f'[suite]\nname = "own"\nsamples = 200\n\n[[datasets]]\nname = "array-folder"\n'
                     f'params = {{ root = "{tmp_path}", n_val = 100 }}\nloader_workers = 1\n\n'
                     '[[models]]\nfamily = "vae"\nparams = { latent_dim = 2, hidden = 16 }\nbudget = { steps = 30 }\n\n'
                     '[[metrics]]\nname = "mmd"\nparams = { n = 200, permutations = 5 }\n')
    result = CliRunner().invoke(cli, ["run", str(suite), "--results", str(tmp_path / "res")])
    assert result.exit_code == 0, result.output
    records, _ = read_records(next((tmp_path / "res" / "own").iterdir()))
    speed = [r for r in records if r.get("metric") == "train_steps_per_second"]
    assert speed and speed[0]["protocol"] == {"training_data": "streamed, 1 loader workers"}
    assert [r["status"] for r in records if r.get("metric") == "mmd2"] == ["ok"]


def test_a_bad_placement_or_worker_count_is_a_suite_error_naming_the_key(tmp_path):
    from click.testing import CliRunner

    from benchbench.cli import cli

    for line, expected in (('placement = "disk"', "datasets[0].placement"), ("loader_workers = -1", "datasets[0].loader_workers")):
        suite = tmp_path / "bad.toml"
        suite.write_text(f'[suite]\nname = "bad"\n\n[[datasets]]\nname = "8gaussians"\n{line}\n\n'
                         '[[models]]\nfamily = "vae"\nbudget = { steps = 5 }\n')
        result = CliRunner().invoke(cli, ["run", str(suite), "--results", str(tmp_path / "res")])
        assert result.exit_code == 2 and expected in result.output, result.output
