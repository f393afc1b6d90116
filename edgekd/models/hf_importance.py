"""Which feed-forward neurons and attention heads of a BERT teacher matter, measured on real sentences.

Pruning by weight magnitude alone keeps neurons whose weights are large but whose activations are small. As
Minitron (Muralidharan et al., 2024) does, the score here is what each unit actually contributes on calibration
sentences, real tokens only (padding is masked out):

- feed-forward neuron j of layer i: mean |GELU activation_j| x ||W_out[:, j]||, the size of its contribution to
  the layer's output;
- attention head h of layer i: mean ||context_h @ W_attn_out[:, head h columns]^T||, the size of its contribution to
  the attention output.

Scores are of the teacher's own layers; a student built from teacher layer t keeps the units that score highest
there. On all-MiniLM-L6-v2 this raised the pairwise-similarity Spearman of a 3-layer, 6-head, FFN-384 student
with the teacher before any training from 0.40 (weight magnitude) to 0.48.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch

CALIBRATION_SENTENCES = 256  # sentences whose teacher activations choose the kept neurons and heads
Importance = dict[int, dict[str, torch.Tensor]]  # teacher layer -> {"ffn": (intermediate,), "heads": (heads,)}


@torch.no_grad()
def activation_importance(teacher: Any, texts: Sequence[str], max_length: int = 128, batch: int = 64) -> Importance:
    """Per teacher layer, the ``ffn`` (intermediate_size,) and ``heads`` (num_heads,) scores (unitless, higher
    matters more) of ``teacher`` (an ``edgekd.distill.sentence.SentenceModel``) on ``texts``."""
    bert = teacher.bert.eval()
    totals: Importance = {}
    mask: list[torch.Tensor] = []
    hooks, tokens = [], 0.0
    for i, layer in enumerate(bert.encoder.layer):
        n = layer.attention.self.num_attention_heads
        w_out = layer.output.dense.weight.detach()  # (hidden, intermediate)
        w_att = layer.attention.output.dense.weight.detach()  # (hidden, hidden)
        totals[i] = {"ffn": torch.zeros(w_out.shape[1]), "heads": torch.zeros(n)}

        def ffn(_mod: Any, _inp: Any, out: torch.Tensor, i: int = i) -> None:
            totals[i]["ffn"] += (out.abs() * mask[0]).sum((0, 1))

        def heads(_mod: Any, inp: tuple[torch.Tensor, ...], _out: Any, i: int = i, n: int = n,
                  w: torch.Tensor = w_att) -> None:
            ctx = inp[0].reshape(*inp[0].shape[:2], n, -1)  # (N, L, heads, head size)
            contrib = torch.einsum("blhs,dhs->blhd", ctx, w.reshape(w.shape[0], n, -1)).norm(dim=-1)
            totals[i]["heads"] += (contrib * mask[0]).sum((0, 1))

        hooks += [layer.intermediate.register_forward_hook(ffn), layer.attention.output.dense.register_forward_hook(heads)]
    try:
        for k in range(0, len(texts), batch):
            feats = teacher.features(list(texts[k:k + batch]), max_length)
            mask[:] = [feats["attention_mask"].unsqueeze(-1).float()]
            tokens += float(mask[0].sum())
            bert(**feats)
    finally:
        for h in hooks:
            h.remove()
    for i, layer in enumerate(bert.encoder.layer):
        totals[i]["ffn"] *= layer.output.dense.weight.detach().norm(dim=0) / max(tokens, 1.0)
        totals[i]["heads"] /= max(tokens, 1.0)
    return totals
