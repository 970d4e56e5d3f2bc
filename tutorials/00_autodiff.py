# %% [markdown]
# # 00 · Reverse-mode automatic differentiation, from first principles
#
# Every model in this course is trained by following the gradient of a scalar loss with
# respect to thousands of parameters. This tutorial builds up why *reverse mode* computes that
# gradient for the price of about one extra evaluation of the loss, how our engine
# (`autodiff`) does it, how to teach it a new operation, and how gradients of gradients come
# for free.
#
# Run it top to bottom with `python tutorials/00_autodiff.py`, or open it as a notebook.

# %%
import functools
import os
import shutil
import subprocess
import time

import matplotlib.pyplot as plt
import numpy as np

import autodiff as ad

QUICK = os.environ.get("SCRATCHGEN_QUICK") == "1"  # the test suite runs a shortened version
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. The chain rule is a product of Jacobians
#
# Take a composition  y = f3(f2(f1(x)))  with x in R^n and a scalar y. Writing J_k for the
# Jacobian of f_k at the point where it is evaluated, the chain rule says
#
#     dy/dx = J3 · J2 · J1          (1 × n)  =  (1 × m2) (m2 × m1) (m1 × n)
#
# Matrix products are associative, so we may multiply in any order, and the order decides the
# cost:
#
# * **forward mode** multiplies from the right, J3 (J2 (J1 e_i)), one input direction e_i at a
#   time: n passes for the full gradient;
# * **reverse mode** multiplies from the left, ((1 · J3) J2) J1: it carries a single *row
#   vector* back through the composition. One pass gives the whole gradient.
#
# A row vector times a Jacobian is a **vector-Jacobian product** (VJP), and reverse mode is
# nothing but a VJP per operation, applied from the output back to the inputs. The engine never
# forms a Jacobian: each operation knows how to compute  v ↦ vᵀJ  directly.
#
# Let us check the claim on a small composition, with the Jacobians written out by hand.

# %%
A = rng.standard_normal((4, 3))
x0 = rng.standard_normal(3)

# f1(x) = A x,  f2(u) = tanh(u),  f3(h) = sum(h^2)
u0 = A @ x0
h0 = np.tanh(u0)
J1 = A  # (4, 3)
J2 = np.diag(1 - h0**2)  # (4, 4)
J3 = 2 * h0[None, :]  # (1, 4)
by_hand = (J3 @ J2 @ J1).ravel()

x = ad.Tensor(x0, requires_grad=True)
y = (ad.tanh(ad.Tensor(A) @ x) ** 2).sum()
y.backward()
print("Jacobian product:", by_hand)
print("reverse mode:    ", x.grad.data)
assert np.allclose(by_hand, x.grad.data)

# %% [markdown]
# ## 2. What backward walks
#
# Each operation records its inputs, so the result remembers the graph that produced it.
# `ad.to_dot` writes that graph as Graphviz text; `scratchgen.viz.draw_graph` draws it with
# matplotlib (used here when the `dot` program is absent). Backward visits the boxes from right
# to left, each one turning the gradient of its output into gradients of its inputs.

# %%
W = ad.Tensor(rng.standard_normal((3, 2)), requires_grad=True)
b = ad.Tensor(np.zeros(2), requires_grad=True)
inputs = ad.Tensor(rng.standard_normal((5, 3)))
loss = ad.mean(ad.tanh(inputs @ W + b) ** 2)
print(ad.to_dot(loss, {"W": W, "b": b, "x": inputs}))

if shutil.which("dot"):
    png = subprocess.run(
        ["dot", "-Tpng"], input=ad.to_dot(loss).encode(), capture_output=True, check=True
    ).stdout
    with open("graph.png", "wb") as f:
        f.write(png)
    print("wrote graph.png with Graphviz")
else:
    from scratchgen.viz import draw_graph

    draw_graph(loss, {"W": W, "b": b, "x": inputs})
    plt.title("loss = mean(tanh(x W + b)^2)")
    plt.show()

# %% [markdown]
# ## 3. Why reverse mode suits a scalar loss
#
# Forward mode needs one pass per input; reverse mode one pass per output. For a loss of a
# million parameters, that is a million to one. Here we time both on a tiny network with n
# inputs: the forward-mode gradient is assembled from n directional derivatives (finite
# differences stand in for forward-mode passes, which cost the same order as an evaluation).


# %%
def network_loss(w):
    return ad.sum(ad.tanh(ad.reshape(w, (20, -1)) @ np.ones((w.size // 20,))) ** 2)


for n in [20, 200] if QUICK else [20, 200, 2000]:
    w0 = rng.standard_normal(n)
    start = time.perf_counter()
    w = ad.Tensor(w0, requires_grad=True)
    (reverse,) = ad.grad(network_loss(w), w)
    t_reverse = time.perf_counter() - start

    start = time.perf_counter()
    eps, forward = 1e-6, np.empty(n)
    for i in range(n):
        e = np.zeros(n)
        e[i] = eps
        plus, minus = network_loss(ad.Tensor(w0 + e)), network_loss(ad.Tensor(w0 - e))
        forward[i] = (plus.item() - minus.item()) / (2 * eps)
    t_forward = time.perf_counter() - start
    assert np.allclose(forward, reverse.data, atol=1e-5)
    print(f"n = {n:5d}: one reverse pass {t_reverse * 1e3:7.2f} ms, "
          f"n directional passes {t_forward * 1e3:9.2f} ms")  # fmt: skip

# %% [markdown]
# ## 4. Teaching the engine a new operation
#
# An operation is a **primitive**: a forward function on NumPy arrays, and one VJP per
# argument. The VJP receives `g` (the gradient flowing into the output), `ans` (the output) and
# the inputs, and returns g contracted with the Jacobian.
#
# Take  log cosh(x). Its derivative is tanh(x), so its VJP is  g · tanh(x). Computing it
# stably matters: cosh overflows for |x| > 710, but
#
#     log cosh(x) = |x| + log(1 + e^{-2|x|}) - log 2
#
# never does. The VJP is written with engine operations (`ad.tanh`, `*`), not NumPy ones; that
# is what will make second derivatives work in section 5.


# %%
def _log_cosh_forward(x):
    return np.abs(x) + np.log1p(np.exp(-2 * np.abs(x))) - np.log(2.0)


log_cosh = ad.primitive(_log_cosh_forward, name="log_cosh")
log_cosh.defvjp(lambda g, ans, x: g * ad.tanh(x))

print("log cosh(1000) =", log_cosh(1000.0).item(), " (np.log(np.cosh(1000)) is inf)")

# %% [markdown]
# Never trust a hand-written derivative: compare it with central finite differences,
# (f(x + εu) − f(x − εu)) / 2ε, in random directions u. `ad.gradcheck` does exactly that, in
# float64 (in float32 the rounding error of the difference would swamp the result). A wrong
# VJP, say with the sign flipped, is caught at once.

# %%
points = np.linspace(-3, 3, 7)
print("gradcheck:", ad.gradcheck(log_cosh, [points]))

wrong = ad.primitive(_log_cosh_forward, name="log_cosh_wrong")
wrong.defvjp(lambda g, ans, x: -g * ad.tanh(x))
try:
    ad.gradcheck(wrong, [points])
except ad.GradcheckError as error:
    print("caught:", error)

# %% [markdown]
# ## 5. Second derivatives
#
# With `create_graph=True`, backward runs the VJPs *while recording*, and since every VJP is
# built from engine operations, the gradient is itself a tensor in a new graph. Differentiating
# it again gives second derivatives: d²/dx² log cosh(x) = 1 − tanh²(x).

# %%
x = ad.Tensor(points, requires_grad=True)
(first,) = ad.grad(log_cosh(x).sum(), x, create_graph=True)
(second,) = ad.grad(first.sum(), x)
print("first: ", np.round(first.data, 4), "\nsecond:", np.round(second.data, 4))
assert np.allclose(second.data, 1 - np.tanh(points) ** 2)
print("gradgradcheck:", ad.gradgradcheck(log_cosh, [points]))

# %% [markdown]
# A VJP written in raw NumPy would give the right first derivative and a silently wrong
# second one; `gradgradcheck` exists to catch that:

# %%
numpy_vjp = ad.primitive(_log_cosh_forward, name="log_cosh_numpy_vjp")
numpy_vjp.defvjp(lambda g, ans, x: g * np.tanh(x.data))  # a constant as far as the engine knows
print("first order still fine:", ad.gradcheck(numpy_vjp, [points]))
try:
    ad.gradgradcheck(numpy_vjp, [points])
except ad.GradcheckError as error:
    print("second order caught:", error)

# %% [markdown]
# ## 6. Hessian-vector products, and Newton's method
#
# The Hessian H of a loss with p parameters has p² entries, but a Hessian-vector product costs
# only two backward passes: H v = ∇_θ ⟨∇_θ L(θ), v⟩. Newton's method needs H⁻¹∇L; solving
# H d = ∇L by conjugate gradients needs only products H v. Here it is on logistic regression,
# where it converges in a handful of steps (gradient descent needs hundreds).

# %%
features = rng.standard_normal((200, 3))
labels = (rng.random(200) < 1 / (1 + np.exp(-features @ [2.0, -1.0, 0.5]))).astype(float)


def nll(theta):
    logits = ad.Tensor(features) @ theta
    return ad.mean(ad.softplus(logits) - labels * logits)


def hvp(theta, v):
    (g,) = ad.grad(nll(theta), theta, create_graph=True)
    (hv,) = ad.grad((g * v).sum(), theta)
    return hv.data


def conjugate_gradient(matvec, b, steps=10):
    """Solve H d = b for symmetric positive-definite H given only d -> H d."""
    d, r = np.zeros_like(b), b.copy()
    p = r.copy()
    for _ in range(steps):
        Hp = matvec(p)
        alpha = (r @ r) / (p @ Hp)
        d, r_next = d + alpha * p, r - alpha * Hp
        if np.linalg.norm(r_next) < 1e-12:
            break
        p, r = r_next + (r_next @ r_next) / (r @ r) * p, r_next
    return d


theta = ad.Tensor(np.zeros(3), requires_grad=True)
newton_losses = []
for step in range(6):
    loss = nll(theta)
    newton_losses.append(loss.item())
    (g,) = ad.grad(loss, theta)
    direction = conjugate_gradient(functools.partial(hvp, theta), g.data)
    theta = ad.Tensor(theta.data - direction, requires_grad=True)
    print(f"Newton step {step}: loss {newton_losses[-1]:.6f}, |grad| {np.linalg.norm(g.data):.2e}")

plt.figure(figsize=(5, 3))
plt.semilogy(np.array(newton_losses) - newton_losses[-1] + 1e-16, "o-")
plt.xlabel("Newton step")
plt.ylabel("loss - final loss")
plt.title("quadratic convergence from Hessian-vector products")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Summary
#
# * Reverse mode multiplies Jacobians from the left: one backward pass per scalar output.
# * Each primitive contributes a VJP; the engine walks the graph once, latest op first, summing
#   the contributions of every use of a tensor.
# * A VJP written with engine operations is differentiable again: `create_graph=True` gives
#   Hessian-vector products, gradient penalties and Jacobian traces, all used later in the
#   course (WGAN-GP, score matching, Hutchinson's estimator).
# * Check every new derivative with `gradcheck` and `gradgradcheck`, in float64.
