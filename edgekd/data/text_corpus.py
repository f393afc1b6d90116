"""A corpus of real English sentences available offline, for distilling and checking sentence encoders.

Where the sentences come from: the Python distributions installed in the running interpreter
(``importlib.metadata.distributions()``). Per distribution, two kinds of human-written English text are read:

1. its long description (the README on PyPI: the payload or ``Description`` field of its ``METADATA``), and
2. the docstrings (module, class, function) of its ``.py`` files, read with ``ast`` from source; no package is
   imported. Only the prose summary of a docstring is kept: it is cut at the first section header (``Args:``,
   ``Parameters``, ``Returns``, ``Example``, ``>>>``, ``.. directive``, ...).

Markup is stripped (code blocks, inline code, links, HTML tags, headings, tables, list bullets); paragraphs are
split into sentences, and a sentence is kept only when it looks like plain English prose: 6-40 words and
30-300 characters, ASCII, starts with a capital letter and ends with ``.``, ``!`` or ``?``, at least 85% of its
characters letters or spaces, no code characters (``{}[]<>=_`|\\@#$*~``, ``()``, dotted names, URLs) and at least
two common English function words. Duplicates (case and spacing ignored) are dropped, at most ``per_source``
sentences are taken per distribution (so no single package dominates), and each sentence goes to train / val /
test by the SHA-256 of its normalised text (80 / 10 / 10 by default), so a sentence lands in the same split on
every machine whatever else is installed. What is installed decides how many sentences there are; ``sources``
records every distribution and version that contributed.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata as md
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from edgekd.errors import EdgekdError
from edgekd.fsutil import write_json, write_text
from edgekd.inputs import check_out_dir
from edgekd.manifest_io import guard_outputs

SPLITS = ("train", "val", "test")
FUNCTION_WORDS = frozenset("the a an of to and is in for that with this it be are on as by or can from not which "
                           "you your will when if its was has have more all their use used".split())
_SECTION = re.compile(r"^\s*(args|arguments|parameters|params|returns?|yields?|raises|examples?|notes?|attributes|"
                      r"see also|references|warnings?|todo|usage|keyword arguments|other parameters|methods)\s*:?\s*$|"
                      r"^\s*(>>>|\.\.\s|:param|:return|:raises|:type|@param|-{3,}|={3,})", re.I)
_FENCE = re.compile(r"^\s*(```|~~~)")
_CODE_CHARS = re.compile(r"[{}\[\]<>=_`|\\@#$*~^%]|\(\)|->|://|www\.|\w\.\w")
_ABBREV = re.compile(r"\b(e\.g|i\.e|etc|vs|cf|approx|Dr|Mr|Mrs|Ms|No|Fig)\.", re.I)
_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_RST_LINK = re.compile(r"`([^`<]+?)\s*<[^>]+>`_+")
_ROLE = re.compile(r":\w+:`([^`]+)`")
_TAG = re.compile(r"<[^>]{1,200}>")


@dataclass
class Corpus:
    """Sentences per split (``train``, ``val``, ``test``: lists of str, sorted by hash) and their sources.

    ``sources``: distribution name -> {"version", "sentences" kept from it}; ``seen``: candidate sentences
    before de-duplication and the per-source cap.
    """

    splits: dict[str, list[str]]
    sources: dict[str, dict[str, str | int]] = field(default_factory=dict)
    seen: int = 0

    def info(self) -> dict[str, object]:
        """Sizes, a SHA-256 of each split's text and the sources: what ``corpus.json`` holds."""
        return {"sizes": {k: len(v) for k, v in self.splits.items()},
                "sha256": {k: hashlib.sha256("\n".join(v).encode()).hexdigest() for k, v in self.splits.items()},
                "candidates_seen": self.seen, "sources": self.sources, "built_by": "edgekd.data.text_corpus"}


def normalise(sentence: str) -> str:
    """Lower case, single spaces: the key for de-duplication and splitting."""
    return " ".join(sentence.lower().split())


def split_of(sentence: str, val: float = 0.1, test: float = 0.1) -> str:
    """``train``, ``val`` or ``test`` from the SHA-256 of the normalised sentence (deterministic everywhere)."""
    u = int.from_bytes(hashlib.sha256(normalise(sentence).encode()).digest()[:8], "big") / 2**64
    return "test" if u < test else "val" if u < test + val else "train"


def clean_sentence(s: str) -> str | None:
    """The sentence with spacing normalised if it looks like plain English prose (see the module doc), else None."""
    s = " ".join(s.split()).strip(" -")
    words = s.split()
    if not (6 <= len(words) <= 40 and 30 <= len(s) <= 300) or not s.isascii():
        return None
    if not (s[0].isupper() and s[-1] in ".!?") or s[-2] in ".!?:":
        return None
    if _CODE_CHARS.search(_ABBREV.sub("", s)):
        return None
    if sum(c.isalpha() or c == " " for c in s) < 0.85 * len(s):
        return None
    if sum(w.lower().strip(",;:.!?\"'()") in FUNCTION_WORDS for w in words) < 2:
        return None
    if any(len(w) > 30 for w in words) or sum(w.isupper() and len(w) > 1 for w in words) > len(words) // 3:
        return None
    return s


def _paragraphs(lines: list[str]) -> Iterator[str]:
    """Join runs of prose lines; code blocks (fenced, indented after ``::``), tables and headings end paragraphs."""
    buf: list[str] = []
    in_fence, literal = False, False
    for line in lines:
        if _FENCE.match(line):
            in_fence = not in_fence
            if buf:
                yield " ".join(buf)
            buf = []
            continue
        stripped = line.strip()
        if in_fence or (literal and (not stripped or line[:1] in " \t")):
            continue
        literal = stripped.endswith("::")
        code_like = line[:4] == "    " or line[:1] == "\t"
        if (not stripped or code_like or stripped[0] in "#|+=*-~^" and len(set(stripped)) < 3 or stripped[0] in "#|"
                or stripped.startswith((">>>", "$ ", "..")) or _SECTION.match(line)):
            if buf:
                yield " ".join(buf)
            buf = []
            continue
        buf.append(re.sub(r"^([-*+]|\d+[.)])\s+", "", stripped))
    if buf:
        yield " ".join(buf)


def sentences_from_text(text: str) -> list[str]:
    """Prose sentences of a README or docstring (Markdown, reStructuredText or plain text), cleaned and in order."""
    text = _TAG.sub(" ", _ROLE.sub(r"\1", _RST_LINK.sub(r"\1", _LINK.sub(r"\1", text))))
    text = re.sub(r"\*\*([^*]+)\*\*|\*([^*]+)\*", lambda m: m.group(1) or m.group(2), text)
    out = []
    for para in _paragraphs(text.splitlines()):
        protected = _ABBREV.sub(lambda m: m.group(0).replace(".", "\x00"), para)
        for raw in _SPLIT.split(protected):
            s = clean_sentence(raw.replace("\x00", "."))
            if s is not None:
                out.append(s)
    return out


def docstring_summaries(source: str) -> list[str]:
    """The prose part (up to the first section header) of every module/class/function docstring in ``source``."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=True)
            if doc:
                lines = doc.splitlines()
                cut = next((i for i, ln in enumerate(lines) if _SECTION.match(ln)), len(lines))
                out.append("\n".join(lines[:cut]))
    return out


def distribution_texts(dist: md.Distribution, max_source_bytes: int) -> Iterator[str]:
    """The long description, then docstring summaries of the distribution's ``.py`` files (smallest first, at most
    ``max_source_bytes`` of source read; tests and vendored code skipped)."""
    desc = dist.metadata.get_payload() or dist.metadata.get("Description") or ""  # type: ignore[attr-defined]
    if isinstance(desc, str) and desc.strip():
        yield desc
    files = [f for f in dist.files or [] if f.suffix == ".py" and not any(
        part in {"tests", "test", "testing", "_vendor", "vendor", "examples", "benchmarks"} for part in f.parts)]
    sized = []
    for f in files:
        try:
            path = Path(dist.locate_file(f))
            sized.append((path.stat().st_size, str(f), path))
        except OSError:
            continue
    budget = max_source_bytes
    for size, _, path in sorted(sized):
        if size > budget:
            break
        budget -= size
        try:
            yield from docstring_summaries(path.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            continue


def build_corpus(per_source: int = 300, max_source_bytes: int = 200_000, val: float = 0.1,
                 test: float = 0.1) -> Corpus:
    """Sentences from every installed distribution (``per_source`` at most from each; ``max_source_bytes`` of
    ``.py`` source read per distribution), de-duplicated and split by hash (``val``/``test`` fractions)."""
    if not (isinstance(per_source, int) and per_source >= 1):
        raise EdgekdError(f"per_source must be an integer >= 1, got {per_source!r}")
    if isinstance(max_source_bytes, bool) or not isinstance(max_source_bytes, int) or max_source_bytes < 0:
        raise EdgekdError(f"max_source_bytes must be an integer >= 0, got {max_source_bytes!r}")
    if not (0 < val < 1 and 0 < test < 1 and val + test < 1):
        raise EdgekdError(f"val and test must be fractions in (0, 1) summing below 1, got {val} and {test}")
    seen: set[str] = set()
    splits: dict[str, list[str]] = {k: [] for k in SPLITS}
    sources: dict[str, dict[str, str | int]] = {}
    candidates = 0
    dists = sorted(md.distributions(), key=lambda d: (d.metadata["Name"] or "").lower())
    for dist in dists:
        name = dist.metadata["Name"] or "?"
        if name.lower() in sources:
            continue
        kept = 0
        for text in distribution_texts(dist, max_source_bytes):
            for s in sentences_from_text(text):
                candidates += 1
                key = normalise(s)
                if key in seen:
                    continue
                seen.add(key)
                splits[split_of(s, val, test)].append(s)
                kept += 1
                if kept >= per_source:
                    break
            if kept >= per_source:
                break
        if kept:
            sources[name.lower()] = {"version": dist.version, "sentences": kept}
    for k in SPLITS:
        splits[k].sort(key=lambda s: hashlib.sha256(normalise(s).encode()).digest())
    return Corpus(splits, sources, candidates)


def corpus_outputs(out: str | Path, force: bool = False) -> dict[str, Path]:
    """The files ``write_corpus`` writes in ``out`` (split name or ``info`` -> path); an error if one exists and
    not ``force``, so a caller can check before the build."""
    out = check_out_dir(out)
    paths = {k: out / f"{k}.txt" for k in SPLITS} | {"info": out / "corpus.json"}
    guard_outputs(list(paths.values()), force)
    return paths


def write_corpus(corpus: Corpus, out: str | Path, force: bool = False) -> dict[str, Path]:
    """``train.txt``, ``val.txt``, ``test.txt`` (one sentence per line) and ``corpus.json`` in ``out``, each
    written atomically; existing files are an error unless ``force``."""
    paths = corpus_outputs(out, force)
    for k in SPLITS:
        write_text(paths[k], "".join(s + "\n" for s in corpus.splits[k]))
    write_json(paths["info"], corpus.info())
    return paths


def read_sentences(path: str | Path, limit: int | None = None) -> list[str]:
    """Non-empty lines of a one-sentence-per-line file (the first ``limit``); errors name the file and the fix."""
    path = Path(path)
    if not path.is_file():
        raise EdgekdError(f"{path}: sentence file not found; build the corpus with 'edgekd sentence corpus --out DIR'")
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
    if not lines:
        raise EdgekdError(f"{path}: no sentences in it; give a text file with one sentence per line")
    return lines[:limit] if limit is not None else lines
