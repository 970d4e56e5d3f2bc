"""Optimizers, learning-rate schedules, gradient clipping and parameter averaging."""

from scratchgen.optim.adam import Adam, AdamW
from scratchgen.optim.clip import clip_grad_norm_
from scratchgen.optim.ema import EMA
from scratchgen.optim.optimizer import Optimizer
from scratchgen.optim.rmsprop import RMSprop
from scratchgen.optim.schedules import LinearWarmup, Schedule, StepDecay, WarmupCosine
from scratchgen.optim.sgd import SGD

__all__ = [
    "Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Schedule", "WarmupCosine", "StepDecay",
    "LinearWarmup", "clip_grad_norm_", "EMA",
]  # fmt: skip
