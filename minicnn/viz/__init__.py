"""minicnn.viz: matplotlib figures for the course's exercises.

Every figure function takes plain NumPy arrays (channels last), returns a
``matplotlib.figure.Figure`` (no pyplot state, no display needed) and, given
``path=...``, also saves it as a PNG.

One idea per file:
- ``curves``:   learning_curves
- ``grids``:    image_grid, filter_grid, dense_weight_images, activation_maximization_grid
- ``maps``:     activation_maps, all_activation_maps, overlay_heatmap
- ``plots``:    confusion_matrix_figure, tsne_scatter, filter_statistics_figure
- ``filters``:  rgb_filters, filters_as_rgb (first-layer filters as colour images)
- ``imageops``: normalize_to_uint8, to_display, upsample (pure NumPy helpers)
- ``labels``:   class_name, true_and_predicted ("true 3 / pred 5" panel labels)
- ``figures``:  creating and saving figures (titles and notes wrapped to the figure)

Every figure says what it shows on itself (title, panel labels, a colour bar
or a note saying how colours were scaled): a PNG copied out of its report
still explains itself.
- ``augmentations``: show_augmentations (written with the data augmenter)
"""
from .curves import learning_curves
from .filters import filters_as_rgb, rgb_filters
from .grids import activation_maximization_grid, dense_weight_images, filter_grid, image_grid
from .imageops import normalize_to_uint8, to_display, upsample, upsample_bilinear, upsample_nearest
from .labels import class_name, true_and_predicted
from .maps import activation_maps, all_activation_maps, overlay_heatmap
from .plots import confusion_matrix_figure, filter_statistics_figure, tsne_scatter

__all__ = [
    "learning_curves",
    "rgb_filters", "filters_as_rgb",
    "image_grid", "filter_grid", "dense_weight_images", "activation_maximization_grid",
    "activation_maps", "all_activation_maps", "overlay_heatmap",
    "confusion_matrix_figure", "tsne_scatter", "filter_statistics_figure",
    "normalize_to_uint8", "to_display", "upsample", "upsample_bilinear", "upsample_nearest",
    "class_name", "true_and_predicted",
]

try:  # written by the data side, next to the augmenter; absent in a partial checkout
    from .augmentations import show_augmentations  # noqa: F401
except ImportError:
    pass
else:
    __all__.append("show_augmentations")
