"""Recipe: a dataset, a target and an ordered list of stages with their options."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from edgekd.schemas.base import Strict


class SplitSpec(Strict):
    """Fractions of the data held out; the rest trains. The seed fixes which samples go where."""

    val: float = Field(0.1, gt=0, lt=1)
    test: float = Field(0.2, gt=0, lt=1)
    seed: int = 0

    @model_validator(mode="after")
    def _leaves_training_data(self) -> "SplitSpec":
        if self.val + self.test >= 1:
            raise ValueError(f"val {self.val:g} + test {self.test:g} leave nothing to train on; keep their sum below 1")
        return self


class DatasetSpec(Strict):
    """Which data the stages use: a registered dataset (see ``edgekd.data.DATASETS``)."""

    name: str = Field("digits", description="digits, npz (x/y images), imagefolder (root/<class>/<image>), tokens (input_ids/y), "
                      "sentences (text: train.txt/val.txt/test.txt in path, or the installed packages' docs).")
    path: str | None = Field(None, description="File or directory for npz, imagefolder and tokens.")
    image_size: int = Field(32, ge=8, le=1024, description="Images are resized to image_size x image_size pixels (8 to 1024).")
    split: SplitSpec = Field(default_factory=SplitSpec)
    limit: int | None = Field(None, ge=3, le=10_000_000,
                              description="Text datasets: at most this many sentences per split (quick runs).")

    @model_validator(mode="after")
    def _needs_path(self) -> "DatasetSpec":
        if self.name in ("npz", "imagefolder", "tokens") and not self.path:
            raise ValueError(f"dataset {self.name!r} needs a path")
        return self


class StageSpec(Strict):
    """One step of a recipe. ``options`` are checked against the stage's own config model."""

    stage: str
    id: str = Field("", description="Unique name in this recipe; defaults to the stage name.")
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _inline_options(cls, data: Any) -> Any:
        """Accept ``{stage: compile, precision: int8}`` as ``{stage: compile, options: {precision: int8}}``."""
        if isinstance(data, dict) and "options" not in data:
            own = {k: data[k] for k in ("stage", "id") if k in data}
            rest = {k: v for k, v in data.items() if k not in own}
            return {**own, "options": rest}
        return data

    @model_validator(mode="after")
    def _default_id(self) -> "StageSpec":
        self.id = self.id or self.stage
        return self


class Recipe(Strict):
    """What ``edgekd run`` executes, stage by stage."""

    name: str = "recipe"
    target: str = Field("cpu-ort-fp32", description="Target name or path to a target YAML.")
    dataset: DatasetSpec = Field(default_factory=DatasetSpec)
    out: str | None = Field(None, description="Output directory; --out overrides it.")
    stages: list[StageSpec] = Field(min_length=1)
    quick: dict[str, dict[str, Any]] = Field(default_factory=dict, description="What --quick changes: 'dataset' or a "
                                             "stage id -> options that replace the recipe's (a small, fast run).")

    @field_validator("stages")
    @classmethod
    def _unique_ids(cls, stages: list[StageSpec]) -> list[StageSpec]:
        seen: set[str] = set()
        for s in stages:
            if s.id in seen:
                raise ValueError(f"stage id {s.id!r} appears twice; give each an 'id'")
            seen.add(s.id)
        return stages

    @model_validator(mode="after")
    def _quick_names_known(self) -> "Recipe":
        unknown = sorted(set(self.quick) - {"dataset"} - {s.id for s in self.stages})
        if unknown:
            raise ValueError(f"quick: {unknown[0]!r} is neither 'dataset' nor a stage id of this recipe")
        return self

    def quickened(self) -> "Recipe":
        """This recipe with its ``quick`` options in place of its own (and no ``quick`` left)."""
        data = self.model_dump(mode="json")
        data["dataset"].update(self.quick.get("dataset", {}))
        for st in data["stages"]:
            st["options"].update(self.quick.get(st["id"], {}))
        data["quick"] = {}
        return Recipe.model_validate(data)
