"""A bidirectional GRU over padded sequences, both directions in one loop: faster on the CPU.

The same function, on the same weights, as
`keras.layers.Bidirectional(keras.layers.GRU(h, return_sequences=True))` (`reset_after=True`,
tanh and sigmoid, merge "concat") called with a padding mask (real tokens contiguous, padding
on the right or the left). Where the Keras GRU cannot use cuDNN, it is faster because:

- the input projections `x W + b` of every token and both directions are one matmul, outside
  the loop;
- both directions advance in one `tf.while_loop`, the backward one reading and writing its
  steps from the end; a padded step keeps a zero state, so no direction needs a reversed copy;
- the gradient is hand-written backpropagation through time (`tf.custom_gradient`): the loop
  back does one matmul per direction and step; the gate derivatives and the weight gradients
  are computed over the whole sequence at once (autodiff of the loop does four matmuls a step
  and stacks every intermediate).

Keras' GRU with `reset_after=True`: `a = s W_rec + b_rec`, `z, r = sigmoid(x_zr + a_zr)`,
`n = tanh(x_n + r a_n)`, `s' = z s + (1 - z) n`; at a padded step the output is 0.

Example:
    >>> gru = keras.layers.Bidirectional(keras.layers.GRU(8, return_sequences=True))
    >>> x, mask = tf.random.normal([2, 5, 4]), tf.sequence_mask([5, 3], 5)
    >>> reference = gru(x, mask=mask)
    >>> weights = [(l.cell.kernel, l.cell.recurrent_kernel, l.cell.bias)
    ...            for l in (gru.forward_layer, gru.backward_layer)]
    >>> out = fused_bidirectional_gru(x, mask, *weights)
    >>> float(tf.reduce_max(tf.abs(out - reference))) < 1e-5
    True
"""
import tensorflow as tf


def fused_bidirectional_gru(inputs, mask, forward, backward, time_major=False):
    """`(B, T, F)` inputs (or `(T, B, F)` when `time_major`), `(B, T)` mask -> `(B, T, 2h)` (or `(T, B, 2h)`).

    `forward` and `backward` are each a GRU's `(kernel (F, 3h), recurrent_kernel (h, 3h),
    bias (2, 3h))`, gates in Keras' order z, r, n. The output is [forward, backward] states,
    zeros at padded positions.
    """
    dtype = inputs.dtype
    if not time_major:
        inputs = tf.transpose(inputs, [1, 0, 2])
    (kernel_f, recurrent_f, bias_f), (kernel_b, recurrent_b, bias_b) = [
        [tf.cast(w, dtype) for w in weights] for weights in (forward, backward)]
    units = recurrent_f.shape[0]
    kernel = tf.concat([kernel_f, kernel_b], 1)  # one projection for both directions
    projected = tf.tensordot(inputs, kernel, 1) + tf.concat([bias_f[0], bias_b[0]], 0)
    x_f, x_b = tf.split(projected, [3 * units, 3 * units], -1)
    steps_mask = tf.transpose(tf.cast(mask, dtype))[..., tf.newaxis]  # (T, B, 1)
    s_f, s_b = _recurrence(x_f, x_b, steps_mask, recurrent_f, recurrent_b, bias_f[1], bias_b[1])
    states = tf.concat([s_f, s_b], -1)
    return states if time_major else tf.transpose(states, [1, 0, 2])


@tf.custom_gradient
def _recurrence(x_f, x_b, mask, u_f, u_b, b_f, b_b):
    """Time-major states `(T, B, h)` of the forward and the backward direction.

    Everything the gradient needs is computed per step, on `(B, h)` tensors that stay in the
    CPU's caches (the same arithmetic over whole `(T, B, h)` arrays is several times slower here).
    """
    units, dtype = u_f.shape[0], x_f.dtype
    steps, batch = tf.shape(x_f)[0], tf.shape(x_f)[1]
    last = steps - 1
    directions = ((x_f, u_f, b_f), (x_b, u_b, b_b))

    def index(direction, k):  # the step the direction takes at iteration k
        return k if direction == 0 else last - k

    def new_array():
        return tf.TensorArray(dtype, size=steps, clear_after_read=False)

    def step(k, states, written):
        new_states, new_written = [], []
        for direction, ((x, u, b), s, arrays) in enumerate(zip(directions, states, written)):
            t = index(direction, k)
            a = tf.matmul(s, u) + b
            x_zr, x_n = tf.split(tf.gather(x, t), [2 * units, units], 1)
            a_zr, a_n = tf.split(a, [2 * units, units], 1)
            z, r = tf.split(tf.sigmoid(x_zr + a_zr), 2, 1)
            n = tf.tanh(x_n + r * a_n)
            m = tf.gather(mask, t)
            s_minus_n = s - n
            new = m * (n + z * s_minus_n)  # a padded step: state and output 0
            # d new / d (pre-activations of z, r, n), without the mask and dL/ds:
            f_n = (1 - z) * (1 - n * n)
            f_z = s_minus_n * z * (1 - z)
            f_r = f_n * a_n * r * (1 - r)
            values = (new, tf.concat([f_z, f_r, f_n * r], 1), f_n, z)
            new_states.append(new)
            new_written.append([array.write(t, v) for array, v in zip(arrays, values)])
        return k + 1, new_states, new_written

    zeros = tf.zeros([batch, units], dtype)
    written = [[new_array() for _ in range(4)] for _ in directions]
    _, _, written = tf.while_loop(lambda k, *_: k < steps, step, (0, [zeros, zeros], written))
    states = [arrays[0].stack() for arrays in written]

    def gradient(*upstream):
        # Per direction and step: ds = (g_t + carry) m_t, da = tile(ds) F_t (da/d(a_z, a_r, a_n)),
        # carry' = ds z_t + da W_rec^T; dx_t = (da_z, da_r, ds f_n).
        upstream = [tf.zeros_like(s) if g is None else g for g, s in zip(upstream, states)]
        transposed = (tf.transpose(u_f), tf.transpose(u_b))

        def back(k, carries, out):
            new_carries, new_out = [], []
            for direction, (arrays, g, u_t, c, (da_out, dx_out)) in enumerate(zip(written, upstream, transposed,
                                                                                carries, out)):
                t = index(direction, last - k)
                _, f, f_n, z = (array.read(t) for array in arrays)
                ds = (tf.gather(g, t) + c) * tf.gather(mask, t)
                da = tf.tile(ds, [1, 3]) * f
                new_carries.append(ds * z + tf.matmul(da, u_t))
                dx = tf.concat([da[:, :2 * units], ds * f_n], 1)
                new_out.append((da_out.write(t, da), dx_out.write(t, dx)))
            return k + 1, new_carries, new_out

        out = [(new_array(), new_array()) for _ in directions]
        _, _, out = tf.while_loop(lambda k, *_: k < steps, back, (0, [zeros, zeros], out))
        grads = {"x": [], "u": [], "b": []}
        for direction, ((da_out, dx_out), s) in enumerate(zip(out, states)):
            before = tf.zeros_like(s[:1])  # the state before the direction's first step
            s_prev = tf.concat([before, s[:-1]], 0) if direction == 0 else tf.concat([s[1:], before], 0)
            da = tf.reshape(da_out.stack(), [-1, 3 * units])
            grads["x"].append(dx_out.stack())
            grads["u"].append(tf.matmul(tf.reshape(s_prev, [-1, units]), da, transpose_a=True))
            grads["b"].append(tf.reduce_sum(da, 0))
        return (*grads["x"], None, *grads["u"], *grads["b"])

    return states, gradient
