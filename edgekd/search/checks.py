"""What ``search`` checks before it loads torch: its options, the target, that the teacher exists, the search space.

Importing this loads no torch, so ``edgekd search`` refuses such bad input in well under a second.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgekd.errors import EdgekdError
from edgekd.schemas import Target, validate
from edgekd.search.config import SearchConfig
from edgekd.search.spaces import SPACES
from edgekd.targets import get_target


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
