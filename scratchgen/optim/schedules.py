"""Learning-rate schedules: ``lr = base_lr * factor(step)``, advanced by ``schedule.step()``."""

from __future__ import annotations

import math

from scratchgen.optim.optimizer import Optimizer


class Schedule:
    """Base class: subclasses define ``factor(step)``; ``step()`` sets the optimizer's lr for
    the next update."""

    def __init__(self, optimizer: Optimizer) -> None:
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.step_count = 0
        optimizer.lr = self.base_lr * self.factor(0)

    def factor(self, step: int) -> float:
        raise NotImplementedError

    def step(self) -> None:
        self.step_count += 1
        self.optimizer.lr = self.base_lr * self.factor(self.step_count)

    def state_dict(self) -> dict[str, float]:
        return {"base_lr": self.base_lr, "step_count": self.step_count}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.base_lr, self.step_count = float(state["base_lr"]), int(state["step_count"])
        self.optimizer.lr = self.base_lr * self.factor(self.step_count)


class WarmupCosine(Schedule):
    """Linear warm-up from 0 over ``warmup_steps``, then a half cosine down to ``min_factor``
    at ``total_steps`` (Loshchilov & Hutter, "SGDR", 2017, eq. 5, without restarts)."""

    def __init__(self, optimizer: Optimizer, total_steps: int, warmup_steps: int = 0,
                 min_factor: float = 0.0) -> None:  # fmt: skip
        if not 0 <= warmup_steps < total_steps:
            raise ValueError(f"WarmupCosine: need 0 <= warmup_steps < total_steps, got "
                             f"{warmup_steps} and {total_steps}")  # fmt: skip
        self.total_steps, self.warmup_steps, self.min_factor = total_steps, warmup_steps, min_factor
        super().__init__(optimizer)

    def factor(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        progress = min(1.0, (step - self.warmup_steps) / (self.total_steps - self.warmup_steps))
        return self.min_factor + (1 - self.min_factor) * 0.5 * (1 + math.cos(math.pi * progress))


class StepDecay(Schedule):
    """Multiply the learning rate by ``gamma`` every ``step_size`` steps."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer)

    def factor(self, step: int) -> float:
        return self.gamma ** (step // self.step_size)


class LinearWarmup(Schedule):
    """Linear warm-up over ``warmup_steps``, then constant."""

    def __init__(self, optimizer: Optimizer, warmup_steps: int) -> None:
        self.warmup_steps = max(1, warmup_steps)
        super().__init__(optimizer)

    def factor(self, step: int) -> float:
        return min(1.0, (step + 1) / self.warmup_steps)
