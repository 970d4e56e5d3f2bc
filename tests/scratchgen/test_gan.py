"""GANs: the two-player trainer (optimizers per player, n_critic, resume, the NaN guard), each
objective against its formula, the optimal discriminator, the gradient penalty, a critic's W1,
spectral normalisation's Lipschitz bound, conditioning and packing."""

import json

import numpy as np
import pytest

import autodiff as ad
from scratchgen import data, models, nn, optim, train
from scratchgen.models.gan import OBJECTIVES, gradient_penalty
from scratchgen.models.gan.players import Discriminator
from scratchgen.testing import functional_call
from scratchgen.train import checkpoint

LOSSES = ["minimax", "ns", "kl", "reverse_kl", "js", "pearson", "hellinger", "wgan", "wgan_gp",
          "hinge", "lsgan"]  # fmt: skip
TOY = data.load("eight_gaussians")


def tiny_gan(**settings):
    return models.create("gan", TOY.info, latent=2, hidden=[16], **settings)


def trainer_for(model, tmp_path=None, **config):
    config = train.TrainConfig(**{"steps": 4, "batch_size": 32, "eval_every": 10**9, **config})
    return train.Trainer(model, TOY, config, tmp_path, progress=False)


# ---------------------------------------------------------------------- the trainer, two players
def test_every_objective_trains_a_few_steps_and_logs_each_players_loss(tmp_path):
    for loss in LOSSES:
        trainer = trainer_for(tiny_gan(loss=loss), tmp_path / loss, log_every=1)
        result = trainer.fit()
        assert set(result) >= {"test_loss_discriminator", "test_loss_generator"}
        assert all(np.isfinite(result[k]) for k in ("test_loss_discriminator",
                                                    "test_loss_generator"))  # fmt: skip
        record = json.loads((tmp_path / loss / "metrics.jsonl").read_text().splitlines()[-1])
        assert {"loss_discriminator", "loss_generator", "lr_discriminator",
                "lr_generator"} <= set(record)  # fmt: skip


@pytest.mark.parametrize(
    "loss, n_critic, expected",
    [("ns", None, 1), ("wgan", None, 5), ("wgan_gp", None, 5), ("hinge", 3, 3)],
)
def test_n_critic_is_honoured_exactly(loss, n_critic, expected):
    model = tiny_gan(loss=loss, n_critic=n_critic)
    calls = []
    real = model.player_loss
    model.player_loss = lambda name, *batch: calls.append(name) or real(name, *batch)
    trainer = trainer_for(model, steps=3)
    trainer.fit()
    training = (["discriminator"] * expected + ["generator"]) * 3
    assert calls[: len(training)] == training  # then the final evaluation's, on the test set
    assert trainer.optimizers["discriminator"].steps == 3 * expected
    assert trainer.optimizers["generator"].steps == 3


def test_each_objective_gets_its_papers_optimizers_unless_told_otherwise():
    adam = trainer_for(tiny_gan(loss="ns")).optimizers
    assert all(isinstance(o, optim.Adam) and o.lr == 2e-4 and o.betas == (0.5, 0.999)
               for o in adam.values())  # fmt: skip
    rms = trainer_for(tiny_gan(loss="wgan")).optimizers
    assert all(isinstance(o, optim.RMSprop) and o.lr == 5e-5 for o in rms.values())
    gp = trainer_for(tiny_gan(loss="wgan_gp"), lr_g=3e-4, betas_d=[0.0, 0.9]).optimizers
    assert gp["discriminator"].lr == 1e-4 and gp["discriminator"].betas == (0.0, 0.9)
    assert gp["generator"].lr == 3e-4 and gp["generator"].betas == (0.5, 0.9)
    with pytest.raises(ValueError, match="RMSprop, which has no betas"):
        trainer_for(tiny_gan(loss="wgan"), betas_d=[0.5, 0.9])
    with pytest.raises(ValueError, match="betas_g must be a pair"):
        train.TrainConfig(betas_g=[0.5, 0.9, 0.1])
    with pytest.raises(ValueError, match="training setting lr: a model with players .* lr_d"):
        trainer_for(tiny_gan(), lr=1e-3)  # would be ignored: refused instead


def test_the_players_optimizers_see_their_own_parameters_only():
    trainer = trainer_for(tiny_gan())
    d = {id(p) for p in trainer.optimizers["discriminator"].params}
    g = {id(p) for p in trainer.optimizers["generator"].params}
    assert not d & g
    assert d | g == {id(p) for p in trainer.model.parameters()}


def gan_run(folder, steps, loss="wgan_gp"):
    model = tiny_gan(loss=loss, seed=3)
    return train.Trainer(model, TOY, train.TrainConfig(steps=steps, batch_size=32, seed=3,
                                                       eval_every=10**9, checkpoint_every=4),
                         folder, progress=False), model  # fmt: skip


@pytest.mark.parametrize("loss", ["wgan_gp", "wgan"])
def test_two_player_resume_is_bit_for_bit(tmp_path, loss):
    straight, straight_model = gan_run(tmp_path / "straight", 9, loss)
    straight.fit()
    first, _ = gan_run(tmp_path / "resumed", 5, loss)
    first.fit()
    saved = checkpoint.load_arrays(tmp_path / "resumed" / "checkpoint.npz")
    assert any(k.startswith("optim/discriminator/") for k in saved)
    assert any(k.startswith("optim/generator/") for k in saved)
    second, resumed_model = gan_run(tmp_path / "resumed", 9, loss)
    second.load(tmp_path / "resumed")
    assert second.step == 5
    second.fit()
    for (name, a), (_, b) in zip(straight_model.state_dict().items(),
                                 resumed_model.state_dict().items()):  # fmt: skip
        np.testing.assert_array_equal(a, b, err_msg=name)


def test_a_player_whose_loss_diverges_stops_training_with_its_name(monkeypatch):
    model = tiny_gan()
    real = model.player_loss

    def broken(name, *batch):
        loss = real(name, *batch)
        return loss * np.nan if name == "generator" and trainer.step == 2 else loss

    model.player_loss = broken
    trainer = trainer_for(model)
    with pytest.raises(train.TrainingDiverged, match="generator: the loss became nan at step 3.*"
                                                     "lr_generator=0.0002"):  # fmt: skip
        trainer.fit()


def test_wgan_clips_the_critics_weights_after_each_update():
    model = tiny_gan(loss="wgan", clip_value=0.02)
    trainer_for(model, steps=2).fit()
    assert max(np.abs(p.data).max() for p in model.discriminator.parameters()) <= 0.02
    assert max(np.abs(p.data).max() for p in model.generator.parameters()) > 0.02


# ---------------------------------------------------------------------- the objectives
V_REAL, V_FAKE = np.array([0.3, -1.2, 2.0]), np.array([-0.5, 0.8, 0.1, -2.0])


def sigmoid(v):
    return 1 / (1 + np.exp(-v))


EXPECTED = {  # (L_D, L_G) written from each paper's formula
    "minimax": (-np.mean(np.log(sigmoid(V_REAL))) - np.mean(np.log(1 - sigmoid(V_FAKE))),
                np.mean(np.log(1 - sigmoid(V_FAKE)))),
    "ns": (-np.mean(np.log(sigmoid(V_REAL))) - np.mean(np.log(1 - sigmoid(V_FAKE))),
           -np.mean(np.log(sigmoid(V_FAKE)))),
    "kl": (-(np.mean(V_REAL) - np.mean(np.exp(V_FAKE - 1))), -np.mean(V_FAKE)),
    "pearson": (-(np.mean(V_REAL) - np.mean(V_FAKE**2 / 4 + V_FAKE)), -np.mean(V_FAKE)),
    "wgan": (np.mean(V_FAKE) - np.mean(V_REAL), -np.mean(V_FAKE)),
    "hinge": (np.mean(np.maximum(0, 1 - V_REAL)) + np.mean(np.maximum(0, 1 + V_FAKE)),
              -np.mean(V_FAKE)),
    "lsgan": (0.5 * np.mean((V_REAL - 1) ** 2) + 0.5 * np.mean(V_FAKE**2),
              0.5 * np.mean((V_FAKE - 1) ** 2)),
}  # fmt: skip


@pytest.mark.parametrize("loss", EXPECTED)
def test_each_objective_matches_its_formula(loss):
    objective = OBJECTIVES[loss]
    d_loss = objective.discriminator(ad.Tensor(V_REAL), ad.Tensor(V_FAKE)).item()
    g_loss = objective.generator(ad.Tensor(V_FAKE)).item()
    assert (d_loss, g_loss) == pytest.approx(EXPECTED[loss], rel=1e-12)


def test_the_discriminator_approaches_the_optimal_one():
    """Trained alone between p = N(0, 1) and a fixed generator's q = N(1.5, 0.7^2), D(x) =
    sigma(v(x)) approaches D* = p / (p + q) (Goodfellow et al. 2014, proposition 1): within
    0.06 on [-1, 2.5], where both densities have mass, after 800 Adam steps."""
    rng = np.random.default_rng(0)
    d = Discriminator((1,), "mlp", [32, 32], 0, 0, "concat", 1, False,
                      rng=np.random.default_rng(1), dtype=np.float64)  # fmt: skip
    adam = optim.Adam(list(d.parameters()), 3e-3)
    for _ in range(800):
        real = rng.standard_normal((256, 1))
        fake = 1.5 + 0.7 * rng.standard_normal((256, 1))
        loss = OBJECTIVES["ns"].discriminator(d(real), d(fake))
        adam.zero_grad()
        loss.backward()
        adam.step()
    x = np.linspace(-1.0, 2.5, 36)[:, None]
    p = np.exp(-0.5 * x**2)
    q = np.exp(-0.5 * ((x - 1.5) / 0.7) ** 2) / 0.7
    with ad.no_grad():
        got = sigmoid(d(x).data)
    np.testing.assert_allclose(got, (p / (p + q))[:, 0], atol=0.06)


def test_a_penalised_critic_estimates_the_wasserstein_distance():
    """Between N(0, 1) and N(2, 1), W1 = |mu_1 - mu_2| = mu = 2, attained by f(x) = -x. The
    penalty only discourages slopes above 1: over f = a x the penalised objective
    mu |a| - lambda (|a| - 1)^2 peaks at |a| = 1 + mu / (2 lambda), so that the critic's
    E_p f - E_q f tends to mu (1 + mu / (2 lambda)) = 2.2 with lambda = 10 (and to W1 as lambda
    grows). Reached within 0.08 after 600 steps, on fresh samples."""
    rng, mu, lam = np.random.default_rng(0), 2.0, 10.0
    critic = Discriminator((1,), "mlp", [32, 32], 0, 0, "concat", 1, False,
                           rng=np.random.default_rng(1), dtype=np.float64)  # fmt: skip
    adam = optim.Adam(list(critic.parameters()), 1e-3, betas=(0.5, 0.9))
    for _ in range(600):
        real, fake = rng.standard_normal((256, 1)), mu + rng.standard_normal((256, 1))
        loss = OBJECTIVES["wgan_gp"].discriminator(critic(real), critic(fake))
        loss = loss + lam * gradient_penalty(critic, real, fake, rng)
        adam.zero_grad()
        loss.backward()
        adam.step()
    with ad.no_grad():
        real, fake = rng.standard_normal((20000, 1)), mu + rng.standard_normal((20000, 1))
        estimate = float(np.mean(critic(real).data) - np.mean(critic(fake).data))
    assert estimate == pytest.approx(mu * (1 + mu / (2 * lam)), abs=0.08)


# ---------------------------------------------------------------------- the gradient penalty
def test_the_penalty_takes_each_examples_norm_over_all_its_dimensions():
    """critic(x) = 1/2 sum x^2 has gradient x_hat itself: the penalty is the mean over
    examples of (||x_hat_i|| - 1)^2, with x_hat_i = e_i x_i + (1 - e_i) x_fake_i."""
    rng = np.random.default_rng(0)
    real, fake = rng.standard_normal((5, 1, 2, 3)), rng.standard_normal((5, 1, 2, 3))
    epsilon = rng.uniform(size=5)

    def critic(x):
        return 0.5 * ad.sum(ad.reshape(x * x, (5, -1)), axis=1)

    x_hat = epsilon[:, None, None, None] * real + (1 - epsilon[:, None, None, None]) * fake
    norms = np.sqrt((x_hat**2).reshape(5, -1).sum(axis=1))
    got = gradient_penalty(critic, real, fake, epsilon=epsilon).item()
    assert got == pytest.approx(np.mean((norms - 1) ** 2), rel=1e-9)


def test_a_critic_of_unit_gradient_has_no_penalty_and_a_flat_one_a_finite_gradient():
    w = nn.Parameter(np.array([0.6, -0.8]))  # ||w|| = 1
    real, fake = np.ones((4, 2)), -np.ones((4, 2))
    rng = np.random.default_rng(0)
    assert gradient_penalty(lambda x: ad.matmul(x, w), real, fake, rng).item() < 1e-12
    # relu(x) w with every x below 0: the gradient is exactly 0, where a plain sqrt's
    # derivative is infinite; the penalty is 1, and its gradient in w is finite
    penalty = gradient_penalty(lambda x: ad.matmul(ad.relu(x - 5.0), w), real, fake, rng)
    assert penalty.item() == pytest.approx(1.0, abs=1e-5)  # (sqrt(SAFE_SQUARE) - 1)^2
    penalty.backward()
    assert np.all(np.isfinite(w.grad.data))


def test_the_penalty_is_differentiable_in_the_critics_parameters():
    """gradcheck (float64) of the penalty as a function of the critic's parameters, through
    the double backward of a small MLP critic."""
    critic = Discriminator((3,), "mlp", [5], 0, 0, "concat", 1, False,
                           rng=np.random.default_rng(2), dtype=np.float64)  # fmt: skip
    names = [name for name, _ in critic.named_parameters()]
    params = [p.data.copy() for _, p in critic.named_parameters()]
    rng = np.random.default_rng(1)
    real, fake = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    epsilon = rng.uniform(size=4)

    def penalty(*tensors):
        return gradient_penalty(lambda x: functional_call(critic, dict(zip(names, tensors)), x),
                                real, fake, epsilon=epsilon)  # fmt: skip

    assert ad.gradcheck(penalty, params)


def test_penalty_mistakes_are_one_line():
    with pytest.raises(ValueError, match="give rng"):
        gradient_penalty(lambda x: ad.sum(x, axis=1), np.ones((2, 3)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="differ"):
        gradient_penalty(lambda x: ad.sum(x, axis=1), np.ones((2, 3)), np.ones((3, 3)),
                         epsilon=np.ones(2))  # fmt: skip
    with pytest.raises(ValueError, match=r"shape \(2,\) or \(2, 1\)"):
        gradient_penalty(lambda x: x, np.ones((2, 3)), np.ones((2, 3)), epsilon=np.ones(2))


# ---------------------------------------------------------------------- players and settings
def test_a_spectrally_normalised_discriminator_is_1_lipschitz():
    """Every layer W / sigma(W) and LeakyReLU are 1-Lipschitz, so the whole D is: after the
    power iterations have converged, |D(x) - D(x')| <= ||x - x'|| on random pairs."""
    model = models.create("gan", TOY.info, hidden=[32, 32], spectral_norm=True,
                          dtype="float64")  # fmt: skip
    d = model.discriminator
    for _ in range(300):
        for _, layer in d.named_modules():
            if isinstance(layer, nn.SpectralNorm):
                layer._power_iteration()
    d.eval()
    rng = np.random.default_rng(0)
    x, x2 = rng.standard_normal((500, 2)) * 3, rng.standard_normal((500, 2)) * 3
    with ad.no_grad():
        gap = np.abs(d(x).data - d(x2).data)
    assert np.all(gap <= np.linalg.norm(x - x2, axis=1) * (1 + 1e-6))
    assert np.max(gap / np.linalg.norm(x - x2, axis=1)) > 0.05  # not trivially flat


@pytest.mark.parametrize("conditioning", ["projection", "concat"])
@pytest.mark.parametrize("name", ["digits", "digits_binary"])
def test_conditional_dcgan_players_train_and_sample_the_datas_levels(name, conditioning):
    dataset = data.load(name)
    model = models.create("gan", dataset.info, num_classes=10, conditioning=conditioning,
                          filters=8, latent=8)  # fmt: skip
    config = train.TrainConfig(steps=2, batch_size=16, eval_every=10**9, eval_batch=200)
    train.Trainer(model, dataset, config, progress=False).fit()
    samples = model.sample(6, np.random.default_rng(0), y=np.arange(6))
    top = 1 if dataset.info.kind == "binary" else dataset.info.levels - 1
    assert samples.shape == (6, 1, 8, 8) and samples.min() >= 0 and samples.max() <= top
    assert np.issubdtype(samples.dtype, np.integer)
    with pytest.raises(ValueError, match="labels must lie in"):
        model.sample(2, np.random.default_rng(0), y=[10, 0])


def test_a_packed_discriminator_sees_pack_samples_at_once():
    model = tiny_gan(pack=4)
    assert model.discriminate(TOY.test[:8]).shape == (2,)
    first = model.discriminator.phi[0]
    assert first.weight.shape == (16, 8)  # 4 samples of 2 numbers
    assert np.isfinite(model.player_loss("discriminator", TOY.test[:10]).item())  # 8 of 10 used
    with pytest.raises(ValueError, match="no whole pack of 4"):
        model.player_loss("generator", TOY.test[:3])


def test_gan_settings_and_contract_mistakes_are_one_line():
    with pytest.raises(models.UnsupportedData, match="multiple of 4"):
        models.create("gan", data.DataInfo((1, 6, 6), "binary"))
    with pytest.raises(ValueError, match="packed discriminator"):
        tiny_gan(pack=2, num_classes=3)
    with pytest.raises(NotImplementedError, match="no likelihood"):
        tiny_gan().log_prob(TOY.test[:2])
    with pytest.raises(KeyError, match="no player 'critic'"):
        tiny_gan().player_loss("critic", TOY.test[:2])


# ---------------------------------------------------------------------- BiGAN
def test_bigan_players_and_their_losses():
    """The second player is G and E together; the discriminator's update leaves both alone,
    and the encoder-generator loss reaches both (and is the swapped-label cross-entropy)."""
    model = models.create("bigan", TOY.info, latent=2, hidden=[8])
    trainer = trainer_for(model)
    g_params = {id(p) for p in trainer.optimizers["generator"].params}
    assert g_params == {id(p) for p in model.pair.parameters()}
    assert {id(p) for p in model.encoder.parameters()} <= g_params
    x = TOY.test[:16]
    loss = model.player_loss("generator", x)
    grads = ad.grad(loss, list(model.pair.parameters()))
    assert all(np.any(g.data != 0) for g in grads)
    d_loss = model.player_loss("discriminator", x)
    with pytest.raises(RuntimeError, match="does not require grad|not reach|unused"):
        ad.grad(d_loss, list(model.encoder.parameters()))
    with pytest.raises(KeyError, match="no player 'encoder'"):
        model.player_loss("encoder", x)


def test_bigan_learns_an_encoder_that_inverts_its_generator():
    """Donahue et al. 2017, theorem 2: at the optimum E = G^-1. On a 2-D Gaussian with a 2-D
    code, after 800 steps G(E(x)) lies within 0.35 of the distance between two unrelated test
    points for the best of three seeds, and within 0.6 in their median, though no loss asks
    for reconstructions (untrained: 1.1-1.2). One run is a game that can stall, and which
    seeds stall depends on the platform's rounding: on numpy 2.4 one machine gave 0.28, 0.29,
    0.15, 0.20, 0.45, 0.54 for seeds 0-5, another 0.26, 0.44, 0.46 for seeds 0-2."""
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((6000, 2)) * [1.0, 0.5] + [1.0, -1.0]).astype(np.float32)
    dataset = data.from_array(x, kind="continuous")
    test = dataset.test
    unrelated = np.linalg.norm(test - test[::-1], axis=1).mean()
    ratios = []
    for seed in range(3):
        model = models.create("bigan", dataset.info, latent=2, hidden=[64, 64], seed=seed)
        train.fit(model, dataset, progress=False, steps=800, batch_size=128, eval_every=10**9,
                  lr_d=1e-3, lr_g=1e-3)  # fmt: skip
        reconstruction = np.linalg.norm(test - model.reconstruct(test), axis=1).mean()
        ratios.append(reconstruction / unrelated)
    assert min(ratios) < 0.35 and np.median(ratios) < 0.6, ratios
    assert model.encode(test).shape == (len(test), 2)


# ---------------------------------------------------------------------- CycleGAN
def two_domains(n=24, size=8):
    """Rows (6, size, size) of levels: a random image of each domain side by side."""
    x = np.random.default_rng(0).integers(0, 256, (n, 6, size, size))
    return data.Dataset("pairs", x, x[:8], data.DataInfo((6, size, size), "categorical", 256))


def test_cyclegan_losses_are_the_papers_terms():
    """The generators' loss is adversarial + lambda_cyc |F(G(a)) - a|_1 + |G(F(b)) - b|_1
    terms + lambda_id (|G(b) - b|_1 + |F(a) - a|_1), each an L1 mean (Zhu et al. 2017, eq. 2,
    3 and section 5.2): the same networks with the lambdas set to zero differ by exactly
    those terms."""
    dataset = two_domains()
    full = models.create("cyclegan", dataset.info, filters=4, blocks=1, dtype="float64")
    bare = models.create("cyclegan", dataset.info, filters=4, blocks=1, dtype="float64",
                         lambda_cyc=0.0, lambda_id=0.0)  # fmt: skip
    x = dataset.train[:4]
    a, b = (ad.Tensor(2.0 * half / 255.0 - 1.0) for half in (x[:, :3], x[:, 3:]))
    G, F = full.generators.a, full.generators.b
    with ad.no_grad():
        cycle = np.mean(np.abs(F(G(a)).data - a.data)) + np.mean(np.abs(G(F(b)).data - b.data))
        identity = np.mean(np.abs(G(b).data - b.data)) + np.mean(np.abs(F(a).data - a.data))
        difference = (full.player_loss("generator", x).item()
                      - bare.player_loss("generator", x).item())  # fmt: skip
    assert difference == pytest.approx(10.0 * cycle + 5.0 * identity, rel=1e-10)
    d_full = full.player_loss("discriminator", x).item()
    assert d_full == pytest.approx(bare.player_loss("discriminator", x).item(), rel=1e-12)


def test_cyclegan_trains_translates_and_refuses_what_it_cannot_do():
    dataset = two_domains()
    model = models.create("cyclegan", dataset.info, filters=4, blocks=1)
    train.Trainer(model, dataset, train.TrainConfig(steps=2, batch_size=8, eval_every=10**9),
                  progress=False).fit()  # fmt: skip
    rows = model.sample(3, np.random.default_rng(0), given=dataset.test[:3])
    assert rows.shape == (3, 6, 8, 8)
    np.testing.assert_array_equal(rows[:, :3], dataset.test[:3, :3])  # (A, G(A))
    back = model.translate(rows[:, 3:], "b_to_a")
    assert back.shape == (3, 3, 8, 8) and back.min() >= 0 and back.max() <= 255
    with pytest.raises(ValueError, match="give those of domain A"):
        model.sample(3, np.random.default_rng(0))
    with pytest.raises(ValueError, match="direction"):
        model.translate(rows[:, :3], "sideways")
    with pytest.raises(models.UnsupportedData, match="two images side by side"):
        models.create("cyclegan", data.DataInfo((3, 8, 8), "categorical", 256))


def test_the_red_blue_domains_are_paired_in_the_test_set_only():
    from scratchgen.data import shapes

    dataset = data.load("shapes_red_blue")
    red, blue = dataset.test[:, :3], dataset.test[:, 3:]
    lit = red.max(axis=1) > 0
    np.testing.assert_array_equal(lit, blue.max(axis=1) > 0)  # the same geometry
    assert np.all(red[:, 2][lit] < red[:, 0][lit]) and np.all(blue[:, 0][lit] < blue[:, 2][lit])
    train_lit = dataset.train[:, :3].max(axis=1) > 0
    assert not np.array_equal(train_lit, dataset.train[:, 3:].max(axis=1) > 0)  # unpaired
    scene = dataset.extras["test_scenes"][0]
    np.testing.assert_array_equal(shapes.render(shapes.recoloured(scene, "blue")), blue[0])
