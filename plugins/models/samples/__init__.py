"""Samples made elsewhere, scored under benchbench's own protocols: a model whose "training" is loading
a folder of PNG / JPEG images, a ``.npy`` / ``.npz`` array or a ``.pt`` tensor file, checked against
the dataset and converted to its convention. ``bench eval SAMPLES --dataset NAME`` builds the suite.
The plugin spec only; the reading is in ``files.py``, the checks and the model in ``model.py``."""

import benchbench
from benchbench import ModelSpec, Param


@benchbench.hookimpl
def benchbench_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            name="samples",
            summary="Samples made elsewhere (image folder, .npy/.npz, .pt), checked against the data; a budget of 1 step",
            factory="benchbench_plugins.models.samples.model:build",
            version="1",
            params=(
                Param("path", "", "a folder of PNG / JPEG images (taken in the natural order of their names), "
                      "a .npy / .npz array or a .pt tensor file (a tensor, or a dict of tensors)"),
                Param("key", "", ".npz / dict .pt: the array holding the samples; default: the only one, or the "
                      "first that is not labels_key"),
                Param("layout", "auto", "axes of the array: NCHW, NHWC, NHW (grey images without a channel axis) "
                      "or NC (vectors; images flattened in C, H, W order); auto: from the number of axes and "
                      "which end axis holds the data's channel count. Image folders: auto only",
                      choices=("auto", "NCHW", "NHWC", "NHW", "NC")),
                Param("range", "auto", "the interval the values span, mapped linearly onto the data's [0, 1]; "
                      "auto: the pixel depth for image files, 0-1 for arrays (continuous vector data: auto "
                      "only, values in data units)", choices=("auto", "0-1", "0-255", "-1-1")),
                Param("labels", "", "a .npy / .npz / .pt file of the samples' class labels, one per sample in "
                      "order; with labels the model is conditional"),
                Param("labels_key", "", "the labels' key in the .npz / dict .pt: in the labels file when given, "
                      "else in the samples file"),
            ),
        )
    ]
