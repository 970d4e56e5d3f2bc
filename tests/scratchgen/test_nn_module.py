"""Module bookkeeping: parameters, buffers, state dicts, modes, dtypes."""

import numpy as np
import pytest

from scratchgen import nn


def small_model(seed=0):
    rng = np.random.default_rng(seed)
    return nn.Sequential(
        nn.Linear(3, 4, rng=rng), nn.Tanh(), nn.MaskedConv2d(1, 2, 3, "A", rng=rng)
    )


def test_parameters_and_buffers_have_dotted_names():
    names = [name for name, _ in small_model().named_parameters()]
    assert names == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert [name for name, _ in small_model().named_buffers()] == ["2.mask"]


def test_shared_parameters_are_listed_once():
    rng = np.random.default_rng(0)
    layer = nn.Linear(2, 2, rng=rng)
    assert len(list(nn.Sequential(layer, layer).parameters())) == 2


def test_state_dict_round_trip_reproduces_outputs():
    a, b = small_model(0), small_model(1)
    x = np.ones((2, 3), np.float32)
    assert not np.allclose(a[0](x).data, b[0](x).data)
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(a[0](x).data, b[0](x).data)
    state = a.state_dict()
    state["0.weight"][...] = 0  # a copy, not a view of the model
    assert np.any(a[0].weight.data != 0)


def test_load_state_dict_errors_name_what_is_wrong():
    model, state = small_model(), small_model().state_dict()
    with pytest.raises(KeyError, match=r"missing \['0.bias'\]"):
        model.load_state_dict({k: v for k, v in state.items() if k != "0.bias"})
    with pytest.raises(KeyError, match=r"unexpected \['extra'\]"):
        model.load_state_dict({**state, "extra": np.zeros(1)})
    with pytest.raises(ValueError, match=r"0.weight has shape \(3, 3\) in the state but \(4, 3\)"):
        model.load_state_dict({**state, "0.weight": np.zeros((3, 3))})


def test_train_and_eval_reach_every_descendant():
    model = small_model()
    assert all(m.training for _, m in model.named_modules())
    model.eval()
    assert not any(m.training for _, m in model.named_modules())


def test_to_casts_parameters_and_float_buffers():
    model = small_model().to(np.float64)
    assert all(p.dtype == np.float64 for p in model.parameters())
    assert model[2].mask.dtype == np.float64


def test_zero_grad_and_parameter_count():
    model = small_model()
    out = model[0](np.ones((1, 3), np.float32)).sum()
    out.backward()
    assert model[0].weight.grad is not None
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    assert model.num_parameters() == 4 * 3 + 4 + 2 * 1 * 9 + 2


def test_assigning_before_init_is_a_clear_error():
    class Broken(nn.Module):
        def __init__(self):
            self.weight = nn.Parameter(np.ones(2))

    with pytest.raises(AttributeError, match="super\\(\\).__init__\\(\\)"):
        Broken()


def test_repr_shows_the_tree():
    text = repr(small_model())
    assert "(0): Linear(3, 4, bias=True)" in text and "mask_type='A'" in text


def test_initialisations_have_their_stated_variances():
    """Each draw of 256x512x3x3 weights (1.2 million numbers) has a sample variance within 1%
    of the formula (its relative standard error is about 0.1-0.2%)."""
    rng = np.random.default_rng(0)
    shape = (256, 512, 3, 3)
    fan_in, fan_out = nn.init.fans(shape)
    assert (fan_in, fan_out) == (512 * 9, 256 * 9)
    xavier = nn.init.xavier_uniform(rng, shape, gain=2.0)
    assert xavier.var() == pytest.approx(4.0 * 2 / (fan_in + fan_out), rel=0.01)
    kaiming = nn.init.kaiming_normal(rng, shape)
    assert kaiming.var() == pytest.approx(2.0 / fan_in, rel=0.01)
    default = nn.init.default_uniform(rng, shape, fan_in)
    assert np.abs(default).max() <= 1 / np.sqrt(fan_in)
    assert default.var() == pytest.approx(1 / (3 * fan_in), rel=0.01)
    assert xavier.dtype == kaiming.dtype == np.float32
    with pytest.raises(ValueError, match="at least two dimensions"):
        nn.init.fans((5,))
