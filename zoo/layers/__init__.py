"""Public Keras layers of the zoo (one layer per module). Each helper adds its import here."""
from zoo.layers.co_attention import CoAttention  # noqa: F401  (detector)
from zoo.layers.heads_1d import Heatmap1DHeads  # noqa: F401  (detector)
from zoo.layers.hourglass import Hourglass  # noqa: F401  (detector)
from zoo.layers.residual_block import MultiScaleResidualBlock  # noqa: F401  (detector)
from zoo.layers.heatmap_decoder import HeatmapDecoder  # noqa: F401  (codecs)
from zoo.layers.temporal_refinement import TemporalRefinement, TemporalRefinementCell  # noqa: F401  (tracker)
from zoo.layers.select_stack import SelectStack  # noqa: F401  (detector)
