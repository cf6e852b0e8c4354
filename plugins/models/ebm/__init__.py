"""Energy-based models, ``p(x) = exp(−E(x)) / Z``, trained by contrastive divergence with short-run
Langevin chains from a replay buffer (IGEBM, Du & Mordatch 2019), by score matching (Hyvärinen 2005;
sliced, Song et al. 2019) or by noise-contrastive estimation (Gutmann & Hyvärinen 2010); sampled by
Langevin dynamics or MALA; scored with an estimated ``log Z`` (grid quadrature in 2-D, annealed
importance sampling otherwise). The plugin spec only; the maths is in the sibling modules, imported
when a cell builds a model."""

import benchbench
from benchbench import ModelSpec, Param


@benchbench.hookimpl
def benchbench_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            name="ebm",
            summary="Energy-based models: contrastive divergence (replay buffer), score matching, NCE; "
                    "Langevin / MALA sampling; log Z by grid (2-D) or AIS",
            factory="benchbench_plugins.models.ebm.model:build",
            version="1",
            variants={"cd": {}, "score-matching": {}, "nce": {}},
            params=(
                Param("hidden", 128, "width of the energy MLP's hidden layers (the conv energy's feature width on images)"),
                Param("depth", 2, "hidden layers of the energy MLP on vectors (images get stride-2 conv stages down to about 4x4)"),
                Param("channels", 32, "channels of the conv energy's first stage, doubled per stage (images)"),
                Param("spectral_norm", False, "spectral normalisation of every energy layer (Miyato et al. 2018)"),
                Param("lr", 1e-3, "Adam learning rate of the energy (and of NCE's log-normaliser c)"),
                Param("lr_half_life", 0, "steps over which the learning rate halves, e.g. a third of the budget; 0: constant"),
                Param("energy_limit", 1e4, "|E| beyond this on data or negatives stops the cell as diverged"),
                Param("langevin_steps", 20, "cd: Langevin steps per training step, from the replay buffer"),
                Param("step_size", 0.01, "cd: step size ε of the training chains, x <- x - ε grad E + noise"),
                Param("noise_scale", None, "std of the Langevin noise, training chains and Langevin sampling alike; "
                      "default sqrt(2 step size), proper Langevin; smaller values sample a colder density",
                      kind=float),
                Param("reinit", 0.05, "cd: probability that a chain restarts from uniform noise instead of the buffer"),
                Param("buffer_size", 10000, "cd: chains kept in the replay buffer (saved with checkpoints)"),
                Param("alpha", 0.1, "cd: weight of the energy-magnitude regulariser α (E(x+)² + E(x−)²)"),
                Param("sm_method", "auto", "score-matching: exact Hessian trace, sliced (random projections), or "
                      "auto (exact up to 8 dimensions)", choices=("auto", "exact", "sliced")),
                Param("projections", 1, "score-matching, sliced: projections per example"),
                Param("projection", "rademacher", "score-matching, sliced: distribution of the projections",
                      choices=("rademacher", "gaussian")),
                Param("noise", "gaussian", "nce: noise density, a full-covariance Gaussian fitted to the train split "
                      "(on logits for data in [0, 1]) or a MAF fitted first, mixed with that Gaussian (flow "
                      "contrastive estimation)",
                      choices=("gaussian", "flow")),
                Param("noise_ratio", 4.0, "nce: noise samples per data point ν"),
                Param("noise_steps", 500, "nce, noise = flow: maximum-likelihood steps of the MAF before NCE starts"),
                Param("noise_flow", "maf", "nce, noise = flow: the flow plugin's variant, maf (D sequential passes "
                      "per sample) or realnvp (one pass; for images)", choices=("maf", "realnvp")),
                Param("sampler", "langevin", "sampling chains: unadjusted Langevin, or Metropolis-adjusted (MALA)",
                      choices=("langevin", "mala")),
                Param("sample_steps", 500, "steps of each sampling chain"),
                Param("sample_step_size", 0.005, "step size of the sampling chains (and AIS's first MALA step)"),
                Param("sample_init", "noise", "where sampling chains start: uniform noise over the data's range, the "
                      "full-covariance Gaussian fitted to the train split (on logits for data in [0, 1]; NCE's "
                      "default noise), or cd's replay buffer", choices=("noise", "base", "buffer")),
                Param("grid", 512, "log Z on data of 1 or 2 dimensions: quadrature cells per axis"),
                Param("grid_margin", 0.25, "log Z grid: margin on each side, as a fraction of the train data's range"),
                Param("ais_steps", 500, "log Z in more dimensions: AIS intermediate distributions"),
                Param("ais_chains", 100, "log Z in more dimensions: AIS chains"),
            ),
            # how it samples and is scored, never how it trains: a sweep of these shares one training
            sampling_params=frozenset({"sampler", "sample_steps", "sample_step_size", "sample_init", "grid",
                                      "grid_margin", "ais_steps", "ais_chains"}),
        )
    ]
