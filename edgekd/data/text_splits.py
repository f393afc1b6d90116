"""Text datasets for sentence-embedding recipes: sentences per split, registered in ``TEXT_DATASETS``.

``sentences``: one sentence per line in ``<path>/train.txt``, ``val.txt`` and ``test.txt`` (what
``edgekd sentence corpus`` writes), or, without a path, the corpus of the installed packages' READMEs and
docstrings (``edgekd.data.text_corpus.build_corpus``). Sentences are split by the SHA-256 of their text, so the
recipe's ``split`` fractions do not apply; ``limit`` keeps the first sentences of each split (quick runs).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from edgekd.data.text_corpus import SPLITS, build_corpus, read_sentences
from edgekd.errors import EdgekdError
from edgekd.registry import Registry
from edgekd.schemas import DatasetSpec


@dataclass
class TextSplits:
    """Sentences per split (``train``, ``val``, ``test``: lists of str) and where they came from."""

    texts: dict[str, list[str]]
    source: dict[str, Any] = field(default_factory=dict)

    def info(self) -> dict[str, Any]:
        """Sizes and a SHA-256 of each split's text, for the manifest."""
        return {k: {"size": len(v), "sha256": hashlib.sha256("\n".join(v).encode()).hexdigest()}
                for k, v in self.texts.items()}

    def as_json(self) -> dict[str, Any]:
        return {"info": self.info(), "source": self.source}


TEXT_DATASETS: Registry[Callable[[DatasetSpec], TextSplits]] = Registry("text dataset")


@TEXT_DATASETS.register("sentences")
def sentences(spec: DatasetSpec) -> TextSplits:
    """The sentence files in ``spec.path``, or the installed packages' corpus; ``spec.limit`` per split."""
    if spec.path:
        root = Path(spec.path)
        if not root.is_dir():
            raise EdgekdError(f"dataset path {root} is not a directory; give one with train.txt, val.txt and test.txt "
                              "('edgekd sentence corpus --out DIR' writes them), or leave path out")
        texts = {k: read_sentences(root / f"{k}.txt", spec.limit) for k in SPLITS}
        source: dict[str, Any] = {"path": str(root)}
    else:
        corpus = build_corpus()
        texts = {k: v[: spec.limit] for k, v in corpus.splits.items()}
        source = {"built_by": "edgekd.data.text_corpus", "distributions": len(corpus.sources)}
    short = [k for k in SPLITS if len(texts[k]) < 3]
    if short:
        raise EdgekdError(f"dataset 'sentences': the {short[0]} split has {len(texts[short[0]])} sentences, 3 at least "
                          "are needed; give a larger corpus")
    return TextSplits(texts, source)
