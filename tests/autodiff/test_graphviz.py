import numpy as np

import autodiff as ad


def test_to_dot_shows_every_op_shape_and_edge():
    W = ad.Tensor(np.ones((3, 2)), requires_grad=True)
    x = ad.Tensor(np.ones((4, 3), np.float64))
    loss = ad.tanh(x @ W).sum()
    dot = ad.to_dot(loss, {"W": W, "x": x})
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    to_lines = dot.splitlines()
    labels = [line for line in to_lines if "label=" in line]
    assert len(labels) == 5  # x, W, matmul, tanh, sum
    for text in ("matmul", "tanh", "sum", "W\\n(3, 2) float64", "x\\n(4, 3) float64"):
        assert text in dot
    assert sum("->" in line for line in to_lines) == 4
    assert f"t{id(W)} -> " in dot
