"""The table of bad and hostile inputs: every command, every file kind edgekd reads, impossible values.

Each row says what a user (or an attacker) passes and expects one line on stderr and exit 2. Fixture files
(``fixture("tiny.onnx")``...) are built once per session by ``harness.build_fixtures``. Cases still not clean
carry ``xfail`` with the reason; docs/robustness.md lists every row with what edgekd answered.
"""

from __future__ import annotations

import io
import shutil
import tarfile
from pathlib import Path
from typing import Callable

import numpy as np

from robustness_harness import Case, fixture, npz

ONNX = {"m.onnx": fixture("tiny.onnx")}
CKPT = {"ck.safetensors": fixture("tiny.safetensors"), "ck.arch.json": fixture("tiny.arch.json")}
CALIB = {"calib.npz": fixture("calib.npz")}
TARGET = "name: board\nruntime: onnxruntime\ndevice: cpu\nprecisions: [fp32]\nbatch_sizes: [1]\n"
RECIPE = ("name: r\ndataset: {name: digits, image_size: 8}\nstages:\n  - stage: teacher\n"
          "    arch: {name: resnet, widths: [4], blocks: [1]}\n    epochs: 1\n")
TAG = "!!python/object/apply:os.system ['touch pwned']\n"
LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n" for p, c in zip("abcdefgh", "bcdefghi"))
NESTED = "x: " + "[" * 5000 + "]" * 5000 + "\n"
FAT = "name: big\nnotes: |\n" + ("  " + "x" * 98 + "\n") * 12_000  # 1.2 MB
X = np.zeros((4, 1, 8, 8), np.float32)


def _truncate(name: str, keep: float) -> object:
    def write(dst: Path) -> None:
        fixture(name)(dst)
        data = dst.read_bytes()
        dst.write_bytes(data[: int(len(data) * keep)])

    return write


def _zip_of(dst: Path) -> None:
    import zipfile

    with zipfile.ZipFile(dst, "w") as z:
        z.writestr("a.txt", "not a model")


def _hf_dir(config: str) -> object:
    def write(dst: Path) -> None:
        dst.mkdir()
        (dst / "config.json").write_text(config)

    return write


def usage() -> list[Case]:
    return [
        Case("usage-no-args", "edgekd", [], what="no arguments"),
        Case("usage-unknown-command", "edgekd", ["frobnicate"], what="unknown command"),
        Case("usage-unknown-global-option", "edgekd", ["--bogus"], what="unknown global option"),
        Case("usage-compile-no-model", "compile", ["compile"], what="missing MODEL"),
        Case("usage-compile-unknown-option", "compile", ["compile", "m.onnx", "--bogus"], ONNX, "unknown option"),
        Case("usage-profile-no-model", "profile", ["profile"], what="missing MODEL"),
        Case("usage-targets-no-subcommand", "targets", ["targets"], what="no sub-command"),
        Case("usage-targets-show-no-name", "targets show", ["targets", "show"], what="missing NAME"),
        Case("usage-distill-no-teacher", "distill", ["distill"], what="missing --teacher"),
        Case("usage-run-no-recipe", "run", ["run"], what="missing RECIPE"),
    ]


def profile() -> list[Case]:
    p = ["profile", "m.onnx"]
    inputs = lambda **a: {**ONNX, "in.npz": npz(**a)}  # noqa: E731
    cases = [(f"profile-{name}", [*p, *extra], ONNX, what) for name, extra, what in [
        ("batch-abc", ["--batch", "abc"], "--batch abc"), ("batch-zero", ["--batch", "0"], "--batch 0"),
        ("batch-negative", ["--batch", "-1"], "--batch -1"), ("batch-commas", ["--batch", ",,"], "--batch of commas only"),
        ("batch-float", ["--batch", "1.5"], "--batch 1.5"), ("runs-zero", ["--runs", "0"], "--runs 0"),
        ("runs-negative", ["--runs", "-5"], "--runs -5"), ("runs-abc", ["--runs", "abc"], "--runs abc"),
        ("duration-negative", ["--duration", "-1"], "--duration -1"), ("duration-nan", ["--duration", "nan"], "--duration nan"),
        ("duration-inf", ["--duration", "inf"], "--duration inf (never ends)"),
        ("warmup-negative", ["--warmup-ms", "-1"], "--warmup-ms -1"), ("warmup-nan", ["--warmup-ms", "nan"], "--warmup-ms nan"),
        ("threads-zero", ["--threads", "0"], "--threads 0"), ("threads-negative", ["--threads", "-2"], "--threads -2"),
        ("threads-absurd", ["--threads", "100000"], "--threads 100000"),
        ("graph-opt-unknown", ["--graph-opt", "fast"], "--graph-opt fast"),
        ("timeout-zero", ["--timeout", "0"], "--timeout 0"), ("timeout-negative", ["--timeout", "-3"], "--timeout -3"),
        ("batch-absurd", ["--batch", "100000000"], "--batch 100000000 (25 GB of inputs)"),
        ("three-models", ["m.onnx", "m.onnx"], "three models"),
        ("same-model-twice", ["m.onnx"], "A/B comparison of a model with itself"),
        ("target-unknown", ["--target", "nosuch"], "unknown target name"),
    ]]
    cases += [
        ("profile-model-missing", ["profile", "nope.onnx"], {}, "model file missing"),
        ("profile-model-directory", ["profile", "d.onnx"], {"d.onnx/x": "x"}, "model path is a directory"),
        ("profile-model-empty", p, {"m.onnx": b""}, "empty .onnx"),
        ("profile-model-garbage", p, {"m.onnx": b"\x00garbage" * 100}, "garbage bytes as .onnx"),
        ("profile-model-text", p, {"m.onnx": "ir_version: 8\n"}, "text file as .onnx"),
        ("profile-model-truncated", p, {"m.onnx": _truncate("tiny.onnx", 0.6)}, "truncated .onnx"),
        ("profile-model-huge-declared", p, {"m.onnx": fixture("huge-declared.onnx")}, ".onnx whose initializer declares 160 GB"),
        ("profile-model-safetensors", ["profile", "ck.safetensors"], CKPT, "a checkpoint instead of an ONNX model"),
        ("profile-model-engine-garbage", ["profile", "m.engine"], {"m.engine": b"\x01" * 64}, "garbage .engine"),
        ("profile-inputs-missing", [*p, "--inputs", "no.npz"], ONNX, "--inputs file missing"),
        ("profile-inputs-not-zip", [*p, "--inputs", "in.npz"], {**ONNX, "in.npz": "x,y\n1,2\n"}, "--inputs not a zip"),
        ("profile-inputs-pickled", [*p, "--inputs", "in.npz"], inputs(x=np.array([{"a": 1}], dtype=object)),
         "--inputs with a pickled object array"),
        ("profile-inputs-rank", [*p, "--inputs", "in.npz"], inputs(x=np.zeros((4, 64), np.float32)), "--inputs wrong rank"),
        ("profile-inputs-shape", [*p, "--inputs", "in.npz"], inputs(x=np.zeros((4, 1, 9, 9), np.float32)), "--inputs wrong shape"),
        ("profile-inputs-nan", [*p, "--inputs", "in.npz"], inputs(x=np.full((4, 1, 8, 8), np.nan, np.float32)), "--inputs NaN"),
        ("profile-inputs-empty", [*p, "--inputs", "in.npz"], inputs(x=np.zeros((0, 1, 8, 8), np.float32)), "--inputs 0 samples"),
        ("profile-inputs-complex", [*p, "--inputs", "in.npz"], inputs(x=np.zeros((4, 1, 8, 8), np.complex64)), "--inputs complex dtype"),
        ("profile-inputs-strings", [*p, "--inputs", "in.npz"], inputs(x=np.array(["a", "b"])), "--inputs string array"),
        ("profile-inputs-wrong-names", [*p, "--inputs", "in.npz"], inputs(a=X, b=X), "--inputs arrays not named after inputs"),
        ("profile-out-exists", ["profile", "prior/tiny.fp32.onnx", "--out", "prior"], {}, "reports already in --out, no --force"),
        ("profile-target-bad-yaml", [*p, "--target", "t.yaml"], {**ONNX, "t.yaml": "name: [\n"}, "target YAML syntax error"),
        ("profile-target-batch-zero", [*p, "--target", "t.yaml"], {**ONNX, "t.yaml": TARGET.replace("[1]", "[0]")},
         "target batch_sizes [0]"),
        ("profile-target-threads-zero", [*p, "--target", "t.yaml"], {**ONNX, "t.yaml": TARGET + "threads: 0\n"}, "target threads 0"),
    ]
    return [Case(i, "profile", a, f, w) for i, a, f, w in cases]


def compile_() -> list[Case]:
    c, o = ["compile", "m.onnx"], ["compile", "ck.safetensors"]
    calib = lambda **a: {**CKPT, "c.npz": npz(**a)}  # noqa: E731
    arch = lambda text: {"ck.safetensors": fixture("bare.safetensors"), "ck.arch.json": text}  # noqa: E731
    rows = [
        ("model-missing", ["compile", "nope.onnx"], {}, "model file missing"),
        ("model-dir-no-config", ["compile", "d"], {"d/x.txt": "x"}, "directory that is not a Hugging Face model"),
        ("onnx-empty", c, {"m.onnx": b""}, "empty .onnx"),
        ("onnx-garbage", c, {"m.onnx": b"\x00garbage" * 100}, "garbage bytes as .onnx"),
        ("onnx-truncated", c, {"m.onnx": _truncate("tiny.onnx", 0.6)}, "truncated .onnx"),
        ("onnx-huge-declared", c, {"m.onnx": fixture("huge-declared.onnx")}, ".onnx declaring a 160 GB initializer"),
        ("onnx-is-zip", c, {"m.onnx": _zip_of}, "zip archive named .onnx"),
        ("onnx-unsupported-suffix", ["compile", "m.tflite"], {"m.tflite": b"TFL3" * 10}, "unsupported model kind"),
        ("safetensors-garbage", o, {"ck.safetensors": b"\xff" * 256}, "garbage .safetensors"),
        ("safetensors-truncated", o, {**CKPT, "ck.safetensors": _truncate("tiny.safetensors", 0.7)}, "truncated .safetensors"),
        ("safetensors-huge-header", o, {"ck.safetensors": (2**62).to_bytes(8, "little") + b"{}"}, "header length 2**62"),
        ("safetensors-empty", o, {"ck.safetensors": b""}, "empty .safetensors"),
        ("safetensors-no-arch", o, {"ck.safetensors": fixture("bare.safetensors")}, "checkpoint without arch JSON"),
        ("arch-malformed", o, arch("{name: resnet"), "arch JSON syntax error"),
        ("arch-list", o, arch("[1, 2]"), "arch JSON is a list"),
        ("arch-no-name", o, arch('{"widths": [4], "blocks": [1]}'), "arch JSON without name"),
        ("arch-unknown-family", o, arch('{"name": "lenet9"}'), "unknown model family"),
        ("arch-wrong-type", o, arch('{"name": "resnet", "widths": "four", "blocks": [1]}'), "widths a string"),
        ("arch-zero-width", o, arch('{"name": "resnet", "widths": [0], "blocks": [1]}'), "widths [0]"),
        ("arch-negative-width", o, arch('{"name": "resnet", "widths": [-4], "blocks": [1]}'), "widths [-4]"),
        ("arch-absurd-width", o, arch('{"name": "resnet", "widths": [100000, 100000], "blocks": [1, 1]}'),
         "widths that would allocate 360 GB"),
        ("arch-length-mismatch", o, arch('{"name": "resnet", "widths": [4, 8], "blocks": [1]}'), "widths/blocks lengths differ"),
        ("arch-unknown-key", o, arch('{"name": "resnet", "widths": [4], "blocks": [1], "depth": 3}'), "unknown arch key"),
        ("arch-zero-classes", o, arch('{"name": "resnet", "widths": [4], "blocks": [1], "num_classes": 0}'), "num_classes 0"),
        ("arch-shape-mismatch", o, arch('{"name": "resnet", "widths": [8], "blocks": [1]}'), "weights do not fit the arch"),
        ("arch-huge-file", o, arch('{"name": "resnet", "pad": "' + "x" * 1_100_000 + '"}'), "arch JSON over 1 MB"),
        ("arch-deep", o, arch('{"name": "resnet", "x": ' + "[" * 3000 + "]" * 3000 + "}"), "arch JSON nested 3000 deep"),
        ("pt2-no-trust", ["compile", "m.pt2"], {"m.pt2": _zip_of}, ".pt2 without --trust-code"),
        ("pt2-garbage-trusted", ["compile", "m.pt2", "--trust-code"], {"m.pt2": b"\x00" * 64}, "garbage .pt2 with --trust-code"),
        ("factory-no-trust", ["compile", "-", "--factory", "os:getcwd"], {}, "--factory without --trust-code"),
        ("factory-not-module", ["compile", "-", "--factory", "os:getcwd", "--trust-code"], {}, "--factory returning a str"),
        ("factory-bad-spec", ["compile", "-", "--factory", "nocolon", "--trust-code"], {}, "--factory without module:function"),
        ("precision-unknown", [*c, "--precision", "fp64"], ONNX, "--precision fp64"),
        ("precision-empty", [*c, "--precision", ""], ONNX, "--precision '' (was silently fp32)"),
        ("calib-missing", [*c, "--calib", "no.npz"], ONNX, "--calib file missing"),
        ("calib-not-zip", [*o, "--calib", "c.npz"], {**CKPT, "c.npz": "1,2,3\n"}, "--calib not a zip"),
        ("calib-pickled", [*o, "--calib", "c.npz"], calib(x=np.array([object()], dtype=object)), "--calib pickled object array"),
        ("calib-nan", [*o, "--calib", "c.npz"], calib(x=np.full((4, 1, 8, 8), np.nan, np.float32)), "--calib NaN"),
        ("calib-inf", [*o, "--calib", "c.npz"], calib(x=np.full((4, 1, 8, 8), np.inf, np.float32)), "--calib inf"),
        ("calib-empty", [*o, "--calib", "c.npz"], calib(x=np.zeros((0, 1, 8, 8), np.float32)), "--calib 0 samples"),
        ("calib-no-arrays", [*o, "--calib", "c.npz"], calib(y=np.zeros(4, np.int64)), "--calib with labels only"),
        ("calib-scalar", [*o, "--calib", "c.npz"], calib(x=np.float32(1.0)), "--calib 0-d array"),
        ("calib-rank", [*c, "--calib", "c.npz"], {**ONNX, "c.npz": npz(x=np.zeros((4, 64), np.float32))}, "--calib wrong rank"),
        ("calib-shape", [*c, "--calib", "c.npz"], {**ONNX, "c.npz": npz(x=np.zeros((4, 3, 8, 8), np.float32))}, "--calib wrong shape"),
        ("calib-labels-length", [*c, "--calib", "c.npz"], {**ONNX, "c.npz": npz(x=X, y=np.zeros(9, np.int64))},
         "--calib labels of another length"),
        ("calib-samples-zero", [*c, "--calib-samples", "0"], ONNX, "--calib-samples 0"),
        ("calib-method-unknown", [*c, "--precision", "int8", "--calib", "calib.npz", "--calib-method", "magic"],
         {**ONNX, **CALIB}, "--calib-method magic"),
        ("num-verify-zero", [*c, "--num-verify", "0"], ONNX, "--num-verify 0"),
        ("num-verify-absurd", [*c, "--num-verify", "1000000000"], ONNX, "--num-verify 1e9 (256 GB of random inputs)"),
        ("tol-unknown-key", [*c, "--tol", "min_cosin=0.9"], ONNX, "--tol misspelled key (was ignored)"),
        ("tol-out-of-range", [*c, "--tol", "min_cosine=2"], ONNX, "--tol min_cosine=2 (was blamed on the model)"),
        ("tol-negative", [*c, "--tol", "max_abs=-1"], ONNX, "--tol max_abs=-1"),
        ("tol-garbage", [*c, "--tol", "abc"], ONNX, "--tol abc"),
        ("target-unknown", [*c, "--target", "nosuch"], ONNX, "unknown target"),
        ("target-old-opset", [*c, "--target", "t.yaml"], {**ONNX, "t.yaml": TARGET + "opset: 7\n"}, "target opset 7"),
        ("int8-no-calib", [*c, "--precision", "int8"], ONNX, "int8 without calibration data"),
        ("out-exists", ["compile", "prior/tiny.fp32.onnx", "--out", "prior"], {}, "outputs already in --out, no --force"),
        ("out-is-file", [*c, "--out", "f"], {**ONNX, "f": "a file"}, "--out names a file"),
        ("out-corrupt-manifest", [*c, "--out", "o"], {**ONNX, "o/manifest.json": "{not json"}, "corrupt manifest.json in --out"),
        ("hf-config-garbage", ["compile", "hf"], {"hf": _hf_dir("{not json")}, "Hugging Face config.json malformed"),
    ]
    return [Case(f"compile-{i}", "compile", a, f, w) for i, a, f, w in rows]


def distill() -> list[Case]:
    d = ["distill", "--teacher", "ck.safetensors", "--out", "s"]
    data = lambda **a: {**CKPT, "d.npz": npz(**a)}  # noqa: E731
    rows = [
        ("teacher-missing", ["distill", "--teacher", "no.safetensors"], {}, "teacher missing"),
        ("teacher-garbage", ["distill", "--teacher", "ck.safetensors"], {"ck.safetensors": b"\x07" * 300}, "teacher garbage"),
        ("teacher-directory", ["distill", "--teacher", "t"], {"t/x": "x"}, "teacher is a directory"),
        ("teacher-onnx", ["distill", "--teacher", "m.onnx"], ONNX, "teacher is an ONNX model"),
        ("student-malformed", [*d, "--student", "{name: resnet"], CKPT, "--student YAML syntax error"),
        ("student-absurd", [*d, "--student", "{name: resnet, widths: [100000, 100000], blocks: [1, 1]}"], CKPT,
         "--student widths that would allocate 360 GB"),
        ("student-zero-width", [*d, "--student", "{name: resnet, widths: [0], blocks: [1]}"], CKPT, "--student widths [0]"),
        ("student-negative-scale", [*d, "--student", "{width: -1, depth: 1}"], CKPT, "--student width factor -1"),
        ("student-zero-scale", [*d, "--student", "{width: 0, depth: 1}"], CKPT, "--student width factor 0"),
        ("student-list", [*d, "--student", "[1, 2]"], CKPT, "--student a list"),
        ("student-file-malformed", [*d, "--student", "s.json"], {**CKPT, "s.json": "{oops"}, "--student JSON file malformed"),
        ("loss-negative", [*d, "--loss", "{ce: -1}"], CKPT, "negative loss weight (trained to maximise the loss)"),
        ("loss-unknown", [*d, "--loss", "{nosuch: 1}"], CKPT, "unknown loss"),
        ("loss-zero-temperature", [*d, "--loss", "{kd: {temperature: 0}}"], CKPT, "KD temperature 0"),
        ("loss-nan", [*d, "--loss", "{ce: .nan}"], CKPT, "NaN loss weight"),
        ("epochs-zero", [*d, "--epochs", "0"], CKPT, "--epochs 0"),
        ("epochs-negative", [*d, "--epochs", "-1"], CKPT, "--epochs -1"),
        ("data-unknown", [*d, "--data", "nosuch"], CKPT, "unknown dataset name"),
        ("data-not-zip", [*d, "--data", "d.npz"], {**CKPT, "d.npz": "x\n"}, "--data .npz not a zip"),
        ("data-pickled", [*d, "--data", "d.npz"], data(x=np.array([{}], dtype=object), y=np.zeros(1)), "--data pickled"),
        ("data-nan", [*d, "--data", "d.npz"], data(x=np.full((8, 1, 8, 8), np.nan, np.float32), y=np.zeros(8, np.int64)),
         "--data NaN images"),
        ("data-rank", [*d, "--data", "d.npz"], data(x=np.zeros((8, 64), np.float32), y=np.zeros(8, np.int64)), "--data wrong rank"),
        ("data-empty", [*d, "--data", "d.npz"], data(x=np.zeros((0, 1, 8, 8), np.float32), y=np.zeros(0, np.int64)), "--data empty"),
        ("config-unknown-key", [*d, "--config", "c.yaml"], {**CKPT, "c.yaml": "epocs: 3\n"}, "--config unknown key"),
        ("config-batch-zero", [*d, "--config", "c.yaml"], {**CKPT, "c.yaml": "batch_size: 0\n"}, "--config batch_size 0"),
        ("config-lr-negative", [*d, "--config", "c.yaml"], {**CKPT, "c.yaml": "lr: -1\n"}, "--config lr -1"),
        ("config-lr-inf", [*d, "--config", "c.yaml"], {**CKPT, "c.yaml": "lr: .inf\n"}, "--config lr inf"),
        ("config-label-fraction-zero", [*d, "--config", "c.yaml"], {**CKPT, "c.yaml": "label_fraction: 0\n"}, "label_fraction 0"),
        ("config-tag", [*d, "--config", "c.yaml"], {**CKPT, "c.yaml": TAG}, "--config with a python YAML tag"),
        ("config-huge", [*d, "--config", "c.yaml"], {**CKPT, "c.yaml": FAT}, "--config over 1 MB"),
        ("config-not-mapping", [*d, "--config", "c.yaml"], {**CKPT, "c.yaml": "- 1\n- 2\n"}, "--config a list"),
        ("resume-nothing", [*d, "--resume"], CKPT, "--resume with nothing to resume"),
    ]
    return [Case(f"distill-{i}", "distill", a, f, w) for i, a, f, w in rows]


def run() -> list[Case]:
    r = ["run", "r.yaml", "--out", "prior"]
    rec = lambda text: {"r.yaml": text}  # noqa: E731
    stage = lambda extra: RECIPE + "".join(f"    {k}: {v}\n" for k, v in extra.items())  # noqa: E731
    rows = [
        ("recipe-missing", ["run", "nope.yaml", "--out", "prior"], {}, "recipe missing"),
        ("recipe-directory", ["run", "d.yaml", "--out", "prior"], {"d.yaml/x": "x"}, "recipe is a directory"),
        ("recipe-syntax", r, rec("stages: [\n"), "YAML syntax error"),
        ("recipe-tag", r, rec(TAG), "python YAML tag"),
        ("recipe-laughs", r, rec(LAUGHS), "billion laughs (aliases)"),
        ("recipe-huge", r, rec(FAT), "recipe over 1 MB"),
        ("recipe-binary", r, rec(b"\xff\xfe\x00\x01" * 64), "binary, not UTF-8"),
        ("recipe-empty", r, rec(""), "empty recipe"),
        ("recipe-unknown-stage", r, rec(RECIPE.replace("teacher", "teech", 1)), "unknown stage"),
        ("recipe-epochs-negative", r, rec(RECIPE.replace("epochs: 1", "epochs: -1")), "epochs -1"),
        ("recipe-epochs-string", r, rec(RECIPE.replace("epochs: 1", "epochs: ten")), "epochs 'ten'"),
        ("recipe-batch-zero", r, rec(stage({"batch_size": 0})), "batch_size 0"),
        ("recipe-lr-nan", r, rec(stage({"lr": ".nan"})), "lr NaN"),
        ("recipe-split-past-one", r, rec(RECIPE.replace("image_size: 8", "image_size: 8, split: {val: 0.6, test: 0.5}")),
         "split fractions summing to 1.1"),
        ("recipe-image-size-absurd", r, rec(RECIPE.replace("image_size: 8", "image_size: 100000")),
         "image_size 100000 (72 TB of images)"),
        ("recipe-npz-no-path", r, rec(RECIPE.replace("name: digits", "name: npz")), "npz dataset without path"),
        ("recipe-npz-missing", r, rec(RECIPE.replace("name: digits", "name: npz, path: no.npz")), "npz dataset missing"),
        ("recipe-no-stages", r, rec("name: r\nstages: []\n"), "no stages"),
        ("recipe-duplicate-ids", r, rec("stages: [{stage: teacher}, {stage: teacher}]\n"), "duplicate stage ids"),
        ("recipe-target-unknown", r, rec("target: nowhere\n" + RECIPE), "unknown target"),
        ("recipe-arch-absurd", r, rec(RECIPE.replace("widths: [4], blocks: [1]", "widths: [100000, 100000], blocks: [1, 1]")),
         "teacher widths that would allocate 360 GB"),
        ("recipe-arch-zero", r, rec(RECIPE.replace("widths: [4]", "widths: [0]")), "teacher widths [0]"),
        ("recipe-compile-precision", r, rec(RECIPE + "  - stage: compile\n    precision: fp64\n"), "compile precision fp64"),
        ("recipe-profile-batch-zero", r, rec(RECIPE + "  - stage: profile\n    batch_sizes: [0]\n"), "profile batch_sizes [0]"),
        ("recipe-distill-negative-loss", r, rec(RECIPE + "  - stage: distill\n    loss: {ce: -1}\n"), "distill loss weight -1"),
        ("recipe-out-is-file", ["run", "r.yaml", "--out", "f"], {"r.yaml": RECIPE, "f": "a file"}, "--out names a file"),
    ]
    return [Case(f"run-{i}", "run", a, f, w) for i, a, f, w in rows]


def targets() -> list[Case]:
    s = ["targets", "show", "t.yaml"]
    t = lambda text: {"t.yaml": text}  # noqa: E731
    rows = [
        ("show-unknown", ["targets", "show", "nosuch"], {}, "unknown target name"),
        ("show-missing-file", ["targets", "show", "no.yaml"], {}, "target file missing"),
        ("show-directory", ["targets", "show", "d.yaml"], {"d.yaml/x": "x"}, "target path is a directory"),
        ("syntax", s, t("name: [\n"), "YAML syntax error"),
        ("tag", s, t(TAG), "python YAML tag"),
        ("tag-in-value", s, t("name: !!python/name:os.system\n"), "python YAML tag in a value"),
        ("laughs", s, t(LAUGHS), "billion laughs (aliases)"),
        ("nested", s, t(NESTED), "nested 5000 deep"),
        ("huge", s, t(FAT), "target over 1 MB"),
        ("binary", s, t(b"\x89PNG\r\n\x1a\n" + b"\xff" * 64), "binary, not UTF-8"),
        ("empty", s, t(""), "empty file"),
        ("list", s, t("- a\n- b\n"), "top level a list"),
        ("unknown-key", s, t(TARGET + "thread: 4\n"), "misspelled key"),
        ("no-name", s, t("runtime: onnxruntime\n"), "name missing"),
        ("runtime-unknown", s, t(TARGET.replace("onnxruntime", "tflite")), "runtime tflite"),
        ("precision-unknown", s, t(TARGET.replace("[fp32]", "[fp64]")), "precision fp64"),
        ("precisions-empty", s, t(TARGET.replace("[fp32]", "[]")), "no precisions"),
        ("threads-string", s, t(TARGET + "threads: many\n"), "threads 'many'"),
        ("threads-zero", s, t(TARGET + "threads: 0\n"), "threads 0"),
        ("threads-absurd", s, t(TARGET + "threads: 100000\n"), "threads 100000"),
        ("batch-zero", s, t(TARGET.replace("[1]", "[0]")), "batch_sizes [0]"),
        ("batch-negative", s, t(TARGET.replace("[1]", "[-1]")), "batch_sizes [-1]"),
        ("batch-absurd", s, t(TARGET.replace("[1]", "[100000000]")), "batch_sizes [100000000]"),
        ("batch-empty", s, t(TARGET.replace("[1]", "[]")), "batch_sizes []"),
        ("opset-old", s, t(TARGET + "opset: 7\n"), "opset 7"),
        ("opset-future", s, t(TARGET + "opset: 99\n"), "opset 99 (was replaced silently)"),
        ("workspace-negative", s, t(TARGET + "workspace_bytes: -1\n"), "workspace_bytes -1"),
        ("port-range", s, t(TARGET + "connection: {kind: ssh, host: h, user: u, port: 70000}\n"), "ssh port 70000"),
        ("ssh-no-host", s, t(TARGET + "connection: {kind: ssh}\n"), "ssh without host and user"),
        ("connection-kind", s, t(TARGET + "connection: {kind: telnet}\n"), "connection kind telnet"),
        ("budget-negative", s, t(TARGET + "budgets: {p90_latency_ms: -1}\n"), "negative latency budget"),
        ("budget-nan", s, t(TARGET + "budgets: {p90_latency_ms: .nan}\n"), "NaN latency budget"),
        ("budget-accuracy-negative", s, t(TARGET + "budgets: {accuracy_drop_pts: -5}\n"), "negative accuracy budget"),
        ("list-broken-path", ["targets", "list"], {"ts/broken.yaml": "name: [\n"}, "EDGEKD_TARGETS_PATH holds a broken YAML"),
    ]
    cases = [Case(f"targets-{i}", "targets", a, f, w) for i, a, f, w in rows]
    cases[-1].env = {"EDGEKD_TARGETS_PATH": "ts"}
    return cases


def _prior_copy(mutate: Callable[[Path], None]) -> Callable[[Path], None]:
    """A file spec that copies ``prior/`` to the path and then changes it."""

    def write(dst: Path) -> None:
        shutil.copytree(dst.parent / "prior", dst)
        mutate(dst)

    return write


def _tar(name: str, data: bytes = b"x", kind: bytes = tarfile.REGTYPE, link: str = "") -> Callable[[Path], None]:
    """A file spec writing a tar.gz with one member ``name`` (a file, or a link to ``link``)."""

    def write(dst: Path) -> None:
        with tarfile.open(dst, "w:gz") as tar:
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.size = kind, link, len(data) if kind == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)

    return write


def _flip_onnx(run: Path) -> None:
    model = run / "tiny.fp32.onnx"
    data = bytearray(model.read_bytes())
    data[-5] ^= 0xFF
    model.write_bytes(bytes(data))


def bundles() -> list[Case]:
    """``package``, ``verify`` and ``check``: run directories and bundles, damaged or hostile."""
    rows = [
        ("package-run-missing", "package", ["package", "nope", "--out", "b.tar.gz"], {}, "run directory missing"),
        ("package-not-a-run", "package", ["package", "d", "--out", "b.tar.gz"], {"d/x.txt": "x"}, "directory without manifest"),
        ("package-corrupt-manifest", "package", ["package", "p", "--out", "b.tar.gz"],
         {"p": _prior_copy(lambda d: (d / "manifest.json").write_text("{not json"))}, "corrupt manifest.json"),
        ("package-tampered-artifact", "package", ["package", "p", "--out", "b.tar.gz"], {"p": _prior_copy(_flip_onnx)},
         "artifact changed after it was recorded"),
        ("package-out-exists", "package", ["package", "prior", "--out", "b.tar.gz"], {"b.tar.gz": b"old"}, "bundle exists, no --force"),
        ("verify-missing", "verify", ["verify", "nope.tar.gz"], {}, "bundle missing"),
        ("verify-not-tar", "verify", ["verify", "b.tar.gz"], {"b.tar.gz": b"\x1f\x8bnot really gzip"}, "garbage .tar.gz"),
        ("verify-traversal", "verify", ["verify", "b.tar.gz"], {"b.tar.gz": _tar("../../evil.txt")}, "member '../../evil.txt'"),
        ("verify-absolute", "verify", ["verify", "b.tar.gz"], {"b.tar.gz": _tar("/tmp/evil.txt")}, "member with an absolute path"),
        ("verify-symlink", "verify", ["verify", "b.tar.gz"], {"b.tar.gz": _tar("link", kind=tarfile.SYMTYPE, link="/etc/passwd")},
         "symlink member to /etc/passwd"),
        ("verify-device", "verify", ["verify", "b.tar.gz"], {"b.tar.gz": _tar("dev", kind=tarfile.CHRTYPE)}, "device member"),
        ("verify-no-manifest", "verify", ["verify", "b.tar.gz"], {"b.tar.gz": _tar("model.onnx", b"\x08\x07")}, "bundle without manifest"),
        ("verify-empty-dir", "verify", ["verify", "d"], {"d/.keep": ""}, "empty directory as bundle"),
        ("check-missing", "check", ["check", "nope.tar.gz"], {}, "bundle missing"),
        ("check-not-tar", "check", ["check", "b.tar.gz"], {"b.tar.gz": b"PK\x03\x04 zip, not tar"}, "zip named .tar.gz"),
        ("check-traversal", "check", ["check", "b.tar.gz"], {"b.tar.gz": _tar("../evil.txt")}, "member '../evil.txt'"),
        ("check-budget-negative", "check", ["check", "prior", "--max-p90-ms", "-1"], {}, "--max-p90-ms -1"),
        ("check-budget-nan", "check", ["check", "prior", "--max-size-mb", "nan"], {}, "--max-size-mb nan"),
        ("check-drop-negative", "check", ["check", "prior", "--max-drop-pts", "-5"], {}, "--max-drop-pts -5"),
        ("check-target-unknown", "check", ["check", "prior", "--target", "nosuch"], {}, "unknown target"),
        ("check-corrupt-manifest", "check", ["check", "p"], {"p": _prior_copy(lambda d: (d / "manifest.json").write_text("[]"))},
         "manifest.json a JSON list"),
    ]
    return [Case(i, c, a, f, w) for i, c, a, f, w in rows]


def search() -> list[Case]:
    s = ["search", "--teacher", "ck.safetensors", "--out", "se"]
    rows = [
        ("teacher-missing", ["search", "--teacher", "no.safetensors"], {}, "teacher missing"),
        ("teacher-garbage", ["search", "--teacher", "ck.safetensors"], {"ck.safetensors": b"\x00" * 100}, "teacher garbage"),
        ("space-unknown", [*s, "--space", "huge"], CKPT, "--space huge"),
        ("proxy-unknown", [*s, "--proxy", "oracle"], CKPT, "--proxy oracle"),
        ("trials-zero", [*s, "--trials", "0"], CKPT, "--trials 0"),
        ("workers-zero", [*s, "--workers", "0"], CKPT, "--workers 0"),
        ("workers-absurd", [*s, "--workers", "100000"], CKPT, "--workers 100000 (would fork that many processes)"),
        ("budget-negative", [*s, "--budget-ms", "-1"], CKPT, "--budget-ms -1"),
        ("budget-nan", [*s, "--budget-ms", "nan"], CKPT, "--budget-ms nan"),
        ("sampler-unknown", [*s, "--sampler", "grid"], CKPT, "--sampler grid"),
        ("latency-unknown", [*s, "--latency", "guessed"], CKPT, "--latency guessed"),
        ("max-params-zero", [*s, "--max-params", "0"], CKPT, "--max-params 0"),
        ("config-tag", [*s, "--config", "c.yaml"], {**CKPT, "c.yaml": TAG}, "--config with a python YAML tag"),
        ("config-unknown-key", [*s, "--config", "c.yaml"], {**CKPT, "c.yaml": "trails: 3\n"}, "--config misspelled key"),
        ("data-not-zip", [*s, "--data", "d.npz"], {**CKPT, "d.npz": "x\n"}, "--data .npz not a zip"),
    ]
    return [Case(f"search-{i}", "search", a, f, w) for i, a, f, w in rows]


def sentence() -> list[Case]:
    bert = {"t/config.json": '{"model_type": "bert"}', "t/modules.json": "[]", "t/model.safetensors": b"\x00" * 64}
    corpus = {f"c/{k}.txt": "A plain English sentence for the test.\nAnother one follows it here.\nA third closes.\n"
              for k in ("train", "val", "test")}
    se, di = ["sentence", "search", "--teacher", "t", "--data", "c"], ["sentence", "distill", "--teacher", "t", "--student", "t", "--data", "c"]
    rows = [
        ("search-teacher-missing", ["sentence", "search", "--teacher", "nothere"], {}, "teacher directory missing"),
        ("search-teacher-gpt2", se, {**corpus, "t/config.json": '{"model_type": "gpt2"}', "t/modules.json": "[]",
                                     "t/model.safetensors": b"\x00"}, "teacher is not a BERT model"),
        ("search-teacher-pickle-only", se, {**corpus, "t/config.json": '{"model_type": "bert"}', "t/modules.json": "[]",
                                            "t/pytorch_model.bin": b"\x80\x04"}, "teacher has only a pickle checkpoint"),
        ("search-data-missing", [*se[:4], "--data", "nothere"], bert, "--data folder missing"),
        ("search-data-empty-split", se, {**bert, **corpus, "c/val.txt": "\n"}, "--data val.txt empty"),
        ("search-speedup-below-1", [*se, "--speedup", "0.5"], {**bert, **corpus}, "--speedup 0.5 (a slower student)"),
        ("search-layers-past-teacher", [*se, "--config", "c.yaml"],
         {**corpus, "c.yaml": "layers: [9]\n", "t/config.json": '{"model_type": "bert", "num_hidden_layers": 6, '
          '"intermediate_size": 1536, "num_attention_heads": 12}', "t/modules.json": "[]", "t/model.safetensors": b"\x00"},
         "layers beyond the teacher's"),
        ("distill-epochs-zero", [*di, "--epochs", "0"], {**bert, **corpus}, "--epochs 0"),
        ("distill-config-unknown-key", [*di, "--config", "c.yaml"], {**bert, **corpus, "c.yaml": "epocs: 3\n"}, "--config misspelled key"),
        ("distill-student-missing", [*di[:4], "--student", "nothere", "--data", "c"], {**bert, **corpus}, "--student missing"),
        ("distill-teacher-no-tokenizer", di, {**bert, **corpus}, "teacher without a tokenizer"),
        ("distill-teacher-weights-garbage", di, {**bert, **corpus, "t/vocab.txt": "[PAD]\n"}, "teacher weights not safetensors"),
        ("distill-teacher-config-garbage", di, {**bert, **corpus, "t/config.json": "{oops"}, "teacher config.json malformed"),
        ("corpus-out-is-file", ["sentence", "corpus", "--out", "f"], {"f": "x"}, "--out is a file"),
    ]
    return [Case(f"sentence-{i}", "sentence", a, f, w) for i, a, f, w in rows]


XFAIL: dict[str, str] = {}  # case id -> why it is not clean yet (none at present)


def all_cases() -> list[Case]:
    """Every case, in table order; ids are unique. Cases still not clean carry their reason (``XFAIL``)."""
    cases = [*usage(), *targets(), *profile(), *compile_(), *distill(), *run(), *bundles(), *search(), *sentence()]
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    for c in cases:
        c.xfail = XFAIL.get(c.id)
    return cases
