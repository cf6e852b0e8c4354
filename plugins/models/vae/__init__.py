"""Variational autoencoders (Kingma & Welling 2014), with the importance-weighted bound of
Burda et al. 2016 for training (``iwae``) and evaluation. The plugin spec only; the maths is in
``model.py`` and is imported when a cell builds a model."""

import benchbench
from benchbench import ModelSpec, Param


@benchbench.hookimpl
def benchbench_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            name="vae",
            summary="Gaussian-latent VAE with an MLP encoder/decoder; decoder fits the data kind",
            factory="benchbench_plugins.models.vae.model:build",
            version="1",
            variants={"vae": {}, "iwae": {"k_train": 5}, "beta-vae": {"beta": 4.0}},
            params=(
                Param("latent_dim", 16, "latent dimensions"),
                Param("hidden", 256, "width of every hidden layer"),
                Param("depth", 2, "hidden layers in the encoder and in the decoder"),
                Param("beta", 1.0, "weight of the KL term (1 = the ELBO)"),
                Param("k_train", 1, "importance samples in the training bound (1 = ELBO)"),
                Param("lr", 1e-3, "Adam learning rate"),
            ),
        )
    ]
