"""LoRA (`--model lora --rank R --alpha A`, Hu et al. 2021): low-rank updates of the attention
query and value projections of every encoder layer, plus the fine-tuning family's head.

Each adapted projection computes `W x + b + (x A B) * alpha / R` with A `(d, R)` random, B
`(R, d)` zero and no adapter bias (`layers.lora`); the pretrained weights stay bit-identical. What
trains is the adapters and the head (masked mean pooling, dropout, Dense, as `--model finetune`):
at BERTweet-base, rank 8, 12 layers x 2 projections x (768 x 8 + 8 x 768) = 294,912 weights
plus the 1,538 of the head, i.e. `trainable params: 296,450 || all params: 135,196,418`. A run
saves only those (`trained.npz`) and reloads them onto the pretrained encoder.

Example:
    >>> run(RunConfig(model="lora", options={"rank": 8, "alpha": 8.0}, task="sst2"))   # lr 5e-4
"""
from __future__ import annotations

from dataclasses import dataclass

from minion_tf.errors import MinionError
from minion_tf.methods.base import MethodConfig, option
from minion_tf.methods.encoder import EncoderMethod, head_weights, transformer_layers


@dataclass(frozen=True)
class LoRAConfig(MethodConfig):
    rank: int = option(8, "LoRA rank R of the query and value updates (default 8, Hu et al.'s GLUE runs)", minimum=1)
    alpha: float = option(8.0, "LoRA alpha: the updates are scaled by alpha / rank (default 8)", minimum=0)

    def __post_init__(self):
        super().__post_init__()
        if not self.alpha > 0:
            raise MinionError(f"--alpha must be positive, got {self.alpha}")


class LoRA(EncoderMethod):
    """Adapters on every layer's query and value projections, and the head, train; no pretrained weight gets a gradient."""

    name = "lora"
    size_option = "rank"
    Config = LoRAConfig
    kind = ("transformer", "low-rank adaptation (LoRA)")
    order = 70
    suites = ("tweets", "glue", "imdb")

    def default_lr(self) -> float:
        """5e-4: Hu et al. 2021, Appendix D, Table 9 (RoBERTa-base on GLUE, r = alpha = 8, AdamW, batch 16)
        use 5e-4 on MNLI, SST-2, QQP and RTE and 4e-4 on MRPC, CoLA, QNLI and STS-B."""
        return 5e-4

    def display_name(self, encoder: str) -> str:
        return f"LoRA-{self.size()}"

    def make_model(self, run, backbone, num_labels: int):
        """The family's `EncoderClassifier` around the encoder, once adapters are in it (changed in place)."""
        from minion_tf.layers.lora import add_lora

        add_lora(backbone.encoder, rank=self.options.rank, alpha=self.options.alpha)
        return super().make_model(run, backbone, num_labels)

    def select(self, run, model) -> list:
        return adapter_weights(model.encoder) + head_weights(model)


def adapter_weights(encoder) -> list:
    """Every LoRA adapter's A and B in `encoder`, layer by layer (query, then value)."""
    from minion_tf.layers.lora import TARGETS, LoRADense

    found = [w for layer in transformer_layers(encoder) for target in TARGETS
             if isinstance(adapter := getattr(layer.attention.self_attention, target), LoRADense)
             for w in adapter.adapter_weights]
    if not found:
        raise MinionError(f"{type(encoder).__name__} has no LoRA adapters (build it with LoRA.make_model)")
    return found
