import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import autodiff as ad  # noqa: E402
from scratchgen.viz import draw_graph  # noqa: E402
from scratchgen.viz.graph import _columns  # noqa: E402


def small_graph():
    W = ad.Tensor(np.ones((3, 2)), requires_grad=True)
    x = ad.Tensor(np.ones((4, 3)))
    return ad.mean(ad.tanh(x @ W) * ad.sigmoid(x @ W)), {"W": W, "x": x}


def test_arrows_point_right_and_leaves_sit_before_their_first_use():
    loss, names = small_graph()
    nodes = ad.graph_nodes(loss, names)
    column = _columns(nodes)
    for n in nodes:
        for k in n.inputs:
            assert column[k] < column[n.key]
    leaves = [n for n in nodes if n.is_leaf]
    for leaf in leaves:
        first_use = min(column[n.key] for n in nodes if leaf.key in n.inputs)
        assert column[leaf.key] == first_use - 1


def test_draw_graph_labels_every_tensor(tmp_path):
    loss, names = small_graph()
    ax = draw_graph(loss, names)
    texts = [t.get_text() for t in ax.texts if t.get_text()]  # arrows are empty annotations
    assert len(texts) == len(ad.graph_nodes(loss))
    assert any(t.startswith("W\n(3, 2)") for t in texts)
    assert any(t.startswith("matmul") for t in texts)
    ax.figure.savefig(tmp_path / "graph.png")
    plt.close(ax.figure)
    assert (tmp_path / "graph.png").stat().st_size > 1000
