"""Variational autoencoders (Kingma & Welling 2014), with the importance-weighted bound of
Burda et al. 2016 for training (``iwae``) and evaluation, MLP or convolutional networks, and a
two-stochastic-layer hierarchy (``hvae``). The plugin spec only; the maths is in ``model.py`` and
the networks in ``networks.py``, imported when a cell builds a model."""

import benchbench
from benchbench import ModelSpec, Param


@benchbench.hookimpl
def benchbench_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            name="vae",
            summary="Gaussian-latent VAE, MLP or conv networks, one or two latent layers; decoder fits the data kind",
            factory="benchbench_plugins.models.vae.model:build",
            version="1",
            variants={
                "vae": {},
                "iwae": {"k_train": 5},
                "beta-vae": {"beta": 4.0},
                "conv-vae": {"net": "conv"},
                "hvae": {"latent_layers": 2},
            },
            params=(
                Param("latent_dim", 16, "latent dimensions (of z1, next to the data, with two latent layers)"),
                Param("hidden", 256, "width of every hidden fully connected layer"),
                Param("depth", 2, "hidden layers of an MLP encoder/decoder; stride-2 stages of a conv one"),
                Param("beta", 1.0, "weight of the KL term (1 = the ELBO)"),
                Param("k_train", 1, "importance samples in the training bound (1 = ELBO)"),
                Param("lr", 1e-3, "Adam learning rate"),
                Param("net", "mlp", "encoder/decoder networks: mlp (any data) or conv (images only)",
                      choices=("mlp", "conv")),
                Param("channels", 32, "channels of the first conv stage, doubled at each further stage (net = conv)"),
                Param("latent_layers", 1, "stochastic layers: 1, or 2 for p(z2) p(z1|z2) p(x|z1)", choices=(1, 2)),
                Param("top_latent_dim", 8, "dimensions of the top latent z2 (latent_layers = 2)"),
            ),
        )
    ]
