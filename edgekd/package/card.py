"""MODEL_CARD.md in the sections of "Model Cards for Model Reporting" (Mitchell et al., 2019), from the manifest.

Every number is copied from the bundle manifest; what edgekd does not know (authors, licence, per-group results)
is said to be missing rather than invented. The card carries no timestamp of its own, so packing is reproducible.
"""

from __future__ import annotations

import json
from typing import Any

from edgekd.budgets import GATES, fmt
from edgekd.package.schema import BundleManifest, ModelEntry

KNOWN_STAGES = ("teacher", "distill", "compile", "profile")


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    line = lambda cells: "| " + " | ".join("" if c is None else str(c) for c in cells) + " |"  # noqa: E731
    return [line(header), line(["---"] * len(header)), *(line(r) for r in rows)]


def _num(value: float | None, digits: int = 2, unit: str = "") -> str:
    return "n/a" if value is None else f"{value:.{digits}f}{unit}"


def _sci(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"


def _io(specs: list[Any]) -> str:
    return ", ".join(f"`{t.name}` {t.dtype} [{', '.join(str(d) for d in t.shape)}]" for t in specs)


def _arch(info: dict[str, Any] | None) -> str:
    arch = (info or {}).get("arch") or {}
    shown = ", ".join(f"{k} {v}" for k, v in arch.items() if k != "name")
    return f"{arch.get('name', 'unknown')} ({shown})" if arch else "not recorded"


def _details(m: BundleManifest, p: ModelEntry) -> list[str]:
    tgt = m.target
    lines = ["## Model details", "",
             f"- Model to ship: `{p.path}`, the {p.role}, {p.precision} ONNX, {fmt(p.bytes, 'bytes')}, compiled from a "
             f"{p.source or 'model'} for target `{tgt['name']}` ({tgt.get('description') or tgt.get('runtime', '')}).",
             f"- Inputs: {_io(p.inputs)}; outputs: {_io(p.outputs)}."]
    student, teacher = m.student, m.teacher
    if student:
        lines.append(f"- Student: {_arch(student)}, {student['params']:,} parameters, trained with "
                     + ", ".join(f"{k} {json.dumps(v)}" for k, v in student["training"].items()) + ".")
    if teacher:
        ratio = f" ({teacher['params'] / student['params']:.1f}x the student)" if student and student["params"] else ""
        lines.append(f"- Teacher: {_arch(teacher)}, {teacher['params']:,} parameters{ratio}.")
    lines += [f"- Recipe `{m.name}`; run started {m.run_created_at}; edgekd {m.edgekd_version}.",
              "- Developers, licence, citation and contact: not recorded by edgekd; add them before publishing this card."]
    return lines


def _use(m: BundleManifest, p: ModelEntry) -> list[str]:
    tgt, data = m.target, (m.data.get("dataset") or {})
    return ["", "## Intended use", "",
            f"- Primary use: on-device inference on `{tgt['name']}` ({tgt.get('runtime', '?')} on {tgt.get('device', '?')}, "
            f"batch sizes {tgt.get('batch_sizes', '?')}), for the task its training data defines "
            f"(dataset `{data.get('name', 'unknown')}`).",
            "- Out of scope: inputs unlike the training data (other domains, sizes or preprocessing), and other devices "
            "without measuring again (`edgekd check BUNDLE --target NAME --reprofile`)."]


def _factors(m: BundleManifest, p: ModelEntry) -> list[str]:
    lat = p.latency
    where = f"measured on {lat.cpu or 'an unrecorded CPU'} for target `{lat.target}`" if lat else "not measured"
    precisions = sorted({x.precision for x in m.models})
    return ["", "## Factors", "",
            f"- Hardware and runtime: latency is {where}; it depends on the device, threads, batch size and runtime "
            "version recorded in `manifest.json` (`env`).",
            f"- Precision: {', '.join(precisions)} ({'compared below' if len(precisions) > 1 else 'one precision packaged'}).",
            "- Groups in the data: edgekd computes no per-group or per-class results; none are reported here."]


def _sentence_rows(m: BundleManifest) -> list[list[Any]]:
    """Agreement with the teacher's sentence embeddings per stage that measured it (sentence_distill, compile)."""
    return [[f"`{sid}`", s["metrics"].get("precision", "pytorch"), s["metrics"]["test_sentences"],
             _num(s["metrics"]["test_mean_cosine"], 4), _num(s["metrics"]["test_pairwise_spearman"], 4),
             _num(s["metrics"]["test_nn_agreement"], 4)]
            for sid, s in m.stages.items() if "test_pairwise_spearman" in s["metrics"]]


def _metrics(m: BundleManifest) -> list[str]:
    ref = f"the {m.accuracy_drop.against}" if m.accuracy_drop else "a reference"
    task = (["- Agreement with the teacher's sentence embeddings on held-out test sentences: mean cosine, Spearman "
             "correlation of all pairwise similarities, nearest-neighbour agreement (share of sentences whose most "
             "similar other sentence is the teacher's)."] if _sentence_rows(m) else
            [f"- Top-1 accuracy (%) on held-out samples; accuracy drop (points) against {ref}."])
    return ["", "## Metrics", "", *task,
            "- Agreement with the source model: max abs difference, cosine, top-1 agreement (per-precision tolerances).",
            "- Latency at batch 1 (median and p90 over the timed runs, ms), throughput (items/s), peak resident memory, "
            "model size. Decision thresholds are the target's budgets, shown with the measured values below."]


def _data(m: BundleManifest) -> list[str]:
    ds, split = m.data.get("dataset") or {}, m.data.get("split") or {}

    text = ds.get("name") == "sentences"

    def part(name: str) -> str:
        s = split.get(name)
        if not s:
            return "not recorded"
        what, digest = ("sentences", "text") if text else ("samples", "indices")
        return f"{s['size']} {what} ({digest} sha256 `{(s.get('sha256') or s['indices_sha256'])[:16]}…`)"

    desc = f"`{ds.get('name', 'unknown')}`" + (f" from `{ds['path']}`" if ds.get("path") else "")
    how = (" (the installed packages' READMEs and docstrings, edgekd.data.text_corpus)" if not ds.get("path") else "")
    how += "; split by the SHA-256 of each sentence" if text else f"; split seed {(ds.get('split') or {}).get('seed')}"
    size = (f"; images resized to {ds['image_size']}x{ds['image_size']} px" if ds.get("name") not in (None, "tokens", "sentences")
            else "")
    if ds:
        evaluation = [f"- {desc}, test split: {part('test')}{how}{size}."]
        training = [f"- {desc}, train split: {part('train')}; validation split: {part('val')}."]
    else:
        evaluation = ["- No dataset recorded: the model was compiled outside a recipe."]
        training = ["- Not recorded: the model was compiled outside a recipe."]
    for x in m.models:
        v = x.data_roles.get("verification")
        if v:
            evaluation.append(f"- Verification of `{x.path}` against its source: {v.get('samples')} samples, {v.get('data')}.")
        cal = (x.quantization or {}).get("calibration")
        if cal:
            hashes = [f"{k} `{val}`" for k, val in cal.items() if "sha256" in k]
            role = x.data_roles.get("calibration") or {}
            origin = "; ".join(hashes) or role.get("data") or (
                f"the first {cal.get('samples')} train-split samples" if x.accuracy_on == "test split" else "data given to compile")
            training.append(f"- Calibration of `{x.path}`: {cal.get('method')}, {cal.get('samples')} samples, {origin}.")
    return ["", "## Evaluation data", "", *evaluation, "", "## Training data", "", *training]


def _quantitative(m: BundleManifest) -> list[str]:
    lines = ["", "## Quantitative analyses", ""]
    if m.teacher and m.student:
        t, s = m.teacher, m.student
        lines += ["Teacher vs student (PyTorch checkpoints, test split):", ""]
        lines += _table(["model", "parameters", "test accuracy %"],
                        [["teacher", f"{t['params']:,}", _num(t["test_accuracy"])],
                         ["student", f"{s['params']:,}", _num(s["test_accuracy"])]]) + [""]
    lines += ["Packaged models side by side (ONNX Runtime):", ""]
    lines += _table(["model", "role", "precision", "size", "accuracy %", "top-1 agreement", "max abs diff",
                     "median ms", "p90 ms", "peak RSS (profiler process)"],
                    [[f"`{x.path}`", x.role, x.precision, fmt(x.bytes, "bytes"),
                      f"{_num(x.test_accuracy)} ({x.accuracy_on})" if x.test_accuracy is not None else "n/a",
                      _num(x.verification.get("top1_agreement"), 4), _sci(x.verification.get("max_abs_diff")),
                      _num(x.latency.median_ms if x.latency else None, 3), _num(x.latency.p90_ms if x.latency else None, 3),
                      fmt(x.latency.peak_rss_bytes, "bytes") if x.latency and x.latency.peak_rss_bytes else "n/a"]
                     for x in m.models])
    if m.accuracy_drop:
        d = m.accuracy_drop
        lines += ["", f"Accuracy drop of the shipped model: {d.pts:.2f} points against the {d.against} "
                      f"({d.reference_accuracy:.2f}% -> {d.model_accuracy:.2f}%; {d.note})."]
    if m.budgets:
        lines += ["", f"Budgets of `{m.target['name']}` when packaged:", ""]
        lines += _table(["gate", "budget", "measured", "result"],
                        [[GATES[g["name"]][0], fmt(g["budget"], g["unit"]),
                          fmt(g["measured"], g["unit"]) if g["measured"] is not None else "not measured",
                          g["status"].upper()] for g in m.budgets])
    if m.search:
        sr = m.search
        lines += ["", (f"Architecture search (`{sr['report']}`): {sr['trials']} trials, {sr['evaluated']} evaluated, proxy "
                       f"`{sr['proxy']}`, latency budget {_num(sr['budget_ms'], 3)} ms; best candidates:"), ""]
        lines += _table(["candidate", "proxy score", "latency ms", "parameters"],
                        [[f"`{r['key']}`", _sci(r["proxy"]), _num(r["latency_ms"], 3), r["params"]] for r in sr["top_k"]])
    if _sentence_rows(m):
        lines += ["", "Agreement with the teacher's sentence embeddings on held-out test sentences (PyTorch student after "
                      "distillation, then each compiled model run by ONNX Runtime):", ""]
        lines += _table(["stage", "precision", "sentences", "mean cosine", "pairwise Spearman", "NN agreement"],
                        _sentence_rows(m))
    other = {sid: s for sid, s in m.stages.items() if s["stage"] not in KNOWN_STAGES}
    for sid, s in other.items():
        lines += ["", f"Stage `{sid}` ({s['stage']}):", ""]
        lines += _table(["metric", "value"], [[k, v] for k, v in s["metrics"].items()])
    return lines


def _caveats(m: BundleManifest, p: ModelEntry) -> list[str]:
    notes = []
    if m.accuracy_drop and m.accuracy_drop.against == "fp32":
        notes.append(f"The accuracy drop is measured against the fp32 model, not a teacher: {m.accuracy_drop.note}.")
    if m.accuracy_drop is None:
        notes.append("No accuracy drop could be measured: the run has no labelled evaluation of this model.")
    for x in m.models:
        notes += [f"`{x.path}`: {n}" for n in x.verification.get("notes", [])]
        kept = (x.quantization or {}).get("kept_in_float") or []
        if kept:
            notes.append(f"`{x.path}` keeps {len(kept)} node(s) in float to meet the accuracy budget: "
                         + ", ".join(f"`{k}`" for k in kept[:8]) + ("…" if len(kept) > 8 else ""))
        if x.latency:
            notes += [f"`{x.path}` latency: {w}" for w in x.latency.warnings]
    if p.latency is None:
        notes.append(f"`{p.path}` has no latency report; run `edgekd check --reprofile` on the device.")
    reports = sorted({x.latency.report for x in m.models if x.latency})
    if reports:
        notes.append("Latency reports (JSON with every raw sample, and HTML): "
                     + ", ".join(f"`{r}`, `{r.removesuffix('.json')}.html`" for r in reports) + ".")
    return ["", "## Ethical considerations", "",
            "- edgekd records where the data came from and which samples were used (hashes above), not its consent, "
            "licence or demographics: review those for this dataset before deployment.",
            "- Compression can shift errors unevenly across groups while average accuracy holds; no per-group "
            "evaluation was run.", "", "## Caveats and recommendations", "", *(f"- {n}" for n in notes)]


def render_card(m: BundleManifest) -> str:
    """The model card of the bundle described by ``m`` as Markdown."""
    p = m.model()
    lines = [f"# Model card: {m.name}", "",
             "Written by `edgekd package` from `manifest.json`; every number below is copied from it.", ""]
    for part in (_details(m, p), _use(m, p), _factors(m, p), _metrics(m), _data(m), _quantitative(m), _caveats(m, p)):
        lines += part
    return "\n".join(lines) + "\n"
