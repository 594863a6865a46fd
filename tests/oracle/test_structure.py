"""Structure oracle (issue 9, item 2): MXNet 1.9.1's own `amp.convert_model` against our
`mixprec convert --compat mxnet1`, on the same files, for every shared MXNet model and zoo network,
float16 and bfloat16, default lists and each override. Both must build the same graph (named nodes
with the same op, attributes and inputs; every cast in the same place with the same dtype; the same
outputs) and the same params (names, dtype codes, shapes and raw bits).

Where MXNet 1.9.1 and we differ by design (README "Deliberate differences from MXNet"), a separate
test shows both outputs and asserts exactly that difference.
"""
import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

import graph_compare as gc
from conftest import CLI, MXNET_MODELS, SHARED_MODELS, run_cli

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # MXNet 1.9.1 on numpy 1.23

DTYPES = ("float16", "bfloat16")
OVERRIDES = ("default", "target_dtype_ops", "fp32_ops", "conditional_fp32_ops", "excluded_sym_names",
             "cast_optional_params")
ZOO = ("resnet18_v1", "resnet50_v1", "resnet50_v2", "mobilenet1.0", "mobilenetv2_1.0", "squeezenet1.0",
       "densenet121", "inceptionv3", "vgg11", "bert_base")
# The apache/mxnet format fixtures that are whole graphs; their params are made here, from the
# shapes MXNet infers for this data shape (the fixtures ship without weights). legacy_ndarray.v0 is
# a params list with no graph, so it has nothing to convert.
FIXTURES = {
    "mlp-test-symbol": (2, 784),
    "save_000800": (2, 100),
    "test_mkldnn_model_model1": (1, 3, 32, 32),
}


@dataclass
class Model:
    name: str
    symbol: Path
    params: Path


# --- the models -----------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def work_root(tmp_path_factory):
    """MIXPREC_ORACLE_WORK/structure (ctest sets it under the build folder); the outputs stay there
    for inspection. The zoo models made there are kept only while the CLI binary that wrote them is
    unchanged (a stamp holds its hash), so a rebuilt CLI always gets its own zoo."""
    root = os.environ.get("MIXPREC_ORACLE_WORK")
    if not root:
        return tmp_path_factory.mktemp("structure")
    path = Path(root) / "structure"
    stamp = path / "cli.sha256"
    cli_hash = hashlib.sha256(Path(CLI).read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text() != cli_hash:
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        stamp.write_text(cli_hash)
    return path


def _shared_model(prefix, epoch):
    return Model(Path(prefix).name, MXNET_MODELS / f"{prefix}-symbol.json",
                 MXNET_MODELS / f"{prefix}-{epoch:04d}.params")


def _fixture_model(mx, name, data_shape, root):
    """Gives a params-less apache fixture seeded weights of the shapes MXNet infers."""
    symbol = MXNET_MODELS / "apache_mxnet_test_fixtures" / f"{name}.json"
    params = root / f"{name}-0000.params"
    if not params.exists():
        sym = mx.sym.load(str(symbol))
        arg_shapes, _, aux_shapes = sym.infer_shape(data=data_shape)
        rng = np.random.default_rng(0)
        saved = {}
        for kind, names, shapes in (("arg", sym.list_arguments(), arg_shapes),
                                    ("aux", sym.list_auxiliary_states(), aux_shapes)):
            for n, shape in zip(names, shapes):
                if n == "data" or n.endswith("_label"):
                    continue
                saved[f"{kind}:{n}"] = mx.nd.array(rng.normal(0, 0.1, shape).astype(np.float32))
        mx.nd.save(f"{params}.tmp", saved)
        os.replace(f"{params}.tmp", params)  # whole or absent
    return Model(name, symbol, params)


def _zoo_model(mx, name, root):
    """Writes a zoo network with `mixprec zoo`, then keeps only the first 4 values of each param.

    Structure and param dtypes do not depend on param shapes (neither converter infers shapes), and
    the full files (VGG-11 531 MB, BERT-base 438 MB) would make each conversion of this file cost
    seconds of disk traffic. The kept values are real zoo weights, so their rounding is still
    compared bit for bit."""
    prefix = root / name
    symbol, params = Path(f"{prefix}-symbol.json"), Path(f"{prefix}-0000.params")
    if not params.exists():
        full = root / f"{name}.full"
        run_cli("zoo", name, "--out-prefix", full)
        arrays = mx.nd.load(f"{full}-0000.params")
        os.replace(f"{full}-symbol.json", symbol)
        # The params file comes last and whole (renamed into place): its presence means done.
        mx.nd.save(f"{full}.cut.params", {k: v.reshape(-1)[:4].copy() for k, v in arrays.items()})
        os.replace(f"{full}.cut.params", params)
        os.remove(f"{full}-0000.params")
    return Model(name, symbol, params)


MODEL_NAMES = ([Path(p).name for p, _, _ in SHARED_MODELS] + list(FIXTURES) + list(ZOO))


@pytest.fixture(scope="session")
def models(mx, work_root):
    """name -> Model, made on first use."""
    made = {}

    def get(name):
        if name not in made:
            shared = {Path(p).name: (p, e) for p, e, _ in SHARED_MODELS}
            if name in shared:
                made[name] = _shared_model(*shared[name])
            elif name in FIXTURES:
                made[name] = _fixture_model(mx, name, FIXTURES[name], work_root)
            else:
                made[name] = _zoo_model(mx, name, work_root)
        return made[name]

    return get


# --- the overrides --------------------------------------------------------------------------------

def _ops_in_order(graph):
    return [(n["op"], n["name"]) for n in graph["nodes"] if n["op"] != "null"]


def override_options(override, graph):
    """The convert_model keyword arguments of one override, chosen so that it changes something in
    this graph when it can. Every op named is in MXNet 1.9.1's default lists for both dtypes and in
    no other list the call leaves at its default (MXNet asserts both)."""
    ops = _ops_in_order(graph)
    present = {op for op, _ in ops}
    if override == "default":
        return {}
    if override == "target_dtype_ops":
        # One usual target op, plus a neutral op promoted to target (Pooling after Convolution,
        # tanh in BERT's pooler); the target op left out becomes neutral.
        main = "Convolution" if "Convolution" in present else "FullyConnected"
        extra = [op for op in ("Pooling", "tanh") if op in present][:1]
        return {"target_dtype_ops": [main] + extra}
    if override == "fp32_ops":
        # Replaces the whole float32 list: softmax & co. become neutral, Pooling/tanh float32.
        return {"fp32_ops": [op for op in ("Pooling", "tanh") if op in present] or ["Pooling"]}
    if override == "conditional_fp32_ops":
        return {"conditional_fp32_ops": [("Activation", "act_type", ["relu"]),
                                         ("LeakyReLU", "act_type", ["prelu", "gelu"])]}
    if override == "excluded_sym_names":
        # The first target-type node, the first widest-type node and the last target-type node.
        target = [name for op, name in ops if op in ("Convolution", "FullyConnected")]
        widest = [name for op, name in ops if op in ("elemwise_add", "Concat", "broadcast_add", "batch_dot")]
        return {"excluded_sym_names": list(dict.fromkeys(target[:1] + widest[:1] + target[-1:]))}
    if override == "cast_optional_params":
        return {"cast_optional_params": True}
    raise ValueError(override)


def cli_arguments(options):
    """Our command-line spelling of convert_model keyword arguments."""
    args = []
    for key, value in options.items():
        if key == "target_dtype_ops":
            args += ["--target-dtype-ops", ",".join(value)]
        elif key == "fp32_ops":
            args += ["--fp32-ops", ",".join(value)]
        elif key == "conditional_fp32_ops":
            args += ["--conditional-fp32-ops", ",".join(f"{op}:{attr}:{'|'.join(vals)}" for op, attr, vals in value)]
        elif key == "excluded_sym_names":
            args += ["--excluded-sym-names", ",".join(value)]
        elif key == "cast_optional_params":
            args += ["--cast-params-offline"] if value else []
        else:
            raise ValueError(key)
    return args


# --- both conversions -----------------------------------------------------------------------------

def load_model(mx, model):
    """Symbol and arg/aux dicts as MXNet's load_checkpoint splits them."""
    sym = mx.sym.load(str(model.symbol))
    arg, aux = {}, {}
    for key, value in mx.nd.load(str(model.params)).items():
        kind, name = key.split(":", 1)
        (arg if kind == "arg" else aux)[name] = value
    return sym, arg, aux


def mxnet_convert(mx, model, dtype, options):
    from mxnet.contrib import amp

    sym, arg, aux = load_model(mx, model)
    kwargs = dict(options)
    if "conditional_fp32_ops" in kwargs:  # MXNet wants lists, not tuples, for the values
        kwargs["conditional_fp32_ops"] = [(op, attr, list(v)) for op, attr, v in kwargs["conditional_fp32_ops"]]
    out_sym, out_arg, out_aux = amp.convert_model(sym, arg, aux, target_dtype=dtype, **kwargs)
    return out_sym.tojson(remove_amp_cast=False), out_arg, out_aux


def our_convert(mx, model, dtype, options, out_prefix):
    """Runs our CLI; returns the written graph as MXNet reads it back (the same serialiser as the
    oracle's side, so layout differences cannot count), the raw JSON, and the params MXNet reads."""
    run_cli("convert", "--symbol", model.symbol, "--params", model.params, "--out-prefix", out_prefix,
            "--compat", "mxnet1", "--target-dtype", dtype, "--quiet", *cli_arguments(options))
    symbol_file = f"{out_prefix}-symbol.json"
    raw = Path(symbol_file).read_text()
    normalised = mx.sym.load(symbol_file).tojson(remove_amp_cast=False)
    epoch = model.params.name.rsplit("-", 1)[1]
    arrays = mx.nd.load(f"{out_prefix}-{epoch}")
    arg = {k[4:]: v for k, v in arrays.items() if k.startswith("arg:")}
    aux = {k[4:]: v for k, v in arrays.items() if k.startswith("aux:")}
    return normalised, raw, arg, aux


# --- params ---------------------------------------------------------------------------------------

def dtype_code(mx, array):
    """MXNet's type code of an NDArray (0 float32, 2 float16, 12 bfloat16, ...). In MXNet 1.9.1 a
    bfloat16 array's numpy dtype is the structured [('bfloat16', '<u2')], not a float type, so the
    code is looked up in MXNet's own table rather than derived from numpy."""
    from mxnet.ndarray.ndarray import _DTYPE_NP_TO_MX

    return _DTYPE_NP_TO_MX[array.dtype]


def raw_bits(array):
    """The stored bytes of an array, whatever its dtype (asnumpy of a bfloat16 array gives the
    structured uint16 view, whose bytes are the bfloat16 bits)."""
    return np.ascontiguousarray(array.asnumpy()).view(np.uint8).tobytes()


def param_differences(mx, expected, actual, kind):
    diffs = []
    for name in sorted(expected.keys() - actual.keys()):
        diffs.append(f"{kind} param {name!r} is missing")
    for name in sorted(actual.keys() - expected.keys()):
        diffs.append(f"extra {kind} param {name!r}")
    for name in sorted(expected.keys() & actual.keys()):
        e, a = expected[name], actual[name]
        if dtype_code(mx, e) != dtype_code(mx, a):
            diffs.append(f"{kind} param {name!r}: dtype code {dtype_code(mx, a)}, expected {dtype_code(mx, e)}")
        elif e.shape != a.shape:
            diffs.append(f"{kind} param {name!r}: shape {a.shape}, expected {e.shape}")
        elif raw_bits(e) != raw_bits(a):
            diffs.append(f"{kind} param {name!r}: values differ in their bits")
    return diffs


# --- the comparison -------------------------------------------------------------------------------

# What our CLI says when MXNet 1.x's rules give a graph whose types disagree (README: refused where
# MXNet 1.9.1 raises, or returns a graph its own infer_type rejects).
OUR_REFUSAL = "MXNet 1.x rules give a graph whose types disagree"


@dataclass
class Outcome:
    graph: list  # structural differences
    params: list  # param differences
    names: list  # (MXNet's name, ours) of casts that match but are named differently
    dead_nodes: int  # nodes of our file that no output reaches (MXNet's serialiser drops them)
    casts: int  # casts (amp_cast + amp_multicast) in MXNet's graph
    raw_graph: list = field(default_factory=list)  # differences of our file as written (before MXNet's loader)
    mxnet_refusal: str = ""  # why MXNet gave no usable graph ("" when it did)
    our_refusal: str = ""  # our CLI's error ("" when it converted)


def data_names(mx, model):
    """The graph inputs the params file does not hold (data and labels), as convert_model finds them."""
    params = {k.split(":", 1)[1] for k in mx.nd.load(str(model.params))}
    return [n for n in mx.sym.load(str(model.symbol)).list_inputs() if n not in params]


def mxnet_refusal(mx, model, dtype, options):
    """MXNet's conversion, or the reason it gives no usable graph: convert_model raises, or returns a
    graph that its own infer_type rejects with the data inputs float32 (as MXNet 1.x types them)."""
    try:
        converted = mxnet_convert(mx, model, dtype, options)
    except mx.base.MXNetError as e:
        return None, "convert_model raises: " + str(e).strip().splitlines()[0]
    try:
        mx.sym.load_json(converted[0]).infer_type(**{n: "float32" for n in data_names(mx, model)})
    except mx.base.MXNetError as e:
        return converted, "its graph fails MXNet's infer_type: " + str(e).strip().splitlines()[0]
    return converted, ""


def convert_both(mx, model, dtype, override, out_prefix):
    options = override_options(override, json.loads(model.symbol.read_text()))
    converted, refusal = mxnet_refusal(mx, model, dtype, options)
    if refusal:
        p = run_cli("convert", "--symbol", model.symbol, "--params", model.params, "--out-prefix", out_prefix,
                    "--compat", "mxnet1", "--target-dtype", dtype, "--quiet", *cli_arguments(options), check=False)
        return Outcome(graph=[], params=[], names=[], dead_nodes=0, casts=0, mxnet_refusal=refusal,
                       our_refusal=p.stderr.strip() if p.returncode == 1 else "")
    theirs, their_arg, their_aux = converted
    ours, raw, our_arg, our_aux = our_convert(mx, model, dtype, options, out_prefix)
    expected, actual = gc.structure_of(theirs), gc.structure_of(ours)
    return Outcome(
        graph=gc.compare(expected, actual),
        params=param_differences(mx, their_arg, our_arg, "arg") + param_differences(mx, their_aux, our_aux, "aux"),
        names=gc.cast_name_differences(expected, actual),
        dead_nodes=len(json.loads(raw)["nodes"]) - len(json.loads(ours)["nodes"]),
        casts=sum(expected.casts.values()),
        raw_graph=[f"as written: {d}" for d in gc.compare(expected, gc.structure_of(raw))],
    )


CASES = [(m, d, o) for m in MODEL_NAMES for d in DTYPES for o in OVERRIDES]


@pytest.mark.parametrize("model_name,dtype,override", CASES, ids=["-".join(c) for c in CASES])
def test_same_structure_as_mxnet(mx, models, work_root, model_name, dtype, override):
    """Where MXNet 1.9.1 converts, we build the same graph and params; where it gives no usable graph
    (MXNet 1.x's rules make an op's input types disagree), we refuse with an error instead."""
    out = convert_both(mx, models(model_name), dtype, override, work_root / f"{model_name}.{dtype}.{override}")
    record(model_name, dtype, override, out)
    if out.mxnet_refusal:
        assert OUR_REFUSAL in out.our_refusal, (
            f"MXNet 1.9.1 gives no usable graph ({out.mxnet_refusal}), but our CLI "
            f"{'failed otherwise: ' + out.our_refusal if out.our_refusal else 'converted it'}")
        return
    problems = out.graph + out.params + out.raw_graph
    if out.dead_nodes:
        problems.append(f"our file holds {out.dead_nodes} node(s) that no output reaches")
    assert not problems, f"{len(problems)} difference(s) from MXNet 1.9.1:\n" + "\n".join(problems[:40])


# --- the table for the closing note ---------------------------------------------------------------

_TABLE = {}


def record(model_name, dtype, override, out):
    """One row of the table: the verdict, MXNet's cast count, how many cast names differ, and the
    first differences (or both refusals)."""
    if out.mxnet_refusal:
        verdict = "both refuse" if OUR_REFUSAL in out.our_refusal else "no"
        first = [f"MXNet: {out.mxnet_refusal[:160]}", f"ours: {out.our_refusal[:200] or 'converted'}"]
    else:
        verdict = "no" if (out.graph or out.params or out.raw_graph or out.dead_nodes) else "yes"
        first = (out.graph + out.params + out.raw_graph)[:3]
    _TABLE[(model_name, dtype, override)] = (verdict, out.casts, len(out.names), first)


@pytest.fixture(scope="module", autouse=True)
def write_table(work_root):
    """Writes structure_table.md (model x dtype x override -> same structure) after the module."""
    yield
    if not _TABLE:
        return
    lines = ["| model | dtype | override | same structure | MXNet casts | cast names differing | first difference |",
             "|---|---|---|---|---|---|---|"]
    for (m, d, o), (verdict, casts, names, first) in _TABLE.items():
        lines.append(f"| {m} | {d} | {o} | {verdict} | {casts} | {names} | {'; '.join(first).replace('|', '/')} |")
    (work_root / "structure_table.md").write_text("\n".join(lines) + "\n")


# --- convert_hybrid_block on a SymbolBlock ---------------------------------------------------------

HYBRID_MODELS = [Path(p).name for p, _, _ in SHARED_MODELS] + ["squeezenet1.0"]


@pytest.mark.filterwarnings("ignore:Cannot decide type:UserWarning")  # SymbolBlock on its labels
@pytest.mark.parametrize("model_name", HYBRID_MODELS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("override", ["default", "cast_optional_params"])
def test_hybrid_block_same_structure(mx, models, work_root, model_name, dtype, override):
    """Gluon's route to the same pass: `SymbolBlock.imports` of the FP32 files, then
    `amp.convert_hybrid_block`; its symbol and the values of its Parameters must equal our files."""
    from mxnet.contrib import amp

    model = models(model_name)
    options = override_options(override, json.loads(model.symbol.read_text()))
    block = mx.gluon.SymbolBlock.imports(str(model.symbol), data_names(mx, model), str(model.params), ctx=mx.cpu())
    converted = amp.convert_hybrid_block(block, target_dtype=dtype, ctx=mx.cpu(), **options)
    theirs = converted._cached_graph[1].tojson(remove_amp_cast=False)
    their_params = {name: p.data() for name, p in converted.collect_params().items()}
    ours, _, our_arg, our_aux = our_convert(mx, model, dtype, options, work_root / f"{model_name}.{dtype}.{override}.hybrid")
    problems = gc.compare(gc.structure_of(theirs), gc.structure_of(ours))
    problems += param_differences(mx, their_params, {**our_arg, **our_aux}, "block")
    assert not problems, f"{len(problems)} difference(s) from convert_hybrid_block:\n" + "\n".join(problems[:40])


# --- deliberate differences (README), each shown on both outputs ----------------------------------

def test_index_inputs_are_never_cast(mx, models, work_root):
    """Embedding in the target list: MXNet 1.9.1 casts the token ids to float16 (ids above 2048 then
    change); we leave them as they are. That is the whole difference: the weights, the Embedding's
    float32 output (its dtype attribute) and everything downstream are the same."""
    model = models("bert_base")
    options = {"target_dtype_ops": ["FullyConnected", "Embedding"]}
    theirs, their_arg, _ = mxnet_convert(mx, model, "float16", options)
    ours, _, our_arg, _ = our_convert(mx, model, "float16", options, work_root / "bert_base.embedding_target")
    expected, actual = gc.structure_of(theirs), gc.structure_of(ours)
    ids = {"bertmodel0_word_embed_embedding0_fwd": "data", "bertmodel0_token_type_embed_embedding0_fwd": "token_types"}
    for node, var in ids.items():
        assert expected.nodes[node][2][0] == (("amp_cast", "float16", (var, 0)), 0)  # MXNet: cast ids
        assert actual.nodes[node][2][0] == (var, 0)  # ours: the ids themselves
    assert sorted(gc.compare(expected, actual)) == sorted(
        [f"{node}: input 0 is {var}[0], expected amp_cast<float16>({var}[0])[0]" for node, var in ids.items()]
        + [f"amp_cast<float16>({var}[0]): 1 such node(s) expected, 0 found" for var in ids.values()])
    assert param_differences(mx, their_arg, our_arg, "arg") == []


def test_loss_op_in_target_list_is_refused(mx, models, work_root):
    """SoftmaxOutput moved to the target list: MXNet 1.9.1 casts its label (a class index) to float16;
    we never cast labels, and a float16 SoftmaxOutput beside a float32 label does not type in MXNet,
    so the 1.x rules refuse the conversion, naming the op and the label."""
    model = models("mlp-test-symbol")
    options = {"target_dtype_ops": ["FullyConnected", "SoftmaxOutput"], "fp32_ops": []}
    theirs, _, _ = mxnet_convert(mx, model, "float16", options)
    assert gc.structure_of(theirs).nodes["softmax"][2][1] == (("amp_cast", "float16", ("softmax_label", 0)), 0)
    p = run_cli("convert", "--symbol", model.symbol, "--params", model.params, "--out-prefix",
                work_root / "mlp.softmax_target", "--compat", "mxnet1", *cli_arguments(options), check=False)
    assert p.returncode == 1, p.stderr
    assert "node 'softmax' (SoftmaxOutput)" in p.stderr and "input 1 (softmax_label) is float32" in p.stderr
    assert "labels are never cast" in p.stderr


def test_param_beyond_float16_range_stays_float32(mx, models, work_root):
    """cast_optional_params with an FC weight holding 1e5: MXNet 1.9.1 stores it in float16, where it
    is inf, wired straight into the FC. We keep it float32 with a runtime cast (inf only at run time,
    and a warning names it); nothing else differs."""
    base = models("cifar_resnet20_v1")
    sym, arg, aux = load_model(mx, base)
    weight = "cifarresnetv10_dense0_weight"
    values = arg[weight].asnumpy()
    values[0, 0] = 1e5
    arg[weight] = mx.nd.array(values)
    prefix = work_root / "cifar_big_weight"
    mx.nd.save(f"{prefix}-0000.params", {**{f"arg:{k}": v for k, v in arg.items()},
                                          **{f"aux:{k}": v for k, v in aux.items()}})
    model = Model("cifar_big_weight", base.symbol, Path(f"{prefix}-0000.params"))
    options = {"cast_optional_params": True}
    theirs, their_arg, their_aux = mxnet_convert(mx, model, "float16", options)
    assert np.isinf(their_arg[weight].asnumpy()[0, 0])
    p = run_cli("convert", "--symbol", model.symbol, "--params", model.params, "--out-prefix", f"{prefix}.out",
                "--compat", "mxnet1", "--cast-params-offline")
    assert f"param '{weight}' holds values beyond the float16 range" in p.stderr
    ours = mx.sym.load(f"{prefix}.out-symbol.json")
    arrays = mx.nd.load(f"{prefix}.out-0000.params")
    our_arg = {k[4:]: v for k, v in arrays.items() if k.startswith("arg:")}
    diffs = gc.compare(gc.structure_of(theirs), gc.structure_of(ours.tojson(remove_amp_cast=False)))
    assert sorted(diffs) == sorted([
        f"cifarresnetv10_dense0_fwd: input 1 is amp_cast<float16>({weight}[0])[0], expected {weight}[0]",
        f"{weight}: attribute __dtype__ = '0', expected '2'",
        f"amp_cast<float16>({weight}[0]): 0 such node(s) expected, 1 found"])
    assert param_differences(mx, their_arg, our_arg, "arg") == [f"arg param {weight!r}: dtype code 0, expected 2"]
    ours.infer_type(data="float32")  # and MXNet can type our graph


def test_widest_dtype_ops_override_is_wired(mx, models, work_root):
    """MXNet 1.9.1 documents widest_dtype_ops but no function accepts it; our --widest-dtype-ops
    works. With MXNet's own default list passed explicitly we build MXNet's graph; without
    broadcast_add in it, BERT's position-embedding add becomes neutral and loses its multicast,
    and nothing else changes."""
    from mxnet.contrib import amp

    model = models("bert_base")
    sym, arg, aux = load_model(mx, model)
    with pytest.raises(TypeError):
        amp.convert_model(sym, arg, aux, target_dtype="float16", widest_dtype_ops=["Concat"])
    theirs = gc.structure_of(mxnet_convert(mx, model, "float16", {})[0])
    default = sorted(set(amp.list_widest_type_cast("float16")))

    def ours(widest, tag):
        prefix = work_root / f"bert.widest.{tag}"
        run_cli("convert", "--symbol", model.symbol, "--params", model.params, "--out-prefix", prefix,
                "--compat", "mxnet1", "--widest-dtype-ops", ",".join(widest), "--quiet")
        return gc.structure_of(mx.sym.load(f"{prefix}-symbol.json").tojson(remove_amp_cast=False))

    assert gc.compare(theirs, ours(default, "default")) == []
    add, sources = "bertencoder0_broadcast_add0", "bertmodel0__plus0[0], bertencoder0_expand_dims0[0]"
    changed = gc.compare(theirs, ours([op for op in default if op not in ("broadcast_add", "broadcast_plus")], "no_badd"))
    assert sorted(changed) == sorted([
        f"{add}: input 0 is bertmodel0__plus0[0], expected amp_multicast({sources})[0]",
        f"{add}: input 1 is bertencoder0_expand_dims0[0], expected amp_multicast({sources})[1]",
        f"amp_multicast({sources}): 1 such node(s) expected, 0 found"])


def test_our_files_keep_their_casts(mx, models, work_root):
    """MXNet's tojson/save strip amp_cast and amp_multicast unless told not to (remove_amp_cast=True
    rewires their consumers; only the casts that are graph outputs stay); our writer keeps them all,
    so the file holds the graph convert_model built."""
    model = models("det4")
    theirs, _, _ = mxnet_convert(mx, model, "float16", {})
    ours, raw, _, _ = our_convert(mx, model, "float16", {}, work_root / "det4.casts_kept")
    stripped = json.loads(mx.sym.load_json(theirs).tojson())  # MXNet's default
    output_casts = {h[0] for h in stripped["heads"] if stripped["nodes"][h[0]]["op"] in gc.CAST_OPS}
    count = lambda graph: sum(n["op"] in gc.CAST_OPS for n in graph["nodes"])
    assert count(stripped) == len(output_casts) == 5  # det4's five heads
    assert count(json.loads(raw)) == count(json.loads(theirs)) == 62  # 57 to float16, 5 back (reference table)
