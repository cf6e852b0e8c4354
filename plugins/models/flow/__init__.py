"""Normalizing flows with exact likelihoods: RealNVP (Dinh et al. 2017), MAF (Papamakarios et al.
2017), IAF (Kingma et al. 2016) and an IAF distilled from a MAF teacher (Parallel WaveNet,
van den Oord et al. 2018). The plugin spec only; the maths is in the sibling modules, imported
when a cell builds a model."""

import benchbench
from benchbench import ModelSpec, Param


@benchbench.hookimpl
def benchbench_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            name="flow",
            summary="Normalizing flows, exact log-likelihood: RealNVP couplings, MAF / IAF (MADE), IAF distilled from a MAF",
            factory="benchbench_plugins.models.flow.model:build",
            version="1",
            variants={"realnvp": {"layers": 8}, "maf": {}, "iaf": {}, "iaf-distilled": {}},
            params=(
                Param("layers", 5, "flow steps, each an ActNorm and a coupling (realnvp) or a MADE layer"),
                Param("hidden", 128, "width of the hidden layers of every coupling net / MADE"),
                Param("depth", 2, "hidden layers per coupling net / MADE"),
                Param("coupling_net", "dense", "realnvp's coupling net: an MLP on the flattened example, or 3x3 "
                      "convolutions (images only)", choices=("dense", "conv")),
                Param("lr", 1e-3, "Adam learning rate (teacher and student alike)"),
                Param("lr_half_life", 0, "steps over which the learning rate halves, e.g. a third of the budget; 0: constant"),
                Param("alpha", 0.05, "logit pre-processing of data in [0, 1]: u = logit(alpha + (1 - 2 alpha) x)"),
                Param("teacher_steps", 1000, "iaf-distilled: steps of maximum likelihood for the MAF teacher before "
                      "the IAF student is trained by KL(student || teacher); the other variants ignore the "
                      "iaf-distilled parameters"),
                Param("anneal_steps", 1000, "iaf-distilled: student steps over which the teacher's log-density "
                      "is tempered from 0 to 1 times (keeps the mode-seeking reverse KL from dropping modes)"),
                Param("student_batch", 1024, "iaf-distilled: student samples per step (the KL's Monte-Carlo size)"),
                Param("student_lr", 1e-3, "iaf-distilled: the student's Adam learning rate"),
            ),
        )
    ]
