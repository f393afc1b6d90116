"""QAD student -> QDQ ONNX with its learned scales, and the parity of that ONNX model with the fake-quant model.

``convert_pt2e`` turns the fake quantizers into quantize/dequantize ops with int8 weight constants; the dynamo
ONNX exporter writes them as QuantizeLinear/DequantizeLinear. Per-layer differences compare every tensor the
ONNX graph and the converted PyTorch program share a name for (convolution/linear outputs and dequantized
activations), in graph order, so a mismatch can be located.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch

from edgekd.quant.calibration import Arrays, batches

LAYER_OPS = ("conv", "linear", "addmm", "matmul", "dequantize_per_tensor")


def converted_program(net: torch.fx.GraphModule, example: torch.Tensor) -> torch.export.ExportedProgram:
    """The converted (Q/DQ ops, int8 weight constants) program of a prepared ``net``, dynamic batch; ``net`` is kept."""
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e

    net = copy.deepcopy(net)
    net.eval()  # torchao's eval() on a captured graph returns None
    return _program(convert_pt2e(net), example)


def _program(module: torch.nn.Module, example: torch.Tensor) -> torch.export.ExportedProgram:
    """``module`` captured on ``example`` (N, ...) with a dynamic batch axis."""
    batch = torch.export.Dim("batch", min=1, max=4096)
    return torch.export.export(module, (example,), dynamic_shapes=({0: batch},))


def export_qdq(net: torch.fx.GraphModule, example: torch.Tensor, path: str | Path, opset: int = 18) -> list[Path]:
    """Write the QDQ ONNX model of ``net`` to ``path`` (input ``input``, output ``logits``); the files written."""
    from edgekd.export.onnx_export import export_onnx

    return export_onnx(converted_program(net, example), example, path, opset=opset)


def export_float(net: torch.fx.GraphModule, example: torch.Tensor, path: str | Path, opset: int = 18) -> Path:
    """Write ``net`` without its fake quantizers (the float model it trains, BatchNorm folded) to ``path``."""
    from torchao.quantization.pt2e import FakeQuantizeBase

    from edgekd.export.onnx_export import export_onnx

    net = copy.deepcopy(net)
    for node in list(net.graph.nodes):
        if node.op == "call_module" and isinstance(net.get_submodule(node.target), FakeQuantizeBase):
            node.replace_all_uses_with(node.args[0])
            net.graph.erase_node(node)
    net.recompile()
    export_onnx(_program(net, example), example, path, opset=opset)
    return Path(path)


def float_ops(model: str | Path) -> list[str]:
    """Compute nodes left in float: not fed only by DequantizeLinear (or constants), nor a Relu/Clip fused after one."""
    graph = onnx.load(str(model), load_external_data=False).graph
    consts = {t.name for t in graph.initializer} | {o for n in graph.node if n.op_type == "Constant" for o in n.output}
    quantized = {o for n in graph.node if n.op_type == "DequantizeLinear" for o in n.output}
    skip = {"QuantizeLinear", "DequantizeLinear", "Constant", "Shape", "Reshape", "Flatten", "Identity"}
    left, int8_out = [], set()
    for n in graph.node:
        if n.op_type in skip:
            continue
        fed = [i for i in n.input if i and i not in consts]
        if fed and all(i in quantized for i in fed):
            int8_out.update(n.output)
        elif not (n.op_type in ("Relu", "Clip") and fed and fed[0] in int8_out):
            left.append(n.op_type)
    return left


def _torch_values(program: torch.export.ExportedProgram, x: torch.Tensor, names: set[str]) -> dict[str, np.ndarray]:
    """Outputs of the program's nodes called ``names`` on input ``x``."""
    module, got = program.module(), {}

    class Recorder(torch.fx.Interpreter):
        def run_node(self, n: torch.fx.Node) -> Any:
            out = super().run_node(n)
            if n.name in names and isinstance(out, torch.Tensor):
                got[n.name] = out.detach().float().numpy().copy()  # later in-place ops (relu_) would change it
            return out

    with torch.no_grad():
        Recorder(module).run(x)
    return got


def layer_diffs(program: torch.export.ExportedProgram, model: str | Path, inputs: Arrays, limit: int = 64) -> list[dict[str, Any]]:
    """Per-layer max/mean abs difference between the converted program and the ONNX model on ``limit`` samples.

    Returns one row per shared tensor in graph order: ``{"tensor", "max_abs_diff", "mean_abs_diff", "scale"}``
    (``scale``: the reference's max abs value, to read the difference against).
    """
    import onnxruntime as ort

    proto = onnx.load(str(model))
    produced = {o: n for n in proto.graph.node for o in n.output}
    fx_names = [n.name for n in program.graph.nodes if n.op == "call_function" and n.name.startswith(LAYER_OPS)]
    shared = [n for n in fx_names if n in produced and not produced[n].op_type.startswith("Quantize")]
    existing = {o.name for o in proto.graph.output}
    proto.graph.output.extend(onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None)
                              for n in shared if n not in existing)
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(proto.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    x = next(iter(batches(inputs, limit)))
    onnx_out = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, x)))
    ref = _torch_values(program, torch.from_numpy(next(iter(x.values()))), set(shared))
    rows = []
    for name in shared:
        if name in ref and ref[name].shape == onnx_out[name].shape:
            d = np.abs(ref[name] - onnx_out[name])
            rows.append({"tensor": name, "max_abs_diff": float(d.max()), "mean_abs_diff": float(d.mean()),
                         "scale": float(np.abs(ref[name]).max())})
    return rows


def parity(net: torch.fx.GraphModule, model: str | Path, x: np.ndarray, batch: int = 256) -> dict[str, Any]:
    """The ONNX model at ``model`` against the fake-quant ``net`` (eval) and its converted program on ``x`` (N, ...).

    Top-1 agreement (fraction) and max abs logit difference for both references, ops left in float, Q/DQ counts,
    and the per-layer differences to the converted program.
    """
    from edgekd.export.runtime import run_outputs

    xs = torch.from_numpy(np.ascontiguousarray(x))
    program = converted_program(net, xs[:2])
    onnx_out = next(iter(run_outputs(model, {"input": xs.numpy()}).values()))
    with torch.no_grad():
        net.eval()
        fake = torch.cat([net(xs[i : i + batch]) for i in range(0, len(xs), batch)]).numpy()
        conv = torch.cat([program.module()(xs[i : i + batch]) for i in range(0, len(xs), batch)]).numpy()
    graph = onnx.load(str(model), load_external_data=False).graph

    def versus(ref: np.ndarray) -> dict[str, float]:
        return {"top1_agreement": float((ref.argmax(1) == onnx_out.argmax(1)).mean()),
                "max_abs_diff": float(np.abs(ref - onnx_out).max()), "mean_abs_diff": float(np.abs(ref - onnx_out).mean())}

    return {"samples": len(xs), "vs_fake_quant": versus(fake), "vs_converted": versus(conv),
            "quantize_linear": sum(n.op_type == "QuantizeLinear" for n in graph.node),
            "dequantize_linear": sum(n.op_type == "DequantizeLinear" for n in graph.node),
            "float_ops": float_ops(model), "layers": layer_diffs(program, model, {"input": xs.numpy()})}
