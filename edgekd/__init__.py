"""edgekd: turn a trained teacher into a verified, profiled tiny student for a named edge device.

The public API mirrors the CLI: ``edgekd.search``, ``edgekd.distill``, ``edgekd.compile``, ``edgekd.profile``,
``edgekd.compare``, ``edgekd.package``, ``edgekd.check``, ``edgekd.verify``, ``edgekd.run``, ``edgekd.train_teacher``,
``edgekd.get_target``, ``edgekd.list_targets``; for sentence-embedding students ``edgekd.build_corpus``,
``edgekd.write_corpus``, ``edgekd.make_sentence_student``, ``edgekd.search_sentence_student``,
``edgekd.distill_sentence_student``, ``edgekd.embedding_agreement``.

Every public name loads its module on first use (``EXPORTS`` maps it to ``"module:attribute"``), so ``import edgekd``
imports no torch, onnx or onnxruntime and the CLI's ``--version`` and ``--help`` answer at once. Adding a public
function is one line in ``EXPORTS``.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from edgekd.lazy import lazy_names

__version__ = "0.1.0"

EXPORTS: dict[str, str] = {
    "check": "edgekd.package.gates:check",
    "compare": "edgekd.profile.compare:compare",
    "build_corpus": "edgekd.data.text_corpus:build_corpus",
    "compile": "edgekd.export.compile:compile",
    "distill": "edgekd.distill.api:distill",
    "distill_sentence_student": "edgekd.distill.sentence:distill_sentence_student",
    "embedding_agreement": "edgekd.distill.embedding_metrics:embedding_agreement",
    "get_target": "edgekd.targets:get_target",
    "list_targets": "edgekd.targets:list_targets",
    "load_recipe": "edgekd.pipeline.runner:load_recipe",
    "make_sentence_student": "edgekd.models.hf_student:make_sentence_student",
    "package": "edgekd.package.api:package",
    "profile": "edgekd.profile.api:profile",
    "run": "edgekd.pipeline.runner:run",
    "search": "edgekd.search.api:search",
    "search_sentence_student": "edgekd.search.sentence:search_sentence_student",
    "train_teacher": "edgekd.distill.teacher:train_teacher",
    "verify": "edgekd.package.verify:verify",
    "write_corpus": "edgekd.data.text_corpus:write_corpus",
}

__all__ = ["__version__", *sorted(EXPORTS)]


__getattr__, __dir__ = lazy_names(__name__, EXPORTS)


class _Package(types.ModuleType):
    """The package module: a public function keeps its name when the import system binds a subpackage of the same
    name (``edgekd.profile``, ``edgekd.distill``) on first import, so ``edgekd.profile(...)`` is always the function."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in EXPORTS and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
