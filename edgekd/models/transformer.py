"""A BERT-like encoder for token classification of short texts; fewer, narrower layers make its students."""

from __future__ import annotations

import torch
from torch import nn

from edgekd.errors import EdgekdError
from edgekd.models.registry import MODELS, check_int


class SelfAttention(nn.Module):
    """Multi-head self-attention; ``q``/``k``/``v`` outputs (N, L, D) are tappable for MiniLM relations."""

    def __init__(self, hidden: int, heads: int, dropout: float) -> None:
        super().__init__()
        if hidden % heads:
            raise TypeError(f"hidden {hidden} must be divisible by heads {heads}")
        self.heads = heads
        self.q, self.k, self.v, self.o = (nn.Linear(hidden, hidden) for _ in range(4))
        self.softmax = nn.Softmax(dim=-1)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        n, length, d = x.shape
        q, k, v = (p(x).reshape(n, length, self.heads, d // self.heads).transpose(1, 2) for p in (self.q, self.k, self.v))
        scores = q @ k.transpose(2, 3) / (d // self.heads) ** 0.5
        probs = self.drop(self.softmax(scores.masked_fill(pad[:, None, None, :], -1e4)))
        return self.o((probs @ v).transpose(1, 2).reshape(n, length, d))


class EncoderLayer(nn.Module):
    """Post-LN transformer layer: attention and a GELU feed-forward, each with a residual."""

    def __init__(self, hidden: int, heads: int, ffn: int, dropout: float) -> None:
        super().__init__()
        self.attn = SelfAttention(hidden, heads, dropout)
        self.ln1 = nn.LayerNorm(hidden)
        self.ffn = nn.Sequential(nn.Linear(hidden, ffn), nn.GELU(), nn.Linear(ffn, hidden))
        self.ln2 = nn.LayerNorm(hidden)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        x = self.ln1(x + self.drop(self.attn(x, pad)))
        return self.ln2(x + self.drop(self.ffn(x)))


class Encoder(nn.Module):
    """Input token ids (N, L) int64, 0 = padding, position 0 = the [CLS] token; output logits (N, num_classes)."""

    def __init__(self, vocab_size: int, hidden: int, layers: int, heads: int, ffn: int, max_len: int,
                 num_classes: int, dropout: float) -> None:
        super().__init__()
        self.tok = nn.Embedding(vocab_size, hidden, padding_idx=0)
        self.pos = nn.Embedding(max_len, hidden)
        self.ln = nn.LayerNorm(hidden)
        self.layers = nn.ModuleList(EncoderLayer(hidden, heads, ffn, dropout) for _ in range(layers))
        self.fc = nn.Linear(hidden, num_classes)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        pad = input_ids == 0
        x = self.ln(self.tok(input_ids) + self.pos(torch.arange(input_ids.shape[1], device=input_ids.device)))
        for layer in self.layers:
            x = layer(x, pad)
        return self.fc(x[:, 0])


@MODELS.register("bert")
def bert(vocab_size: int, hidden: int = 128, layers: int = 4, heads: int = 4, ffn: int | None = None,
         max_len: int = 128, num_classes: int = 2, dropout: float = 0.1) -> Encoder:
    """BERT-like encoder; ``ffn`` defaults to 4 * hidden; ``hidden`` must be divisible by ``heads``."""
    for name, value, high in (("vocab_size", vocab_size, 10_000_000), ("hidden", hidden, 16384), ("layers", layers, 128),
                              ("heads", heads, 256), ("max_len", max_len, 1 << 20), ("num_classes", num_classes, 1_000_000)):
        check_int("bert", name, value, 1, high)
    if ffn is not None:
        check_int("bert", "ffn", ffn, 1, 65536)
    if hidden % heads:
        raise EdgekdError(f"arch 'bert': hidden {hidden} must be divisible by heads {heads}; change one of them")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise EdgekdError(f"arch 'bert': dropout must be in [0, 1), got {dropout!r}")
    return Encoder(vocab_size, hidden, layers, heads, ffn or 4 * hidden, max_len, num_classes, dropout)
