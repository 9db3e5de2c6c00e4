"""Mean over the real (unmasked) tokens of a sequence."""
import tensorflow as tf
import tf_keras as keras

POOLINGS = ("mean", "cls")  # a sentence vector: this layer's masked mean, or the first ([CLS]) token


@keras.saving.register_keras_serializable(package="minion_tf")
class MaskedMeanPooling(keras.layers.Layer):
    """Averages `(B, T, d)` over the tokens whose mask is 1; padding never enters the mean.

    Padded positions are selected away (not multiplied by 0), so even non-finite values
    under mask 0 leave the result unchanged. A row with no real token pools to zeros.

    Example:
        >>> x = tf.constant([[[1.0], [3.0], [99.0]]])
        >>> MaskedMeanPooling()(x, mask=tf.constant([[1, 1, 0]])).numpy()
        array([[2.]], dtype=float32)
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return tf.reduce_mean(inputs, axis=1)
        keep = tf.cast(mask, tf.bool)[:, :, tf.newaxis]
        total = tf.reduce_sum(tf.where(keep, inputs, tf.zeros_like(inputs)), axis=1)
        count = tf.reduce_sum(tf.cast(keep, inputs.dtype), axis=1)
        return total / tf.maximum(count, 1)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return tf.TensorShape(input_shape)[:1].concatenate(tf.TensorShape(input_shape)[2:])
