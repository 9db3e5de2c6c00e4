"""PCGrad: exact projections on hand-made gradients, pass-through without conflict, random orders."""
import numpy as np
import tensorflow as tf

from minion_tf.multitask.pcgrad import pcgrad_combine, project_conflicting, random_orders


def _project(g, h):
    return g - (g @ h) / (h @ h) * h


def test_conflicting_pair_equals_formula():
    g1, g2 = np.array([1.0, 2.0, -1.0]), np.array([-2.0, 0.5, 1.0])
    assert g1 @ g2 < 0
    out = project_conflicting([tf.constant(g1), tf.constant(g2)], [[1], [0]])
    np.testing.assert_allclose(out[0].numpy(), _project(g1, g2), rtol=1e-12)
    np.testing.assert_allclose(out[1].numpy(), _project(g2, g1), rtol=1e-12)
    # each projected gradient is orthogonal to the other task's original gradient
    assert abs(out[0].numpy() @ g2) < 1e-12 and abs(out[1].numpy() @ g1) < 1e-12


def test_non_conflicting_pass_through_unchanged():
    g1, g2 = np.array([1.0, 2.0, 0.0]), np.array([0.5, 0.1, 3.0])
    out = project_conflicting([tf.constant(g1), tf.constant(g2)], [[1], [0]])
    np.testing.assert_array_equal(out[0].numpy(), g1)
    np.testing.assert_array_equal(out[1].numpy(), g2)


def test_three_tasks_follow_the_given_order():
    g = [np.array([1.0, 0.0, 0.0]), np.array([-1.0, 0.2, 0.0]), np.array([-1.0, -1.0, 1.0])]
    orders = [[2, 1], [0, 2], [1, 0]]
    out = project_conflicting([tf.constant(x) for x in g], orders)
    for i, order in enumerate(orders):
        expected = g[i]
        for j in order:
            if expected @ g[j] < 0:
                expected = _project(expected, g[j])
        np.testing.assert_allclose(out[i].numpy(), expected, rtol=1e-12, atol=1e-15)
    # task 0 against order [2, 1] differs from order [1, 2]: the order matters
    other = project_conflicting([tf.constant(x) for x in g], [[1, 2], [0, 2], [1, 0]])[0].numpy()
    assert not np.allclose(other, out[0].numpy())


def test_random_orders_are_permutations_of_the_other_tasks():
    orders = random_orders(4, np.random.default_rng(0))
    assert orders.shape == (4, 3)
    for i, row in enumerate(orders):
        assert sorted(row.tolist()) == [j for j in range(4) if j != i]


def test_combine_sums_projections_per_variable():
    v1, v2 = tf.Variable(tf.zeros((2,), tf.float64)), tf.Variable(tf.zeros((1, 1), tf.float64))
    task1 = [tf.constant([1.0, 2.0], tf.float64), tf.constant([[-1.0]], tf.float64)]
    task2 = [tf.constant([-2.0, 0.5], tf.float64), None]
    g1, g2 = np.array([1.0, 2.0, -1.0]), np.array([-2.0, 0.5, 0.0])
    expected = _project(g1, g2) + _project(g2, g1)
    for reduction, scale in (("sum", 1.0), ("mean", 0.5)):
        out = pcgrad_combine([task1, task2], [v1, v2], [[1], [0]], reduction)
        assert [t.shape for t in out] == [v1.shape, v2.shape]
        np.testing.assert_allclose(np.concatenate([t.numpy().ravel() for t in out]), scale * expected, rtol=1e-12)
