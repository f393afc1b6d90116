"""The built-in stages, each declared with the module that registers it: a recipe imports only its stages' modules,
so checking a recipe's names and options loads no torch."""

from edgekd.pipeline.stage import STAGES

MODULES = {
    "teacher": "edgekd.distill.stage",
    "distill": "edgekd.distill.stage",
    "compile": "edgekd.export.stage",
    "profile": "edgekd.profile.stage",
    "package": "edgekd.package.stage",
    "check": "edgekd.package.stage",
    "search": "edgekd.search.stage",
    "sentence_search": "edgekd.search.sentence_stage",
    "qad": "edgekd.quant.qad.stage",
    "sentence_teacher": "edgekd.distill.sentence_stage",
    "sentence_distill": "edgekd.distill.sentence_stage",
}

for _name, _module in MODULES.items():
    STAGES.declare(_name, _module)
