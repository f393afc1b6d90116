"""``import edgekd`` and the CLI's --version/--help stay light: no torch, onnx or onnxruntime until a command needs them."""

import json
import resource
import subprocess
import sys
import time

import pytest

import edgekd

HEAVY = ("torch", "onnx", "onnxruntime", "optuna", "transformers", "scipy")
PROBE = """
import json, sys
{body}
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


def heavy_after(body: str, heavy: tuple[str, ...] = HEAVY) -> list[str]:
    code = PROBE.format(body=body, heavy=heavy)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


def cli(argv: list[str]) -> str:
    return (f"sys.argv = {argv!r}\nfrom edgekd.cli import main\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
            "sys.stdout.flush()")


def test_import_edgekd_loads_no_heavy_library():
    assert heavy_after("import edgekd") == []
    assert heavy_after("import edgekd.profile, edgekd.profile.agent") == []


@pytest.mark.parametrize("argv", [["edgekd", "--version"], ["edgekd", "--help"], ["edgekd", "profile", "--help"],
                                  ["edgekd", "compile", "--help"], ["edgekd", "distill", "--help"],
                                  ["edgekd", "run", "--help"], ["edgekd", "targets", "--help"]])
def test_cli_help_and_version_load_no_heavy_library(argv):
    assert heavy_after(cli(argv)) == []


@pytest.mark.parametrize("argv", [["distill", "--teacher", "{ck}", "--resume", "--out", "{tmp}/s"],
                                  ["distill", "--teacher", "{ck}", "--config", "{tmp}/c.yaml"],
                                  ["search", "--teacher", "{ck}", "--space", "huge"],
                                  ["compile", "{ck}", "--precision", "fp64"],
                                  ["compile", "{ck}", "--tol", "min_cosin=0.9"],
                                  ["run", "{tmp}/r.yaml", "--out", "{tmp}/run"]])
def test_bad_input_is_refused_before_torch_loads(tmp_path, argv):
    """Options, targets and files are checked before the heavy libraries load: bad input costs no torch import."""
    ck = tmp_path / "t.safetensors"
    ck.write_bytes(len(b"{}").to_bytes(8, "little") + b"{}")  # the smallest valid safetensors file: no tensors
    (tmp_path / "c.yaml").write_text("epocs: 3\n")
    (tmp_path / "r.yaml").write_text("stages:\n  - stage: teacher\n  - stage: compile\n    precision: fp64\n")
    assert heavy_after(cli(["edgekd", *(a.format(ck=ck, tmp=tmp_path) for a in argv)])) == []


def test_version_answers_within_half_a_second():
    """Best of three of the CPU time (user + sys) the process spends: on an idle machine that is its wall time, and
    unlike wall time it does not grow when other work shares the cores. The best wall time is asserted loosely."""
    best_cpu = best_wall = float("inf")
    for _ in range(3):
        before, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
        res = subprocess.run(["edgekd", "--version"], capture_output=True, text=True, timeout=60)
        after, wall = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter() - t0
        best_cpu = min(best_cpu, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        best_wall = min(best_wall, wall)
        assert res.returncode == 0 and res.stdout.strip() == f"edgekd {edgekd.__version__}"
    assert best_cpu < 0.5, f"edgekd --version used {best_cpu:.2f} s of CPU at best"
    assert best_wall < 3.0, f"edgekd --version took {best_wall:.2f} s at best (it took about 6 s with eager imports)"


def test_public_names_resolve_to_the_functions():
    import edgekd.distill.api  # noqa: F401  (binds the subpackage name; the function must keep it)
    import edgekd.profile.api  # noqa: F401

    assert callable(edgekd.profile) and edgekd.profile.__module__ == "edgekd.profile.api"
    assert callable(edgekd.distill) and edgekd.distill.__module__ == "edgekd.distill.api"
    for name, where in edgekd.EXPORTS.items():
        module, attr = where.split(":")
        assert getattr(edgekd, name) is getattr(sys.modules[module], attr)
    assert set(edgekd.__all__) == {"__version__", *edgekd.EXPORTS}
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        edgekd.nope  # noqa: B018


@pytest.mark.parametrize("argv", [["sentence", "search", "--teacher", "{tmp}/none", "--out", "{tmp}/ss"],
                                  ["sentence", "search", "--teacher", "{tmp}/none", "--config", "{tmp}/c.yaml"],
                                  ["sentence", "distill", "--teacher", "{tmp}/none", "--student", "{tmp}/none"],
                                  ["run", "{tmp}/r.yaml", "--out", "{tmp}/run"]])
def test_bad_sentence_input_is_refused_before_torch_loads_or_the_corpus_is_built(tmp_path, argv):
    """The sentence commands check the teacher, options and outputs before torch loads and before the sentence
    corpus is read from the installed packages (about 13 s): a missing teacher used to cost 15 s."""
    (tmp_path / "c.yaml").write_text("layers: [2]\nspeedup: 0.5\n")
    (tmp_path / "r.yaml").write_text("dataset: {name: sentences}\nstages:\n  - stage: sentence_teacher\n    path: x\n"
                                     "  - stage: sentence_search\n    heads: []\n")
    argv = ["edgekd", *(a.format(tmp=tmp_path) for a in argv)]
    corpus = ("edgekd.data.text_corpus",) if argv[1] == "sentence" else ()  # run imports it to check dataset names
    assert heavy_after(cli(argv), (*HEAVY, *corpus)) == []
    res = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, res.stderr
