"""What one evaluator is shown: the protocol of a HYPE session and the trial plan drawn from it.

HYPE-infinity (Zhou et al. 2019, sec. 3.2): one block of 100 images, half real, shown until the
evaluator answers. HYPE-time (sec. 3.1): three blocks of 150, half real, each its own staircase,
each trial a 3-2-1 countdown, the image for the staircase's exposure, four 30 ms noise masks, the
answer, then feedback. Two optional additions, recorded and never used to drop anyone silently: a
qualification block before the study (an evaluator passes at 65% correct on reals and on fakes
alike) and vigilance trials (noise images, obviously fake) mixed into each block.

In HYPE-time the qualification and vigilance trials are shown for the staircase's longest exposure
and do not move the staircase; in HYPE-infinity they are untimed like every trial.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any

from ..errors import UsageError
from .staircase import StaircaseRule

MODES = ("time", "infinity")
DEFAULT_BLOCKS = {"time": 3, "infinity": 1}
DEFAULT_TRIALS = {"time": 150, "infinity": 100}


@dataclass(frozen=True)
class Protocol:
    """Everything that defines a HYPE number, fixed per study and mode (``serve`` refuses a change)."""

    mode: str
    blocks: int
    trials_per_block: int  # scored trials, half real; vigilance trials come on top
    staircase: StaircaseRule | None  # HYPE-time only
    qualification_trials: int = 0  # 0: no qualification block; half real
    qualification_pass: float = 0.65  # fraction correct needed on the reals and on the fakes
    vigilance: int = 0  # vigilance trials per block
    vigilance_pass: float = 0.8  # fraction of vigilance trials an attentive evaluator gets right
    real_fraction: float = 0.5  # what the evaluator is told, and what the plan holds
    countdown_ms: int = 1000  # per number of the 3-2-1 countdown
    masks: int = 4
    mask_ms: int = 30
    feedback_ms: int = 1000

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["staircase"] = self.staircase.to_dict() if self.staircase else None
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Protocol:
        data = dict(data)
        data["staircase"] = StaircaseRule(**data["staircase"]) if data.get("staircase") else None
        return cls(**data)


def make_protocol(mode: str, *, blocks: int | None = None, trials_per_block: int | None = None,
                  staircase: StaircaseRule | None = None, qualification_trials: int = 0, vigilance: int = 0) -> Protocol:
    """The paper's protocol for ``mode``, with the given changes; bad numbers are the user's to fix."""
    if mode not in MODES:
        raise UsageError(f"--mode must be one of {', '.join(MODES)}, got {mode!r}")
    blocks = DEFAULT_BLOCKS[mode] if blocks is None else blocks
    trials = DEFAULT_TRIALS[mode] if trials_per_block is None else trials_per_block
    if blocks < 1 or trials < 2 or trials % 2:
        raise UsageError(f"--blocks must be at least 1 and --trials-per-block a positive even number (half real), "
                         f"got {blocks} and {trials}")
    if qualification_trials % 2 or qualification_trials < 0 or vigilance < 0:
        raise UsageError(f"--qualification-trials must be even and --vigilance not negative, got {qualification_trials} and {vigilance}")
    return Protocol(mode, blocks, trials, (staircase or StaircaseRule()) if mode == "time" else None,
                    qualification_trials=qualification_trials, vigilance=vigilance)


def reals_needed(protocol: Protocol) -> int:
    """Real images (and as many fakes) one evaluator sees: no image twice in one session."""
    return (protocol.qualification_trials + protocol.blocks * protocol.trials_per_block) // 2


def check_fits(protocol: Protocol, reals: int, fakes: int, vigilance: int) -> None:
    """A UsageError unless a study with these image counts can give every evaluator this protocol."""
    need = reals_needed(protocol)
    if need > min(reals, fakes) or (protocol.vigilance and not vigilance):
        raise UsageError(f"this protocol shows {need} real and {need} fake images per evaluator"
                         f"{' and vigilance images' if protocol.vigilance else ''}; the study has {reals} real, "
                         f"{fakes} fake and {vigilance} vigilance images (prepare it with a larger --n, or ask for fewer trials)")


def plan_session(protocol: Protocol, reals: list[str], fakes: list[str], vigilance: list[str],
                 rng: random.Random) -> list[dict[str, Any]]:
    """One evaluator's blocks: ``{"phase", "block", "trials": [{"image", "vigilance"}]}``, each block
    half real in a random order, no study image twice; vigilance images at random places."""
    check_fits(protocol, len(reals), len(fakes), len(vigilance))
    need = reals_needed(protocol)
    real_pool, fake_pool = rng.sample(reals, need), rng.sample(fakes, need)
    plan = []
    if protocol.qualification_trials:
        plan.append(_block("qualification", 0, protocol.qualification_trials, real_pool, fake_pool, [], 0, rng))
    for index in range(protocol.blocks):
        plan.append(_block("main", index, protocol.trials_per_block, real_pool, fake_pool, vigilance, protocol.vigilance, rng))
    return plan


def _block(phase: str, index: int, n: int, reals: list[str], fakes: list[str], vigilance: list[str], n_vigilance: int,
           rng: random.Random) -> dict[str, Any]:
    images = [reals.pop() for _ in range(n // 2)] + [fakes.pop() for _ in range(n // 2)]
    rng.shuffle(images)
    trials = [{"image": name, "vigilance": False} for name in images]
    for _ in range(n_vigilance):
        trials.insert(rng.randrange(len(trials) + 1), {"image": rng.choice(vigilance), "vigilance": True})
    return {"phase": phase, "block": index, "trials": trials}


def fixed_exposure(protocol: Protocol, phase: str, vigilance: bool) -> int | None:
    """The exposure of a trial that the staircase does not set (qualification, vigilance in HYPE-time),
    or None: untimed in HYPE-infinity, the staircase's in HYPE-time."""
    if protocol.staircase is None or (phase == "main" and not vigilance):
        return None
    return protocol.staircase.max_ms
