"""Denoising diffusion probabilistic models: ε-prediction trained by ``L_simple`` (Ho et al. 2020)
on a linear or cosine schedule (Nichol & Dhariwal 2021), sampled by ancestral steps or by DDIM
(Song et al. 2021) from an exponential moving average of the weights, scored by the variational
bound; class-conditional with classifier-free guidance (Ho & Salimans 2022). MLPs on vectors,
Ho et al.'s U-Net on images (``benchbench.denoisers``). The plugin spec only; the maths is in the
sibling modules, imported when a cell builds a model."""

import benchbench
from benchbench import ModelSpec, Param
from benchbench.denoiser_settings import DENOISER_PARAMS


@benchbench.hookimpl
def benchbench_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            name="diffusion",
            summary="DDPM (L_simple, linear / cosine schedule, EMA), ancestral or DDIM sampling, the variational "
                    "bound as ELBO; class-conditional with classifier-free guidance",
            factory="benchbench_plugins.models.diffusion.model:build",
            version="1",
            variants={"ddpm": {}, "ddim": {"sampler": "ddim"}, "cfg": {}},
            params=(
                Param("schedule", "linear", "the betas: linear (Ho et al. 2020) or cosine (Nichol & Dhariwal 2021)",
                      choices=("linear", "cosine")),
                Param("timesteps", 1000, "diffusion steps T of training and of ancestral sampling"),
                Param("beta_start", 1e-4, "linear schedule: beta_1"),
                Param("beta_end", 0.02, "linear schedule: beta_T"),
                Param("cosine_s", 0.008, "cosine schedule: the offset s that keeps beta_1 from vanishing"),
                Param("max_beta", 0.999, "cosine schedule: betas capped here, avoiding the singularity at t = T"),
                *DENOISER_PARAMS,
                Param("lr", 2e-4, "Adam learning rate (Ho et al.'s 2e-4; the 2-D toys learn in a few thousand steps "
                      "at 8e-3 with batches of 1024)"),
                Param("grad_clip", 1.0, "gradients clipped to this global norm (Ho et al.); 0: no clipping"),
                Param("ema_decay", 0.9999, "decay of the weights' moving average that samples and scores, warmed up "
                      "as min(decay, (1 + n) / (10 + n)) after n updates; 0: the raw weights"),
                Param("p_uncond", 0.1, "cfg: probability that a training label is replaced by the null label"),
                Param("sampler", "ancestral", "ancestral (every one of the T steps) or ddim (sample_steps steps)",
                      choices=("ancestral", "ddim")),
                Param("variance", "large", "ancestral: the reverse step's variance, large sigma^2 = beta_t (Ho et "
                      "al.'s CIFAR-10 model) or small sigma^2 = beta-tilde_t, the posterior's; also the bound's",
                      choices=("large", "small")),
                Param("sample_steps", 50, "ddim: steps taken, at most timesteps"),
                Param("eta", 0.0, "ddim: noise scale, 0 deterministic, 1 the posterior's variance"),
                Param("spacing", "uniform", "ddim: the steps visited, uniform (every T / S-th) or quadratic (dense "
                      "near t = 0, Song et al.'s CIFAR-10 choice)", choices=("uniform", "quadratic")),
                Param("guidance", 0.3, "cfg: guidance weight w, eps = (1 + w) eps(x, y) - w eps(x, null); 0: plain "
                      "conditional sampling, one network evaluation per step instead of two"),
                Param("bound_timesteps", 0, "the bound's KL terms: 0 all of them, K an unbiased estimate from K "
                      "sampled t per example (far cheaper than T network evaluations)"),
            ),
            # how it samples and is scored, never how it trains: a sweep of these shares one training
            sampling_params=frozenset({"sampler", "variance", "sample_steps", "eta", "spacing", "guidance",
                                      "bound_timesteps"}),
        )
    ]
