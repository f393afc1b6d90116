"""edgekd: turn a trained teacher into a verified, profiled tiny student for a named edge device.

The public API mirrors the CLI: ``edgekd.compile``, ``edgekd.profile``, ``edgekd.compare``, ``edgekd.distill``, ``edgekd.run``,
``edgekd.train_teacher``, ``edgekd.get_target``, ``edgekd.list_targets``.
"""

__version__ = "0.1.0"

from edgekd.distill.api import distill  # noqa: E402  (the function; the package stays in sys.modules)
from edgekd.distill.teacher import train_teacher  # noqa: E402
from edgekd.export.compile import compile  # noqa: E402
from edgekd.pipeline.runner import load_recipe, run  # noqa: E402
from edgekd.profile.api import profile  # noqa: E402
from edgekd.profile.compare import compare  # noqa: E402
from edgekd.targets import get_target, list_targets  # noqa: E402

__all__ = ["__version__", "compare", "compile", "distill", "get_target", "list_targets", "load_recipe", "profile", "run", "train_teacher"]
