"""Autoregressive models: p(x) = prod_i p(x_i | x_<i)."""

from scratchgen.models.autoregressive.base import BinaryAutoregressive
from scratchgen.models.autoregressive.fvsbn import FVSBN
from scratchgen.models.autoregressive.gated_pixelcnn import GatedPixelCNN
from scratchgen.models.autoregressive.made import MADE, made_masks
from scratchgen.models.autoregressive.nade import NADE
from scratchgen.models.autoregressive.pixelcnn import PixelCNN
from scratchgen.models.autoregressive.transformer_lm import TransformerLM
from scratchgen.models.autoregressive.wavenet import WaveNet

__all__ = [
    "BinaryAutoregressive", "FVSBN", "NADE", "MADE", "made_masks", "PixelCNN", "TransformerLM",
    "WaveNet", "GatedPixelCNN",
]  # fmt: skip
