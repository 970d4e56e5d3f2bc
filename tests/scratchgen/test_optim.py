"""Each optimizer against its update written out by hand; schedules, clipping, EMA, resume."""

import math

import numpy as np
import pytest

import autodiff as ad
from scratchgen import nn, optim

GRADS = [np.array([0.5, -1.0, 2.0]), np.array([-0.25, 0.75, 1.0]), np.array([1.0, 1.0, -3.0])]
THETA0 = np.array([1.0, -2.0, 0.5])


def run(make_optimizer, grads=GRADS):
    """Apply the optimizer to a parameter with the given gradient sequence."""
    theta = nn.Parameter(THETA0.copy())
    opt = make_optimizer([theta])
    for g in grads:
        theta.grad = ad.Tensor(g)
        opt.step()
    return theta.data


def test_sgd_with_weight_decay_and_nesterov_momentum():
    lr, mu, wd = 0.1, 0.9, 0.01
    theta, b = THETA0.copy(), None
    for g in GRADS:
        g = g + wd * theta
        b = g.copy() if b is None else mu * b + g
        theta = theta - lr * (g + mu * b)
    got = run(lambda p: optim.SGD(p, lr, momentum=mu, weight_decay=wd, nesterov=True))
    np.testing.assert_allclose(got, theta, rtol=1e-12)


def test_sgd_classical_momentum_with_dampening():
    lr, mu, damp = 0.05, 0.5, 0.2
    theta, b = THETA0.copy(), None
    for g in GRADS:
        b = g.copy() if b is None else mu * b + (1 - damp) * g
        theta = theta - lr * b
    np.testing.assert_allclose(run(lambda p: optim.SGD(p, lr, momentum=mu, dampening=damp)),
                               theta, rtol=1e-12)  # fmt: skip


@pytest.mark.parametrize("decoupled", [False, True])
def test_adam_and_adamw(decoupled):
    lr, (b1, b2), eps, wd = 0.01, (0.8, 0.95), 1e-8, 0.1
    theta, m, v = THETA0.copy(), np.zeros(3), np.zeros(3)
    for t, g in enumerate(GRADS, start=1):
        if decoupled:
            theta = theta * (1 - lr * wd)
        else:
            g = g + wd * theta
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        theta = theta - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    cls = optim.AdamW if decoupled else optim.Adam
    got = run(lambda p: cls(p, lr, betas=(b1, b2), eps=eps, weight_decay=wd))
    np.testing.assert_allclose(got, theta, rtol=1e-12)


def test_rmsprop():
    lr, alpha, eps, wd = 0.01, 0.9, 1e-8, 0.1
    theta, v = THETA0.copy(), np.zeros(3)
    for g in GRADS:
        g = g + wd * theta
        v = alpha * v + (1 - alpha) * g * g
        theta = theta - lr * g / (np.sqrt(v) + eps)
    got = run(lambda p: optim.RMSprop(p, lr, alpha=alpha, eps=eps, weight_decay=wd))
    np.testing.assert_allclose(got, theta, rtol=1e-12)


def test_updates_keep_float32():
    theta = nn.Parameter(THETA0.astype(np.float32))
    opt = optim.Adam([theta])
    theta.grad = ad.Tensor(GRADS[0].astype(np.float32))
    opt.step()
    assert theta.dtype == np.float32 and opt.state[0]["exp_avg"].dtype == np.float32


def test_resumed_optimizer_continues_exactly():
    """Two steps, save, restore into fresh objects, one more step == three steps straight."""
    straight = run(lambda p: optim.Adam(p, 0.01))
    theta = nn.Parameter(THETA0.copy())
    opt = optim.Adam([theta], 0.01)
    for g in GRADS[:2]:
        theta.grad = ad.Tensor(g)
        opt.step()
    saved_theta, saved_state = theta.data.copy(), opt.state_dict()
    resumed = nn.Parameter(saved_theta)
    opt2 = optim.Adam([resumed], 0.5)
    opt2.load_state_dict(saved_state)
    resumed.grad = ad.Tensor(GRADS[2])
    opt2.step()
    np.testing.assert_array_equal(resumed.data, straight)


def test_optimizer_argument_errors():
    with pytest.raises(ValueError, match="no parameters"):
        optim.SGD([], 0.1)
    p = nn.Parameter(np.ones(2))
    with pytest.raises(ValueError, match="appears twice"):
        optim.SGD([p, p], 0.1)
    with pytest.raises(ValueError, match="betas"):
        optim.Adam([p], betas=(0.9, 1.0))


def test_warmup_cosine_schedule():
    opt = optim.SGD([nn.Parameter(np.ones(1))], lr=1.0)
    schedule = optim.WarmupCosine(opt, total_steps=10, warmup_steps=2, min_factor=0.1)
    lrs = [opt.lr]
    for _ in range(12):
        schedule.step()
        lrs.append(opt.lr)
    assert lrs[0] == pytest.approx(0.5) and lrs[1] == pytest.approx(1.0)
    assert lrs[6] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert lrs[10] == pytest.approx(0.1) and lrs[12] == pytest.approx(0.1)
    assert all(a >= b for a, b in zip(lrs[1:], lrs[2:]))


def test_step_decay_and_schedule_state():
    opt = optim.SGD([nn.Parameter(np.ones(1))], lr=2.0)
    schedule = optim.StepDecay(opt, step_size=3, gamma=0.5)
    for _ in range(7):
        schedule.step()
    assert opt.lr == pytest.approx(2.0 * 0.25)
    fresh = optim.SGD([nn.Parameter(np.ones(1))], lr=2.0)
    restored = optim.StepDecay(fresh, step_size=3, gamma=0.5)
    restored.load_state_dict(schedule.state_dict())
    assert fresh.lr == opt.lr


def test_clip_grad_norm():
    a, b = nn.Parameter(np.zeros(2)), nn.Parameter(np.zeros(1))
    a.grad, b.grad = ad.Tensor(np.array([3.0, 0.0])), ad.Tensor(np.array([4.0]))
    assert optim.clip_grad_norm_([a, b], 1.0) == pytest.approx(5.0)
    np.testing.assert_allclose(np.concatenate([a.grad.data, b.grad.data]), [0.6, 0.0, 0.8])
    assert optim.clip_grad_norm_([a, b], 10.0) == pytest.approx(1.0)
    np.testing.assert_allclose(a.grad.data, [0.6, 0.0])


def test_ema_average_and_swap():
    layer = nn.Linear(2, 1, rng=np.random.default_rng(0))
    ema = optim.EMA(layer, decay=0.5)
    start = layer.weight.data.copy()
    layer.weight.data = layer.weight.data + 1.0
    ema.update(layer)
    np.testing.assert_allclose(ema.shadow["weight"], start + 0.5)
    with ema.applied(layer):
        np.testing.assert_allclose(layer.weight.data, start + 0.5)
    np.testing.assert_allclose(layer.weight.data, start + 1.0)


def test_ema_warmup_follows_its_rule_and_resumes():
    """d_k = min(decay, (1 + k) / (10 + k)): 0.1 at the first update, so a short run's average
    is mostly trained weights; the count of updates survives state_dict."""
    layer = nn.Linear(2, 1, rng=np.random.default_rng(0))
    ema = optim.EMA(layer, decay=0.9999, warmup=True)
    shadow = layer.weight.data.astype(np.float64)
    for k in range(30):
        layer.weight.data = layer.weight.data + 1.0
        d = min(0.9999, (1 + k) / (10 + k))
        shadow = d * shadow + (1 - d) * layer.weight.data
        ema.update(layer)
    np.testing.assert_allclose(ema.shadow["weight"], shadow, rtol=1e-5)
    again = optim.EMA(layer, decay=0.9999, warmup=True)
    again.load_state_dict(ema.state_dict())
    assert again.updates == 30 and again.current_decay() == ema.current_decay() == 31 / 40


def test_linear_warmup_then_constant():
    opt = optim.SGD([nn.Parameter(np.ones(1))], lr=1.0)
    schedule = optim.LinearWarmup(opt, warmup_steps=4)
    lrs = [opt.lr]
    for _ in range(6):
        schedule.step()
        lrs.append(opt.lr)
    np.testing.assert_allclose(lrs, [0.25, 0.5, 0.75, 1.0, 1.0, 1.0, 1.0])
