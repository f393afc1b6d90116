"""What ``search`` and ``sentence search`` check before they load torch: options, the target, the teacher, the
search space or grid, the outputs.

Importing this loads no torch, so both commands refuse such bad input in well under a second.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgekd.errors import EdgekdError
from edgekd.manifest_io import guard_outputs
from edgekd.models.hf_student import check_teacher_dir
from edgekd.schemas import Target, validate
from edgekd.search.config import SearchConfig
from edgekd.search.sentence_config import SentenceSearchConfig, shape_grid
from edgekd.search.spaces import SPACES
from edgekd.targets import get_target

SENTENCE_REPORT, SENTENCE_PLOT = "sentence_search.json", "sentence_search.png"


def check_request(teacher: str | Path, target: str | Path | Target, config: SearchConfig | None,
                  options: dict[str, Any]) -> tuple[Path, Target, SearchConfig]:
    """(teacher path, target, options) of a search: ``config`` updated by ``options``, checked with the target, that
    the teacher checkpoint exists and the search space."""
    cfg = validate(SearchConfig, {**(config or SearchConfig()).model_dump(), **options}, "search options")
    tgt, teacher = get_target(target), Path(teacher)
    if not teacher.is_file():
        raise EdgekdError(f"teacher checkpoint not found: {teacher}")
    SPACES.get(cfg.space)
    return teacher, tgt, cfg


def check_sentence_request(teacher_dir: str | Path, target: str | Path | Target, out: Path, cfg: SentenceSearchConfig,
                           force: bool) -> tuple[list[tuple[int, int, int]], Target]:
    """(grid of (layers, intermediate size, heads), target) of a sentence search, after checking the teacher
    directory, the grid against the teacher's shape, the target and that the outputs in ``out`` may be written."""
    grid = shape_grid(cfg, check_teacher_dir(teacher_dir))
    tgt = get_target(target)
    guard_outputs([out / "student", out / SENTENCE_REPORT, out / SENTENCE_PLOT], force)
    return grid, tgt
