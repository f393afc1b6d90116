"""Shared fixtures."""

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# with pytest-xdist each worker process takes its share of the cores (at most 2 threads), not all of them
WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
torch.set_num_threads(max(1, min(2, (os.cpu_count() or 1) // WORKERS)))


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory):
    """A short digits recipe (teacher -> compile -> profile), run once for the whole session."""
    import edgekd
    from edgekd.schemas import Recipe

    out = tmp_path_factory.mktemp("digits")
    recipe = Recipe.model_validate({
        "name": "digits-short",
        "dataset": {"name": "digits", "image_size": 16},
        "stages": [
            {"stage": "teacher", "arch": {"name": "resnet", "widths": [8, 16], "blocks": [1, 1]}, "epochs": 4, "lr": 0.01},
            {"stage": "compile", "precision": "fp32", "num_verify": 64},
            {"stage": "profile", "batch_sizes": [1, 4], "min_runs": 20, "min_duration_s": 0.05, "warmup_ms": 10},
        ],
    })
    return out, recipe, edgekd.run(recipe, out)


@pytest.fixture(scope="session")
def tiny_onnx(tmp_path_factory):
    """Factory: a small Conv-Relu-MatMul ONNX model (input ``x`` [N, 3, 16, 16] float32) at a fresh path."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    root = tmp_path_factory.mktemp("tiny_onnx")

    def make(name: str = "tiny.onnx", channels: int = 8, batch: int | str = "N", data_file: str | None = None):
        rng = np.random.default_rng(channels)
        weights = [numpy_helper.from_array(rng.standard_normal((channels, 3, 3, 3)).astype(np.float32), "W"),
                   numpy_helper.from_array(rng.standard_normal((channels * 256, 10)).astype(np.float32), "G")]
        nodes = [helper.make_node("Conv", ["x", "W"], ["c"], pads=[1, 1, 1, 1], name="conv0"),
                 helper.make_node("Relu", ["c"], ["r"], name="relu0"),
                 helper.make_node("Flatten", ["r"], ["f"], name="flatten0"),
                 helper.make_node("MatMul", ["f", "G"], ["y"], name="matmul0")]
        graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3, 16, 16])],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 10])], weights)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
        path = root / name
        if data_file:
            onnx.save(model, str(path), save_as_external_data=True, location=data_file, size_threshold=0)
        else:
            onnx.save(model, str(path))
        return path

    return make
