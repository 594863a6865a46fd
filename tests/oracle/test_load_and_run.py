"""Load-and-run oracle (issue 9, item 3): every file `mixprec convert` writes (both rule sets, float16
and bfloat16, runtime casts and --cast-params-offline) loads in MXNet 1.9.1 (`mx.sym.load` +
`mx.nd.load`, and `gluon.SymbolBlock.imports`) and runs on its CPU, and our engine (`mixprec run`)
gives the same outputs on the same seeded inputs.

MXNet runs each graph by two routes, Symbol.bind (GraphExecutor) and SymbolBlock.imports (CachedOp),
which must agree with each other; ours is compared with both. Symbol.bind runs with
MXNET_SUBGRAPH_BACKEND=NONE: by default 1.9.1 fuses Convolution+BatchNorm+ReLU(+add) before binding,
which computes something else than the graph (test_mxnet_default_fusion); that fused route is
reported (fused_vs_ours in the JSON report), not asserted.

Tolerances, per output element, numpy's allclose (|ours - mxnet| <= atol + rtol * |mxnet|):
- FP32 files: rtol 1e-5, atol 1e-5 * max |mxnet| (the issue's "1e-5 relative");
- bfloat16: rtol 0.1, atol 0.2, MXNet 1.9.1's own bf16 AMP accuracy test
  (tests/python/mkl/test_contrib_amp.py, test_amp_accuracy: converted Conv/FC vs FP32);
- float16: rtol 1e-2, atol 1e-2, MXNet's fp16 AMP test (tests/python/gpu/test_contrib_amp.py,
  test_amp_conversion_rnn: converted block vs FP32).
The top-1 class of every sample (every window, for MTCNN's fully convolutional P-Net) is the same.

Missing kernels: every node is probed alone in its dtypes, in a child process (mxnet_exec.Prober:
one probe crashes MXNet). MXNet 1.9.1's CPU build has no float16 Convolution, FullyConnected or
batch_dot, no bfloat16 PReLU (LeakyReLU), and its bfloat16 transpose crashes alone and gives wrong
values inside a graph (EXPECTED_MISSING). Such a graph is run as written (it fails with the
recorded error, or its wrong values are reported) and in a copy where each node without a kernel
reads amp_cast(input, float32) and its consumers read amp_cast(output, low type): MXNet's float32
kernel, rounded by MXNet's own cast, which is what our engine does for every low-precision node.
That copy is what we compare against; every other node runs on MXNet's own float16/bfloat16 kernels.

The figures of every case go to MIXPREC_ORACLE_WORK/load_and_run/load_and_run.md (and .json) and are
printed by test_report at the end."""
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

import mxnet_exec as mxe
from conftest import MXNET_MODELS, run_cli

TOL = {"float32": None, "float16": (1e-2, 1e-2), "bfloat16": (0.1, 0.2)}  # (rtol, atol)
FP32_RTOL = 1e-5

# What MXNet 1.9.1's CPU build cannot run, as the probe sees it: dtype -> op -> a pattern of its
# error. A new MXNet that runs one of them, or one more op missing, fails a test.
EXPECTED_MISSING = {
    "float16": {
        "Convolution": re.escape("FP16 gemm on cpu not implemented!"),
        "FullyConnected": re.escape("float16 fully connected layer is currentlyonly supported by CuDNN version."),
        "batch_dot": re.escape("dot only supports float32/float64 for CPU"),
    },
    "bfloat16": {
        # MTCNN's PReLU (act_type prelu; BERT's gelu has a bfloat16 kernel).
        "LeakyReLU": re.escape("Unknown type enum 12"),
        # transpose of a bfloat16 array crashes the process (a segfault or a heap corruption abort).
        "transpose": r"^the process killed by signal (6|11)",
    },
}

@dataclass
class Model:
    name: str
    inputs: dict  # input name -> (shape, "normal" | ("int", high))
    classes: list  # indices of the outputs that hold class scores (top-1 compared on axis 1)
    shared: str = ""  # prefix under ../shared/models/mxnet
    epoch: int = 0
    zoo: str = ""  # or a `mixprec zoo` builder
    patch: dict = field(default_factory=dict)  # text replacements in the FP32 symbol


MODELS = [
    Model("cifar_resnet20_v1", {"data": ((2, 3, 32, 32), "normal")}, [0], shared="gluoncv_cifar_resnet20_v1/cifar_resnet20_v1"),
    Model("cifar_resnet20_v2", {"data": ((2, 3, 32, 32), "normal")}, [0], shared="gluoncv_cifar_resnet20_v2/cifar_resnet20_v2"),
    # P-Net is fully convolutional: at 36x36 it scores 14x14 windows.
    Model("mtcnn_det1", {"data": ((1, 3, 36, 36), "normal")}, [1], shared="insightface_mtcnn/det1", epoch=1),
    Model("mtcnn_det2", {"data": ((2, 3, 24, 24), "normal")}, [1], shared="insightface_mtcnn/det2", epoch=1),
    Model("mtcnn_det3", {"data": ((2, 3, 48, 48), "normal")}, [2], shared="insightface_mtcnn/det3", epoch=1),
    Model("mtcnn_det4", {"data": ((1, 15, 24, 24), "normal")}, [], shared="insightface_mtcnn/det4", epoch=1),
    Model("resnet18_v1", {"data": ((1, 3, 224, 224), "normal")}, [0], zoo="resnet18_v1"),
    Model("mobilenetv2_0.25", {"data": ((1, 3, 224, 224), "normal")}, [0], zoo="mobilenetv2_0.25"),
    Model("squeezenet1.1", {"data": ((1, 3, 224, 224), "normal")}, [0], zoo="squeezenet1.1"),
    # The export slices 128 position embeddings; 16 tokens keep the run short (the only change).
    Model("bert_base", {"data": ((2, 16), ("int", 30522)), "token_types": ((2, 16), ("int", 2))}, [], zoo="bert_base",
          patch={'"end": "128"': '"end": "16"'}),
]

VARIANTS = [("float32", "", False)] + [
    (dt, compat, offline) for dt in ("float16", "bfloat16") for compat in ("mxnet2", "mxnet1") for offline in (False, True)
]


def variant_id(v):
    dt, compat, offline = v
    return dt if dt == "float32" else f"{dt}-{compat}-{'offline' if offline else 'runtime'}"


RESULTS = {}  # (model, variant id) -> figures, for the report
PROBE_CACHE = {}  # shared by every graph: (op, attrs, input dtypes and shapes) -> error or None


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = os.environ.get("MIXPREC_ORACLE_WORK")
    if root:
        d = Path(root) / "load_and_run"
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        return d
    return tmp_path_factory.mktemp("load_and_run")


_PREPARED = {}


@pytest.fixture(scope="module")
def prober():
    p = mxe.Prober()
    yield p
    p.close()


def prepare(model, workdir, mx):
    """The FP32 files of `model`, its seeded inputs (saved as .npy for our CLI) and MXNet's FP32
    outputs. Built once per module."""
    if model.name in _PREPARED:
        return _PREPARED[model.name]
    d = workdir / model.name
    d.mkdir(exist_ok=True)
    if model.shared:
        symbol = MXNET_MODELS / f"{model.shared}-symbol.json"
        params = MXNET_MODELS / f"{model.shared}-{model.epoch:04d}.params"
    else:
        run_cli("zoo", model.zoo, "--out-prefix", d / "zoo")
        symbol, params = d / "zoo-symbol.json", d / "zoo-0000.params"
    if model.patch:
        text = symbol.read_text()
        for old, new in model.patch.items():
            assert text.count(old) == 1, f"{model.name}: patch {old!r} must match once"
            text = text.replace(old, new)
        symbol = d / "fp32-symbol.json"
        symbol.write_text(text)
    rng = np.random.RandomState(20261127)
    inputs, files = {}, []
    for name, (shape, kind) in model.inputs.items():
        if kind == "normal":
            x = rng.standard_normal(shape).astype(np.float32)
        else:
            x = rng.randint(0, kind[1], size=shape).astype(np.float32)  # MXNet's Embedding reads float ids
        inputs[name] = x
        np.save(d / f"in_{name}.npy", x)
        files += ["--input", f"{name}={d / f'in_{name}.npy'}"]
    _, fp32_out = run_mxnet(mx, symbol, params, inputs)
    _PREPARED[model.name] = (d, symbol, params, inputs, files, fp32_out)
    return _PREPARED[model.name]


def run_ours(symbol, params, files, out_prefix):
    j = json.loads(run_cli("run", "--symbol", symbol, "--params", params, *files, "--save", out_prefix, "--json").stdout)
    return [np.load(o["saved"]).astype(np.float32) for o in j["outputs"]]


def run_mxnet(mx, symbol, params, inputs):
    """MXNet's outputs for `symbol` with the arrays of `params`, by both routes: Symbol.bind
    (GraphExecutor) and gluon.SymbolBlock.imports (CachedOp). Arguments that are neither params nor
    inputs (loss labels) get zeros."""
    sym = mx.sym.load(str(symbol))
    arg, aux = mxe.split_checkpoint(mx.nd.load(str(params)))
    bound, _ = mxe.bind_forward(mx, sym, arg, aux, inputs)
    names = [n for n in sym.list_arguments() if n not in arg]
    shapes = dict(zip(sym.list_arguments(), sym.infer_shape_partial(**{k: v.shape for k, v in inputs.items()})[0]))
    block = mx.gluon.SymbolBlock.imports(str(symbol), names, str(params))
    out = block(*[mx.nd.array(inputs[n]) if n in inputs else mx.nd.zeros(shapes[n]) for n in names])
    return bound, [mxe.to_f32(mx, o) for o in (out if isinstance(out, (list, tuple)) else [out])]


def top1(a):
    return np.argmax(a, axis=1)


def close(a, b, rtol, atol):
    return np.abs(a.astype(np.float64) - b.astype(np.float64)) <= atol + rtol * np.abs(b.astype(np.float64))


def check(ours, mxnet, dt):
    """Per output, ours against MXNet's output of the same graph: every element within
    atol + rtol * |MXNet| (FP32: rtol 1e-5, atol 1e-5 * max |MXNet|; float16/bfloat16: MXNet's AMP
    test tolerances), and finite."""
    rows = []
    for o, m in zip(ours, mxnet):
        assert o.shape == m.shape, f"shape {o.shape} vs MXNet {m.shape}"
        scale = float(np.max(np.abs(m))) if m.size else 0.0
        rtol, atol = TOL[dt] if TOL[dt] else (FP32_RTOL, FP32_RTOL * scale)
        d = np.abs(o.astype(np.float64) - m.astype(np.float64))
        rows.append({"max_abs": float(d.max()), "max_rel": float(d.max() / scale) if scale else 0.0,
                     "ok": bool(np.all(np.isfinite(o)) and np.all(d <= atol + rtol * np.abs(m.astype(np.float64)))),
                     "rtol": rtol, "atol": atol})
    return rows


def maxdiff(a, b):
    return max(float(np.max(np.abs(x - y))) for x, y in zip(a, b))


@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_load_and_run(model, variant, workdir, mx, prober, request):
    dt, compat, offline = variant
    d, fp32_symbol, fp32_params, inputs, files, fp32_ref = prepare(model, workdir, mx)
    rec = {"model": model.name, "variant": variant_id(variant)}
    RESULTS[(model.name, variant_id(variant))] = rec
    if dt == "float32":
        symbol, params = fp32_symbol, fp32_params
    else:
        prefix = d / variant_id(variant)
        args = ["convert", "--symbol", fp32_symbol, "--params", fp32_params, "--out-prefix", prefix,
                "--target-dtype", dt, "--compat", compat, "--quiet"]
        run_cli(*args, *(["--cast-params-offline"] if offline else []))
        symbol, params = Path(f"{prefix}-symbol.json"), Path(f"{prefix}-{model.epoch:04d}.params")
        if params.stat().st_size > 50_000_000:
            request.addfinalizer(lambda: params.unlink(missing_ok=True))  # BERT's 440 MB, eight times over

    # 1. Loads: the symbol and the arrays, every array in the dtype our inspect reports.
    sym = mx.sym.load(str(symbol))
    loaded = mx.nd.load(str(params))
    ours_dtypes = json.loads(run_cli("inspect", params, "--params", "--json").stdout)["params"]
    assert {k: mxe.dtype_name(v.dtype) for k, v in loaded.items()} == ours_dtypes
    arg, aux = mxe.split_checkpoint(loaded)
    rec["low_params"] = sum(mxe.dtype_name(v.dtype) in mxe.LOW for v in loaded.values())

    # 2. Which nodes MXNet's CPU cannot run in their dtype, each probed alone.
    graph = json.loads(symbol.read_text())
    types = mxe.entry_types(mx, graph, arg, aux, inputs)
    missing = mxe.missing_kernels(prober, graph, types, PROBE_CACHE) if dt != "float32" else {}
    rec["missing"] = sorted({op for op, _ in missing.values()})
    rec["missing_errors"] = {op: err for op, err in missing.values()}
    for op, err in rec["missing_errors"].items():
        assert op in EXPECTED_MISSING[dt] and re.search(EXPECTED_MISSING[dt][op], err), \
            f"MXNet lacks a CPU kernel not recorded: {op} in {dt}: {err}"

    # 3. Runs in MXNet. Where kernels are missing, the graph as written either fails (with one of
    # the recorded errors) or runs and is recorded; what we compare against is the copy with those
    # nodes on MXNet's float32 kernels.
    as_written = None
    if not missing:
        bound, block = run_mxnet(mx, symbol, params, inputs)
        rec["runs"] = "yes"
        rec["mxnet_graph"] = "as written"
    else:
        try:
            as_written, _ = mxe.bind_forward(mx, sym, arg, aux, inputs)
        except mx.base.MXNetError as err:
            assert any(re.search(EXPECTED_MISSING[dt][op], str(err)) for op in rec["missing"]), str(err)[:500]
            rec["runs"] = "no (error)"
        emulated = d / f"{variant_id(variant)}-f32kernels-symbol.json"
        emulated.write_text(json.dumps(mxe.compute_in_float32(graph, set(missing), types)))
        bound, block = run_mxnet(mx, emulated, params, inputs)
        rec["mxnet_graph"] = f"{len(missing)} nodes on MXNet's float32 kernels"

    # MXNet's two routes must agree with each other.
    assert all(r["ok"] for r in check(bound, block, dt)), \
        f"Symbol.bind and SymbolBlock.imports disagree by {maxdiff(bound, block):.3g}"
    references = [("bind", bound), ("SymbolBlock", block)]

    # 4. Our engine on the same inputs.
    ours = run_ours(symbol, params, files, d / f"ours-{variant_id(variant)}")
    assert len(ours) == len(block)
    rows = [(name, k, r) for name, ref in references for k, r in enumerate(check(ours, ref, dt))]
    rec["max_abs"] = max(r["max_abs"] for _, _, r in rows)
    rec["max_rel"] = max(r["max_rel"] for _, _, r in rows)
    rec["within"] = all(r["ok"] for _, _, r in rows)
    rec["ours_vs_fp32"] = maxdiff(ours, fp32_ref)
    rec["mxnet_vs_fp32"] = maxdiff(block, fp32_ref)
    # Reported only: bind with MXNet's default oneDNN fusion (see test_mxnet_default_fusion).
    if rec.get("runs") == "yes":
        fused, _ = mxe.bind_forward(mx, sym, arg, aux, inputs, backend=None)
        rec["fused_vs_ours"] = maxdiff(fused, ours)
    if as_written is not None:
        # It ran without an error: are its values those of the float32-kernel copy?
        same = all(r["ok"] for r in check(as_written, block, dt))
        rec["runs"] = "runs, values agree" if same else (
            f"runs without an error, values wrong: max |MXNet - FP32| {maxdiff(as_written, fp32_ref):.3g} "
            f"(ours {rec['ours_vs_fp32']:.3g})")
    agree = total = 0
    for k in model.classes:
        for _, ref in references:
            agree += int(np.sum(top1(ours[k]) == top1(ref[k])))
            total += top1(ours[k]).size
    rec["top1"] = f"{agree}/{total}" if total else "-"
    for name, k, r in rows:
        assert r["ok"], (f"output {k} vs MXNet ({name}): max |ours - MXNet| {r['max_abs']:.3g}, beyond atol {r['atol']:.3g} + "
                         f"rtol {r['rtol']:.3g} * |MXNet|")
    assert agree == total, f"top-1 differs from MXNet's in {total - agree} of {total}"


def test_missing_kernels_are_as_recorded():
    """Across every converted graph the probe saw exactly the recorded missing CPU kernels."""
    if len([r for r in RESULTS.values() if "missing" in r]) < len(MODELS) * len(VARIANTS):
        pytest.skip("runs only after every load-and-run case has probed its graph")
    seen = {"float16": set(), "bfloat16": set()}
    for rec in RESULTS.values():
        dt = rec["variant"].split("-")[0]
        if dt in seen:
            seen[dt].update(rec.get("missing", []))
    assert seen == {dt: set(ops) for dt, ops in EXPECTED_MISSING.items()}


def _fusion_case(mx, bf16):
    """conv0 -> BatchNorm -> relu -> conv1, out = conv1 + conv0 (a pre-activation residual), with
    its arrays; in bfloat16 the convolutions and the BatchNorm run in bfloat16."""
    data, w0, w1 = mx.sym.var("data"), mx.sym.var("c0_weight"), mx.sym.var("c1_weight")
    low = (lambda s: mx.sym.amp_cast(s, dtype=mxe.BF16)) if bf16 else (lambda s: s)
    c0 = mx.sym.Convolution(low(data), low(w0), num_filter=16, kernel=(3, 3), pad=(1, 1), no_bias=True, name="c0")
    bn = mx.sym.BatchNorm(c0, fix_gamma=False, name="bn")
    relu = mx.sym.Activation(bn, act_type="relu", name="relu")
    c1 = mx.sym.Convolution(relu, low(w1), num_filter=16, kernel=(3, 3), pad=(1, 1), no_bias=True, name="c1")
    out = mx.sym.elemwise_add(c1, c0, name="add")
    rng = np.random.RandomState(1)
    shapes = dict(zip(out.list_arguments(), out.infer_shape(data=(2, 3, 8, 8))[0]))
    arg = {k: mx.nd.array(rng.standard_normal(s).astype(np.float32)) for k, s in shapes.items() if k != "data"}
    aux = {"bn_moving_mean": mx.nd.array(rng.standard_normal(16)), "bn_moving_var": mx.nd.array(rng.uniform(0.5, 2, 16))}
    x = {"data": rng.standard_normal((2, 3, 8, 8)).astype(np.float32)}
    return {"c0": c0, "bn": bn, "relu": relu, "c1": c1, "out": out}, arg, aux, x


def test_mxnet_default_fusion(mx, tmp_path):
    """Why Symbol.bind runs with MXNET_SUBGRAPH_BACKEND=NONE here: with MXNet 1.9.1's default
    oneDNN fusion, bind computes something else than the graph says.
    1. FP32: conv0 -> BatchNorm -> relu is fused although the residual add also reads conv0's raw
       output, which it then gets as relu(BatchNorm(conv0)): out = conv1 + relu(bn(conv0)).
    2. bfloat16: BatchNorm is folded into conv0's weights, which are rounded again; the result is not
       the BatchNorm of conv0's bfloat16 output, rounded (what the graph, SymbolBlock, unfused bind
       and our engine compute).
    Our engine on the same files gives the graph's values."""
    nodes, arg, aux, x = _fusion_case(mx, bf16=False)
    run = lambda s, backend: mxe.bind_forward(mx, s, arg, aux, x, backend)[0][0]
    want = run(nodes["c1"], "NONE") + run(nodes["c0"], "NONE")
    np.testing.assert_allclose(run(nodes["out"], "NONE"), want, rtol=1e-5, atol=1e-4)
    fused = run(nodes["out"], None)
    np.testing.assert_allclose(fused, run(nodes["c1"], "NONE") + run(nodes["relu"], "NONE"), rtol=1e-5, atol=1e-4)
    assert np.abs(fused - want).max() > 1.0
    nodes["out"].save(str(tmp_path / "fp32-symbol.json"))
    mx.nd.save(str(tmp_path / "fp32-0000.params"), {**{f"arg:{k}": v for k, v in arg.items()},
                                                     **{f"aux:{k}": v for k, v in aux.items()}})
    _, block = run_mxnet(mx, tmp_path / "fp32-symbol.json", tmp_path / "fp32-0000.params", x)
    np.testing.assert_allclose(block[0], want, rtol=1e-5, atol=1e-4)
    np.save(tmp_path / "x.npy", x["data"])
    feed = ["--input", f"data={tmp_path / 'x.npy'}"]
    ours = run_ours(tmp_path / "fp32-symbol.json", tmp_path / "fp32-0000.params", feed, tmp_path / "fp32")
    np.testing.assert_allclose(ours[0], want, rtol=1e-5, atol=1e-4)

    nodes, arg, aux, x = _fusion_case(mx, bf16=True)
    conv = mxe.bind_forward(mx, nodes["c0"], arg, aux, x)[0][0].astype(np.float64)
    g, b = arg["bn_gamma"].asnumpy(), arg["bn_beta"].asnumpy()
    m, v = aux["bn_moving_mean"].asnumpy(), aux["bn_moving_var"].asnumpy()
    c = (slice(None), None, None)
    exact = bf16_round((conv - m[c]) / np.sqrt(v[c] + 1e-3) * g[c] + b[c])
    unfused, fused = (mxe.bind_forward(mx, nodes["bn"], arg, aux, x, backend)[0][0] for backend in ("NONE", None))
    np.testing.assert_array_equal(unfused, exact)
    assert np.sum(fused != exact) > fused.size // 4
    # MXNet's save drops amp_cast nodes unless told not to (remove_amp_cast=True by default).
    mx.sym.amp_cast(nodes["bn"], dtype="float32").save(str(tmp_path / "bf16-symbol.json"), remove_amp_cast=False)
    mx.nd.save(str(tmp_path / "bf16-0000.params"), {**{f"arg:{k}": v for k, v in arg.items() if k.startswith(("c0", "bn"))},
                                                     **{f"aux:{k}": v for k, v in aux.items()}})
    ours = run_ours(tmp_path / "bf16-symbol.json", tmp_path / "bf16-0000.params", feed, tmp_path / "bf16")
    np.testing.assert_array_equal(ours[0], exact)


def bf16_round(a):
    """float -> bfloat16, round to nearest even (NaN-free input), as float32."""
    u = a.astype(np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return (u.astype(np.uint32) << 16).view(np.float32)


def test_module_api(mx, workdir):
    """The converted checkpoints also load through 1.9.1's Module API (bind from the symbol's own
    type inference, then set_params), and run where MXNet has the kernels (bfloat16)."""
    model = MODELS[0]
    d, fp32_symbol, fp32_params, inputs, _, _ = prepare(model, workdir, mx)
    failures = []
    for dt, compat, offline in VARIANTS[1:]:
        prefix = d / f"module-{variant_id((dt, compat, offline))}"
        run_cli("convert", "--symbol", fp32_symbol, "--params", fp32_params, "--out-prefix", prefix, "--target-dtype", dt,
                "--compat", compat, "--quiet", *(["--cast-params-offline"] if offline else []))
        sym, arg, aux = mx.model.load_checkpoint(str(prefix), model.epoch)
        try:
            mod = mx.mod.Module(sym, data_names=["data"], label_names=None, context=mx.cpu())
            mod.bind(data_shapes=[("data", inputs["data"].shape)], for_training=False)
            mod.set_params(arg, aux)
            if dt == "bfloat16":
                mod.forward(mx.io.DataBatch([mx.nd.array(inputs["data"])]), is_train=False)
                mod.get_outputs()[0].wait_to_read()
        except (mx.base.MXNetError, RuntimeError) as e:  # simple_bind re-raises as RuntimeError
            failures.append((variant_id((dt, compat, offline)), str(e)))
    # mxnet2 rules with offline params keep the variables' `__dtype__` ("0", float32, from the
    # Gluon export) beside `__amp_dtype__`, as MXNet 2.x's pass does; Module's type inference reads
    # `__dtype__` and refuses the float16/bfloat16 arrays. See the report of issue 9.
    assert [v for v, _ in failures] == ["float16-mxnet2-offline", "bfloat16-mxnet2-offline"], [f[:300] for f in failures]
    assert all("requires uniform type" in why for _, why in failures), failures


def test_report(workdir, capsys):
    """Writes the table of every case (also printed)."""
    if not RESULTS:
        pytest.skip("no load-and-run case ran")
    lines = ["| model | variant | loads (sym+nd, imports) | runs as written | MXNet graph compared | max abs diff | "
             "max diff / max abs | within tol | top-1 | ours vs FP32 | MXNet vs FP32 |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for rec in RESULTS.values():
        if "max_abs" not in rec:
            lines.append(f"| {rec['model']} | {rec['variant']} | failed before the comparison | | | | | | | | |")
            continue
        runs = rec["runs"] + (" (no kernel: " + ", ".join(rec["missing"]) + ")" if rec["missing"] else "")
        within = "yes" if rec["within"] else "NO"
        lines.append(f"| {rec['model']} | {rec['variant']} | yes, yes | {runs} | {rec['mxnet_graph']} | "
                     f"{rec['max_abs']:.3g} | {rec['max_rel']:.3g} | {within} | {rec['top1']} | "
                     f"{rec['ours_vs_fp32']:.3g} | {rec['mxnet_vs_fp32']:.3g} |")
    lines.append("")
    for dt in ("float16", "bfloat16"):
        errs = {}
        for rec in RESULTS.values():
            if rec["variant"].startswith(dt):
                errs.update(rec.get("missing_errors", {}))
        for op, err in sorted(errs.items()):
            lines.append(f"- {dt} {op}: {err}")
    table = "\n".join(lines)
    (workdir / "load_and_run.md").write_text(table + "\n")
    (workdir / "load_and_run.json").write_text(json.dumps(list(RESULTS.values()), indent=1))
    with capsys.disabled():
        print("\n" + table)
