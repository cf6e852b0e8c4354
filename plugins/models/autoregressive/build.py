"""The factory: picks the variant's class and the conditionals, and refuses, before any training,
data or parameters the variant cannot use."""

from __future__ import annotations

from typing import Any

from benchbench import CapabilityError, Dataset, UsageError
from benchbench.distributions import by_name

from . import PARAMS, USES
from .base import Autoregressive
from .made import FVSBN, MADE, MADEEnsemble
from .nade import NADE
from .pixelcnn import PixelCNN
from .rnn import RNN

COMMON = ("conditional", "components", "lr")  # read by every variant
MIN_LAYERS = {"made": 1, "rnn": 1}  # a MADE without hidden layers is the fvsbn variant


def build(data: Dataset, variant: str = "made", **params: Any) -> Autoregressive:
    where = f"model 'autoregressive' (variant {variant!r})"
    if variant not in USES:
        raise UsageError(f"{where}: unknown variant; choose one of {', '.join(USES)}")
    _check_params(where, variant, params)
    try:
        likelihood = by_name(params["conditional"], data.kind, data.levels, params["components"])
    except ValueError as error:
        raise CapabilityError(f"{where} on dataset {data.name!r}: {error}") from None
    if variant == "fvsbn":
        return FVSBN(data.shape, likelihood, lr=params["lr"])
    if variant == "nade":
        return NADE(data.shape, likelihood, params["hidden"], lr=params["lr"])
    if variant == "made":
        hidden = [params["hidden"]] * params["layers"]
        made = MADE if params["orderings"] == 1 else MADEEnsemble  # a mixture has no single chain to code with
        return made(data.shape, likelihood, hidden, params["orderings"], params["order"], params["direct"],
                    lr=params["lr"])
    if variant == "rnn":
        return RNN(data.shape, likelihood, params["hidden"], params["layers"], params["cell"], lr=params["lr"])
    _check_image(where, data, params)
    return PixelCNN(data.shape, likelihood, params["hidden"], params["layers"], params["kernel"], params["gated"],
                    lr=params["lr"])


def _check_params(where: str, variant: str, params: dict[str, Any]) -> None:
    """A parameter the variant does not read must keep its default: setting it is a mistake."""
    defaults = {p.name: p.default for p in PARAMS}
    unused = [n for n, v in params.items() if n not in COMMON and n not in USES[variant] and v != defaults.get(n, v)]
    if unused:
        raise UsageError(f"{where}: parameter(s) {', '.join(unused)} have no effect on this variant; "
                         f"it reads {', '.join(COMMON + USES[variant])}")
    for name in ("hidden", "components", "orderings"):
        if params[name] < 1:
            raise UsageError(f"{where}: {name} must be at least 1, got {params[name]}")
    if params["layers"] < MIN_LAYERS.get(variant, 0):
        raise UsageError(f"{where}: layers must be at least {MIN_LAYERS[variant]}, got {params['layers']}")


def _check_image(where: str, data: Dataset, params: dict[str, Any]) -> None:
    """PixelCNN convolves images: (C, H, W) data, no fewer hidden channels than image channels
    (one group each), and an image the first mask's reach (kernel // 2 pixels) fits inside."""
    if not data.is_image:
        raise CapabilityError(f"{where} on dataset {data.name!r}: PixelCNN needs images shaped (C, H, W), "
                              f"the data's examples are shaped {data.shape}; use made, nade, fvsbn or rnn")
    channels, height, width = data.shape
    if params["hidden"] < channels:
        raise CapabilityError(f"{where} on dataset {data.name!r}: hidden={params['hidden']} channels cannot be split "
                              f"into one group per image channel ({channels})")
    side, largest = params["kernel"] // 2 + 1, 2 * min(height, width) - 1
    if min(height, width) < side:
        advice = f"use kernel <= {largest}" if largest >= 3 else "use made, nade, fvsbn or rnn"
        raise CapabilityError(f"{where} on dataset {data.name!r}: the first {params['kernel']}x{params['kernel']} mask "
                              f"needs images of at least {side}x{side} pixels, got {height}x{width}; {advice}")
