"""Last-k fine-tuning (`--model freeze --last-k K`, Pittsburgh report): the last K layers and the head train.

Example:
    >>> run(RunConfig(model="freeze", last_k=2, task="rte", lr=1e-3))
"""
from minion_tf.runs.finetune import EncoderMethod
from minion_tf.runs.registry import register


@register("freeze")
class FreezeAllButLastK(EncoderMethod):
    """Embeddings and the first L - K transformer layers are frozen."""

    counted = "freeze"

    def select(self, config, model) -> list:
        from minion_tf.models.trainability import freeze_all_but_last_k

        return freeze_all_but_last_k(model, config.last_k)
