"""Score-based generative models: noise-conditional score networks trained by denoising score
matching and sampled by annealed Langevin dynamics (NCSN, Song & Ermon 2019, with NCSNv2's
techniques, Song & Ermon 2020), the same network trained by sliced score matching (Song et al.
2019), and continuous-time score SDEs, variance exploding and preserving, sampled by reverse-SDE
predictors, predictor-corrector or the probability-flow ODE, with the ODE's log-likelihood (Song
et al. 2021). The plugin spec only; the maths is in the sibling modules, imported when a cell
builds a model. One training step is one optimiser step on a batch."""

import benchbench
from benchbench import ModelSpec, Param
from benchbench.denoiser_settings import DENOISER_PARAMS


@benchbench.hookimpl
def benchbench_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            name="score",
            summary="Score models: NCSN (DSM, annealed Langevin; NCSNv2 rules), SSM, VE / VP score SDEs "
                    "(reverse diffusion, Euler-Maruyama, predictor-corrector, probability-flow ODE; ODE likelihood)",
            factory="benchbench_plugins.models.score.model:build",
            version="1",
            variants={"ncsn": {}, "ssm": {},  # the samplers of Song et al.'s configurations: NCSN++ (VE), DDPM++ (VP)
                      "sde-ve": {"sampler": "pc"}, "sde-vp": {"sampler": "euler-maruyama"}},
            params=(
                *DENOISER_PARAMS,
                Param("lr", 1e-3, "Adam learning rate"),
                Param("grad_clip", 1.0, "gradient norm clipped to this before each step (Song et al.)"),
                Param("ema_decay", 0.999, "decay of the weights' moving average that samples and scores "
                      "(NCSNv2 technique 5), warmed up as min(decay, (1 + n) / (10 + n)); 0: no average"),
                Param("sigma_min", 0.01, "ncsn, ssm: the smallest noise level sigma_L; sde-ve: sigma_min"),
                Param("sigma_max", None, "ncsn, ssm: the largest noise level sigma_1; sde-ve: sigma_max; default: "
                      "the largest distance between two train points (NCSNv2 technique 1; at most 2,000 points "
                      "drawn)", kind=float),
                Param("max_noise_levels", 30, "ncsn, ssm: at most this many levels; NCSNv2 technique 2 sets the "
                      "number on images (24 on 8x8 digits), and sets none in 2-D, where this is the number"),
                Param("beta_min", 0.1, "sde-vp: beta(0)"),
                Param("beta_max", 20.0, "sde-vp: beta(1)"),
                Param("eps", 1e-5, "sde: the smallest time, of training (t ~ U(eps, 1)), sampling and likelihood"),
                Param("projections", 1, "ssm: random projections per example"),
                Param("projection", "rademacher", "ssm: distribution of the projections",
                      choices=("rademacher", "gaussian")),
                Param("sampler", "annealed-langevin", "annealed-langevin (ncsn, ssm); reverse-diffusion, "
                      "euler-maruyama, pc (predictor-corrector) or ode (probability flow) (sde-*; sde-ve samples "
                      "by pc and sde-vp by euler-maruyama unless set, as Song et al.'s NCSN++ and DDPM++)",
                      choices=("annealed-langevin", "reverse-diffusion", "euler-maruyama", "pc", "ode")),
                Param("langevin_steps", 5, "annealed-langevin: steps T per noise level (NCSNv2's 5)"),
                Param("step_size", None, "annealed-langevin: epsilon of the steps eps sigma_i^2 / sigma_L^2; "
                      "default: NCSNv2 technique 4's for T and the levels' ratio", kind=float),
                Param("denoise", True, "a final Tweedie step E[x_0 | x] = (x + std^2 s(x)) / scale at the "
                      "last level (NCSNv2; Song et al.'s noise removal)"),
                Param("sample_steps", 1000, "sde, reverse-SDE samplers: time steps N from 1 to eps"),
                Param("predictor", "reverse-diffusion", "pc: the predictor",
                      choices=("reverse-diffusion", "euler-maruyama")),
                Param("corrector_steps", 1, "pc: Langevin corrector steps before each predictor step"),
                Param("snr", 0.16, "pc: the corrector's signal-to-noise ratio (Song et al.'s 0.16)"),
                Param("rtol", 1e-5, "ode sampler and likelihood: solve_ivp's relative tolerance (RK45)"),
                Param("atol", 1e-5, "ode sampler and likelihood: solve_ivp's absolute tolerance"),
                Param("divergence", "auto", "likelihood: the ODE's divergence by the exact trace, Hutchinson's "
                      "estimator, or auto (exact up to 8 dimensions)", choices=("auto", "exact", "hutchinson")),
                Param("probes", 1, "likelihood, hutchinson: Rademacher probes per solve"),
            ),
            # how it samples and is scored, never how it trains: a sweep of these shares one training
            sampling_params=frozenset({"sampler", "langevin_steps", "step_size", "denoise", "sample_steps",
                                      "predictor", "corrector_steps", "snr", "rtol", "atol", "divergence", "probes"}),
        )
    ]
