"""Generative adversarial networks: the non-saturating GAN (Goodfellow et al. 2014), f-GAN (Nowozin
et al. 2016), WGAN with weight clipping (Arjovsky et al. 2017) or a gradient penalty (Gulrajani et
al. 2017), and BiGAN / ALI (Donahue et al. 2017; Dumoulin et al. 2017) with an encoder. DCGAN
networks on images, MLPs on vectors. The plugin spec only; the maths is in ``model.py``, imported
when a cell builds a model. One training step is one critic update."""

import benchbench
from benchbench import ModelSpec, Param


@benchbench.hookimpl
def benchbench_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            name="gan",
            summary="GANs: non-saturating, f-GAN, WGAN (clipped / gradient penalty), BiGAN; a step is a critic update",
            factory="benchbench_plugins.models.gan.model:build",
            version="1",
            variants={
                "ns-gan": {},
                "f-gan": {},
                "wgan": {"critic_steps": 5, "lr": 5e-5},
                "wgan-gp": {"critic_steps": 5, "lr": 1e-4, "beta1": 0.5, "beta2": 0.9},
                "bigan": {},
            },
            params=(
                Param("latent_dim", 16, "dimensions of the generator's noise z ~ N(0, I) (BiGAN's code)"),
                Param("hidden", 128, "width of the hidden layers of MLPs, and of the critic's features"),
                Param("depth", 2, "hidden layers of the MLPs on vector data (images: stages fit the size)"),
                Param("channels", 32, "channels of the first conv stage on images, doubled at each further stage"),
                Param("critic_steps", 1, "critic updates per generator step (wgan: 100 for the first 25 "
                      "generator steps and every 500th, as the official code)"),
                Param("lr", 2e-4, "the critic's learning rate (Adam; wgan: RMSProp)"),
                Param("generator_lr", None, "the generator's (and encoder's) learning rate; default: lr", kind=float),
                Param("beta1", 0.5, "Adam's beta1 (DCGAN's 0.5); unused by wgan's RMSProp"),
                Param("beta2", 0.999, "Adam's beta2"),
                Param("clip", 0.01, "wgan: critic weights clipped to [-clip, clip]"),
                Param("warmup", 25, "wgan: generator steps at the start with 100 critic updates each (as every "
                      "500th); 0: critic_steps throughout, for budgets too short for the official schedule"),
                Param("penalty", None, "wgan-gp: gradient penalty weight lambda; default: 10 on images, "
                      "0.1 on vector data (the official toy script's)", kind=float),
                Param("divergence", "js", "f-gan: the f-divergence the critic bounds (js here is 2 x Jensen-Shannon)",
                      choices=("kl", "reverse-kl", "pearson", "hellinger", "js", "gan")),
                Param("divergence_limit", 1e6, "the step fails as diverged when the critic's mean |D| exceeds this"),
            ),
        )
    ]
