"""Autoregressive models: p(x) = Π_d p(x_d | x_<d), exact log-likelihood and sequential sampling.

FVSBN (Frey 1998), NADE (Larochelle & Murray 2011), MADE (Germain et al. 2015), an LSTM/GRU over
the dimension sequence, and PixelCNN (van den Oord et al. 2016) with its gated variant. The plugin
spec only, free of torch; the maths is in the sibling modules, imported when a cell builds a model.
"""

import benchbench
from benchbench import ModelSpec, Param

# benchbench.distributions.CONDITIONALS, repeated so that listing plugins does not import torch
CONDITIONALS = ("auto", "bernoulli", "categorical", "logistic-mixture", "gaussian")

PARAMS = (
    Param("conditional", "auto", "p(x_d | x_<d): auto = Bernoulli on binary data, categorical over the L levels on "
          "discrete data, a mixture of `components` Gaussians on continuous data", choices=CONDITIONALS),
    Param("components", 10, "mixture components of the gaussian (1 = one Gaussian) and logistic-mixture conditionals"),
    Param("hidden", 128, "width: hidden units (nade, made, rnn) or channels (pixelcnn)"),
    Param("layers", 2, "depth: hidden layers (made), stacked recurrent layers (rnn), blocks after the first "
          "(pixelcnn)"),
    Param("orderings", 1, "made: input orderings / masks; more than one is an ensemble averaging their "
          "probabilities"),
    Param("order", "natural", "made: the input ordering of each member, the data's own or a random permutation",
          choices=("natural", "random")),
    Param("direct", False, "made: add direct input-to-output connections, FVSBN's linear map beside the hidden layers"),
    Param("cell", "lstm", "rnn: the recurrent cell", choices=("lstm", "gru")),
    Param("kernel", 7, "pixelcnn: width of the first masked convolution", choices=(3, 5, 7)),
    Param("gated", False, "pixelcnn: gated layers with vertical and horizontal stacks, no blind spot "
          "(van den Oord et al. 2016b)"),
    Param("lr", 1e-3, "Adam learning rate"),
)

# Which parameters each variant reads besides conditional, components and lr; setting another one
# is an error rather than silently ignored.
USES = {
    "made": ("hidden", "layers", "orderings", "order", "direct"),
    "nade": ("hidden",),
    "fvsbn": (),
    "rnn": ("hidden", "layers", "cell"),
    "pixelcnn": ("hidden", "layers", "kernel", "gated"),
}


@benchbench.hookimpl
def benchbench_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            name="autoregressive",
            summary="Autoregressive models (FVSBN, NADE, MADE, LSTM/GRU, PixelCNN): exact log p(x), "
                    "sequential sampling",
            factory="benchbench_plugins.models.autoregressive.build:build",
            version="1",
            variants={  # defaults that learn on the built-in CPU data in seconds; larger data may want a lower lr
                "made": {"hidden": 256, "layers": 1, "orderings": 8, "order": "random", "direct": True, "lr": 1e-2},
                "nade": {"hidden": 64, "lr": 1e-2},
                "fvsbn": {"lr": 1e-2},
                "rnn": {"hidden": 64, "layers": 1, "cell": "gru", "lr": 1e-2},
                "pixelcnn": {"hidden": 64, "layers": 4, "lr": 3e-3},
            },
            params=PARAMS,
        )
    ]
