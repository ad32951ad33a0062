"""Document-aware packing through real transformers models: packed documents never see each other.

Causal LM: the loss of a packed chunk equals the loss of its documents run one by one (GPT-2 with
absolute positions, Llama with RoPE), because position_ids restart per document and transformers
turns that into a block-diagonal causal mask.  MLM: BERT's outputs for one document do not change
when another packed document does.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, BertConfig, BertForMaskedLM, GPT2Config, LlamaConfig

from pretrain.loss import loss_sum, target_count
from pretrain.objectives import SpecialIds, clm_collate, mlm_collate

IDS = SpecialIds(vocab_size=600)
TINY = {
    "gpt2": GPT2Config(vocab_size=600, n_embd=32, n_layer=2, n_head=2, n_positions=64, resid_pdrop=0.0,
                       embd_pdrop=0.0, attn_pdrop=0.0),
    "llama": LlamaConfig(vocab_size=600, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         num_key_value_heads=2, intermediate_size=64, max_position_embeddings=64),
}  # fmt: skip


def _documents(rng: np.random.Generator) -> list[np.ndarray]:
    """Three documents, each ending with EOS, packed into one 40-token chunk (the last one cut)."""
    lengths = [11, 17, 20]
    return [np.append(rng.choice(IDS.ordinary, n - 1), IDS.eos) for n in lengths]


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_packed_loss_equals_documents_run_separately(arch: str, attn: str) -> None:
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(TINY[arch], attn_implementation=attn).eval()
    docs = _documents(np.random.default_rng(1))
    chunk = np.concatenate(docs)[:40]  # the third document is cut: its head is still a document
    batch = clm_collate(chunk[None, :], eos_id=IDS.eos)
    labels = batch.pop("labels")
    with torch.no_grad():
        packed = loss_sum(model(**batch, use_cache=False).logits, labels, causal=True)
        n_packed = target_count(labels, causal=True)

        alone, n_alone, start = 0.0, 0, 0
        for doc in docs:
            piece = torch.from_numpy(chunk[start : start + len(doc)][None, :].astype(np.int64))
            start += len(doc)
            if piece.shape[1] < 2:
                continue
            alone += loss_sum(model(input_ids=piece, use_cache=False).logits, piece, causal=True).item()
            n_alone += piece.shape[1] - 1
    assert n_packed == n_alone == 40 - 3
    assert packed.item() / n_packed == pytest.approx(alone / n_alone, rel=1e-5)

    # without document awareness the second document's predictions see the first one
    plain = clm_collate(chunk[None, :], doc_attention=False)
    plain.pop("labels")
    with torch.no_grad():
        aware = model(**batch, use_cache=False).logits[0, 11:28]
        mixed = model(**plain, use_cache=False).logits[0, 11:28]
    assert not torch.allclose(aware, mixed, atol=1e-4)


def test_bert_documents_do_not_see_each_other() -> None:
    torch.manual_seed(0)
    config = BertConfig(vocab_size=600, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64)  # fmt: skip
    model = BertForMaskedLM(config).eval()
    docs = _documents(np.random.default_rng(2))
    chunk = np.concatenate(docs)[:38]
    other = chunk.copy()
    other[:10] = np.random.default_rng(3).choice(IDS.ordinary, 10)  # change the first document (not its EOS)

    def logits(tokens: np.ndarray) -> torch.Tensor:
        batch = mlm_collate(
            tokens[None, :], [np.random.default_rng(0)], ids=IDS, seq_len=40, doc_attention=True
        )
        batch.pop("labels")
        with torch.no_grad():
            return model(**batch).logits[0]

    a, b = logits(chunk), logits(other)
    assert torch.allclose(a[12:], b[12:], atol=1e-5)  # <cls> + doc 1 = positions 0..11; the rest unchanged
    assert not torch.allclose(a[:12], b[:12], atol=1e-3)
