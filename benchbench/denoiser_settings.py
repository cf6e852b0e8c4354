"""The denoiser settings that model plugins offer as their own parameters (the score and diffusion
families today), kept once: the suite parameters (:data:`DENOISER_PARAMS`, for a plugin's spec),
the dataclass a plugin's ``Config`` inherits (:class:`DenoiserSettings`), their checks, and how
they build :func:`benchbench.denoisers.denoiser`. Torch-free, so a plugin's spec module can import
it and `bench list` stays light; the network is imported when one is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .api.specs import Param
from .settings import bounds_problem

NETWORKS = ("auto", "unet", "mlp")

DENOISER_PARAMS = (
    Param("network", "auto", "the denoiser: auto (an MLP on vectors, Ho et al.'s U-Net on images), "
          "unet, or mlp (on flattened images too: a CPU budget's choice)", choices=NETWORKS),
    Param("hidden", 128, "width of the denoising MLP on vectors"),
    Param("depth", 3, "residual blocks of the denoising MLP on vectors"),
    Param("channels", 32, "U-Net channels at full resolution (images), doubled at the lower levels"),
    Param("levels", 2, "U-Net resolution levels (images), each below the first at half the size"),
    Param("res_blocks", 1, "U-Net residual blocks per level on the way down (one more on the way up)"),
    Param("attention_resolution", 16, "U-Net self-attention at this image height, besides the middle "
          "block (always); 0 or a height no level has: the middle block only"),
    Param("dropout", 0.0, "U-Net dropout in the residual blocks (Ho et al.: 0.1 on CIFAR-10)"),
)
"""The suite parameters of :class:`DenoiserSettings`, with its defaults (a test holds them equal)."""


@dataclass(frozen=True)
class DenoiserSettings:
    """The settings of :func:`denoiser` that a model plugin offers as its own parameters, kept here
    once so that every family building a denoiser has the same ones, defaults and checks. A plugin's
    ``Config`` inherits them and adds its own fields, so a suite still writes ``channels = 64`` among
    the model's parameters."""

    # scaled down from Ho et al.'s 35.7M-parameter U-Net for CPU (see the module's docstring); "mlp" on
    # images: a 1,000-step sampler through even a small U-Net takes half an hour on a CPU
    network: str = "auto"
    hidden: int = 128
    depth: int = 3
    channels: int = 32
    levels: int = 2
    res_blocks: int = 1
    attention_resolution: int = 16  # Ho et al.: attention at 16x16 (and in the middle block); 0: the middle block only
    dropout: float = 0.0  # Ho et al. use 0.1 on CIFAR-10; short budgets underfit rather than overfit

    def build_denoiser(self, shape: tuple[int, ...], num_classes: int | None = None) -> Any:
        """:func:`benchbench.denoisers.denoiser` with these settings for data shaped ``shape``, class-conditional when
        ``num_classes``; so that no plugin spells the settings out one by one."""
        from .denoisers import denoiser

        attention = (self.attention_resolution,) if self.attention_resolution else ()
        return denoiser(shape, network=self.network, hidden=self.hidden, depth=self.depth, channels=self.channels,
                        levels=self.levels, res_blocks=self.res_blocks, attention_resolutions=attention,
                        dropout=self.dropout, num_classes=num_classes)

    def denoiser_problem(self, shape: tuple[int, ...], name: str, unet_note: str) -> str:
        """What is wrong with these settings, alone or for the data ``name`` shaped ``shape``, or '':
        a plugin's config check calls it first, to refuse before anything is built what
        :func:`benchbench.denoisers.denoiser` would refuse or build wrong. A U-Net that does not fit the images is said in
        :func:`benchbench.denoisers.unet_problem`'s words followed by ``(unet_note)``, the plugin's pointer to the fix."""
        return self._value_problem() or self._shape_problem(shape, name, unet_note)

    def _value_problem(self) -> str:
        """A setting outside its range on its own, or ''."""
        at_least_one = ("hidden", "depth", "channels", "levels", "res_blocks")
        if problem := bounds_problem(self, at_least_one=at_least_one, non_negative=("attention_resolution",)):
            return problem
        if not 0 <= self.dropout < 1:
            return f"dropout must lie in [0, 1), got {self.dropout}"
        if self.network not in NETWORKS:
            return f"network must be one of {', '.join(NETWORKS)}, got {self.network!r}"
        return ""

    def _shape_problem(self, shape: tuple[int, ...], name: str, unet_note: str) -> str:
        """Whether the network fits data shaped ``shape``, or ''."""
        if len(shape) not in (1, 3) and self.network != "mlp":
            return f"needs vectors (D,) or images (C, H, W), or network 'mlp'; {name!r} is shaped {shape}"
        if self.network == "unet" and len(shape) != 3:
            return f"network 'unet' needs images (C, H, W); {name!r} is shaped {shape}"
        if len(shape) != 3 or self.network == "mlp":
            return ""
        from .denoisers import unet_problem

        problem = unet_problem(shape, self.levels, self.channels)  # type: ignore[arg-type]
        return f"{problem} ({unet_note})" if problem else ""
