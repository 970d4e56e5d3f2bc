"""scratchgen.nn.unet: shapes for any configuration, gradients against finite differences,
the time embedding and the conditioning reach the output, the null condition is the
unconditional path where so configured, attention sits exactly where asked, and bad
configurations fail in one line."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autodiff as ad
from scratchgen.nn.unet import UNet
from scratchgen.testing import module_gradcheck

TINY = {"in_channels": 1, "image_size": 4, "base_channels": 4, "channel_multipliers": (1, 2),
        "num_res_blocks": 1, "attention_resolutions": (2,), "groups": 2}  # fmt: skip


def randomised(net: UNet, seed: int = 0, scale: float = 0.3) -> UNet:
    """Every parameter drawn at random: the network starts some layers at zero (its output is
    zero at initialisation), which would hide what reaches the output."""
    rng = np.random.default_rng(seed)
    for p in net.parameters():
        p.data[...] = scale * rng.standard_normal(p.shape)
    return net


def tiny(seed: int = 0, **changes) -> UNet:
    return randomised(UNet(**{**TINY, **changes}, rng=np.random.default_rng(seed)), seed)


@st.composite
def configurations(draw):
    levels = draw(st.integers(1, 3))
    image = (draw(st.sampled_from([1, 3])) * 2 ** (levels - 1),
             draw(st.sampled_from([1, 2])) * 2 ** (levels - 1))  # fmt: skip
    sides = [image[0] // 2**i for i in range(levels)]
    return {
        "in_channels": draw(st.integers(1, 3)),
        "image_size": image,
        "base_channels": draw(st.sampled_from([2, 4])),
        "channel_multipliers": tuple(
            draw(st.lists(st.integers(1, 2), min_size=levels, max_size=levels))
        ),  # fmt: skip
        "num_res_blocks": draw(st.integers(1, 2)),
        "attention_resolutions": tuple(draw(st.sets(st.sampled_from(sides)))),
        "groups": 2,
        "num_heads": draw(st.sampled_from([1, 2])),
        "out_channels": draw(st.sampled_from([None, 2])),
        "num_classes": draw(st.sampled_from([None, 3])),
        "context_dim": draw(st.sampled_from([None, 5])),
    }


@settings(max_examples=15, deadline=None)
@given(config=configurations(), n=st.integers(1, 2))
def test_output_has_the_input_shape_for_every_configuration(config, n):
    net = UNet(**config, rng=np.random.default_rng(0))
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, config["in_channels"], *config["image_size"]))
    y = rng.integers(0, 4, n) if config["num_classes"] else None
    context = rng.standard_normal((n, 2, 5)) if config["context_dim"] else None
    out = net(x.astype(np.float32), rng.integers(0, 1000, n), y=y, context=context)
    assert out.shape == (n, config["out_channels"] or config["in_channels"]) + x.shape[2:]
    assert out.dtype == np.float32
    assert not np.any(out.data)  # the output convolution starts at zero (Ho et al.'s code)


def test_gradients_match_finite_differences_with_every_condition():
    net = tiny(num_classes=2, context_dim=3)
    rng = np.random.default_rng(1)
    x, context = rng.standard_normal((2, 1, 4, 4)), rng.standard_normal((2, 2, 3))
    assert module_gradcheck(net, x, np.array([3, 70]), np.array([0, 2]), context,
                            n_directions=2)  # fmt: skip


def test_the_time_embedding_changes_the_output():
    net, x = tiny(), np.random.default_rng(1).standard_normal((2, 1, 4, 4))
    early, late = net(x, np.array([1, 1])).data, net(x, np.array([1, 500])).data
    np.testing.assert_array_equal(early[0], late[0])  # each example sees its own t
    assert np.abs(early[1] - late[1]).max() > 1e-3


def test_labels_change_the_output_and_the_fixed_null_class_is_the_unconditional_network():
    conditional = tiny(num_classes=3, learned_null=False)
    unconditional = UNet(**TINY, rng=np.random.default_rng(0))
    state = {k: v for k, v in conditional.state_dict().items() if "class_embedding" not in k}
    unconditional.load_state_dict(state)
    x, t = np.random.default_rng(1).standard_normal((3, 1, 4, 4)), np.array([5, 50, 500])
    plain = unconditional(x, t).data
    np.testing.assert_allclose(conditional(x, t, y=np.array([3, 3, 3])).data, plain, atol=1e-6)
    np.testing.assert_allclose(conditional(x, t).data, plain, atol=1e-6)  # y=None: null
    labelled = conditional(x, t, y=np.array([0, 1, 3])).data
    assert np.abs(labelled[:2] - plain[:2]).max() > 1e-3
    np.testing.assert_allclose(labelled[2], plain[2], atol=1e-6)


def test_a_learned_null_class_is_a_parameter_of_its_own():
    net = tiny(num_classes=3)
    x, t = np.random.default_rng(1).standard_normal((1, 1, 4, 4)), np.array([5])
    before = net(x, t).data
    net.class_embedding.null.data[...] += 1.0
    assert np.abs(net(x, t).data - before).max() > 1e-3
    np.testing.assert_array_equal(net(x, t, y=np.array([0])).data,
                                  net(x, t, y=np.array([0])).data)  # fmt: skip


def test_an_empty_context_is_the_unconditional_path():
    net = tiny(context_dim=3)
    rng = np.random.default_rng(1)
    x, t, context = (
        rng.standard_normal((2, 1, 4, 4)),
        np.array([5, 50]),
        rng.standard_normal((2, 2, 3)),
    )
    plain = net(x, t).data
    mask = np.array([[True, False], [False, False]])  # the second example has no token
    out = net(x, t, context=context, context_mask=mask).data
    assert np.abs(out[0] - plain[0]).max() > 1e-3
    np.testing.assert_allclose(out[1], plain[1], atol=1e-6)
    # a masked-out token changes nothing
    other = context.copy()
    other[0, 1] += 10.0
    np.testing.assert_allclose(net(x, t, context=other, context_mask=mask).data, out, atol=1e-6)


@pytest.mark.parametrize("attention, self_sides", [
    ((), []), ((8,), [8, 8, 8]), ((2,), [2, 2, 2, 2]), ((8, 4), [8, 4, 4, 4, 8, 8]),
])  # fmt: skip
def test_attention_is_present_exactly_where_asked(attention, self_sides):
    net = UNet(image_size=8, base_channels=4, channel_multipliers=(1, 1, 1), num_res_blocks=1,
               attention_resolutions=attention, groups=2, context_dim=3,
               rng=np.random.default_rng(0))  # fmt: skip
    sides = net.attention_sides()
    assert sides["self"] == self_sides and sides["cross"] == self_sides
    blocks = [m for _, m in net.named_modules() if type(m).__name__ == "AttentionBlock"]
    assert len(blocks) == 2 * len(self_sides)


@pytest.mark.parametrize("build, message", [
    (lambda: UNet(image_size=28, channel_multipliers=(1, 2, 2, 2), rng=np.random.default_rng(0)),
     "cannot be halved"),
    (lambda: UNet(image_size=28, attention_resolutions=(16,), rng=np.random.default_rng(0)),
     "not among the levels"),
    (lambda: UNet(base_channels=12, groups=8, rng=np.random.default_rng(0)), "groups"),
    (lambda: UNet(num_heads=3, rng=np.random.default_rng(0)), "heads"),
])  # fmt: skip
def test_bad_configurations_fail_in_one_line(build, message):
    with pytest.raises(ValueError, match=message) as error:
        build()
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("call, message", [
    (lambda net: net(np.zeros((1, 2, 4, 4)), 1), "expected"),
    (lambda net: net(np.zeros((1, 1, 4, 4)), 1, y=np.array([4])), "null class"),
    (lambda net: net(np.zeros((1, 1, 4, 4)), 1, y=np.array([0.5])), "integers"),
    (lambda net: net(np.zeros((1, 1, 4, 4)), 1, context=np.zeros((1, 2))), "context"),
    (lambda net: net(np.zeros((1, 1, 4, 4)), 1, context=np.zeros((1, 2, 3)),
                     context_mask=np.ones((1, 3), bool)), "context_mask"),
])  # fmt: skip
def test_bad_inputs_fail_in_one_line(call, message):
    net = tiny(num_classes=3, context_dim=3)
    with pytest.raises(ValueError, match=message) as error:
        call(net)
    assert "\n" not in str(error.value)


def test_labels_for_a_network_without_classes_are_refused():
    with pytest.raises(ValueError, match="without num_classes"):
        tiny()(np.zeros((1, 1, 4, 4)), 1, y=np.array([0]))


def test_float32_training_step_keeps_float32_gradients():
    net = UNet(**TINY, rng=np.random.default_rng(0))
    loss = ad.mean(net(np.ones((2, 1, 4, 4), np.float32), np.array([1, 2])) ** 2)
    loss.backward()
    assert all(p.grad is not None and p.grad.dtype == np.float32 for p in net.parameters())
