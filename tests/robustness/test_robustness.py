"""Every bad or hostile input in ``robustness_cases`` through the installed ``edgekd`` script: exit code 2, exactly one
non-empty stderr line, no traceback, earlier outputs byte-identical and no files left behind.

The cases run concurrently once per session (each is a subprocess); each test then judges one outcome.
"""

from __future__ import annotations

import pytest

from robustness_cases import all_cases
from robustness_harness import build_fixtures, run_all

CASES = all_cases()


@pytest.fixture(scope="session")
def outcomes(request, tmp_path_factory):
    wanted = {item.callspec.params["case"].id for item in request.session.items
              if getattr(item, "originalname", None) == "test_bad_input_gives_one_line_and_exit_2"}
    build_fixtures(tmp_path_factory.mktemp("robustness-fixtures"))
    return run_all([c for c in CASES if c.id in wanted], tmp_path_factory.mktemp("robustness-cases"))


# The first test's timeout also covers the session fixture, which runs every case: allow for a slow machine.
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=[pytest.mark.xfail(reason=c.xfail, strict=False)]
                                               if c.xfail else []) for c in CASES])
def test_bad_input_gives_one_line_and_exit_2(case, outcomes):
    got = outcomes[case.id]
    assert got.clean, f"{case.what}: {'; '.join(got.problems)}\nstderr:\n{got.stderr[-2000:]}"


def test_table_covers_every_command_and_file_kind():
    commands = {c.command for c in CASES}
    assert {"compile", "profile", "distill", "run", "targets", "edgekd"} <= commands
    assert len(CASES) >= 120
