"""Formats oracle (issue 9, item 4): the .params and symbol JSON files we write are read back by
MXNet 1.9.1 with identical values, and the files MXNet writes are read by us with identical values
and graphs.

Values are compared byte for byte: MXNet's arrays as numpy bytes (bfloat16 as its uint16 storage)
against what we wrote, and our reading through `mixprec inspect --checksums` (the CRC-32 of each
array's stored bytes) against zlib.crc32 of MXNet's. Our writer is driven through every dtype,
array format and name mode by the test-only build/mixprec_params_tool (tests/tools/params_tool.cpp),
since the CLI only ever writes V2 named checkpoints; `mixprec convert` and `mixprec zoo` outputs are
checked as well."""
import json
import zlib
from pathlib import Path

import numpy as np
import pytest

import mxnet_exec as mxe
from conftest import CLI, MXNET_MODELS, cli_json, run_cli

TOOL = Path(CLI).parent / "mixprec_params_tool" if CLI else None
FORMATS = ["legacy", "v1", "v2", "v3"]
MAGIC = {"v1": "c8fa93f9", "v2": "c9fa93f9", "v3": "cafa93f9"}
# dtype code -> name (mshadow's TypeFlag); 8-11 came with MXNet 2.x.
CODES = {0: "float32", 1: "float64", 2: "float16", 3: "uint8", 4: "int32", 5: "int8", 6: "int64", 7: "bool",
         8: "int16", 9: "uint16", 10: "uint32", 11: "uint64", 12: "bfloat16"}
MXNET1_CODES = [0, 1, 2, 3, 4, 5, 6, 7, 12]
SIZE = {"float32": 4, "float64": 8, "float16": 2, "uint8": 1, "int32": 4, "int8": 1, "int64": 8, "bool": 1,
        "int16": 2, "uint16": 2, "uint32": 4, "uint64": 8, "bfloat16": 2}


def tool(*args):
    import subprocess

    assert TOOL is not None and TOOL.exists(), f"{TOOL} is not built (it is part of the test build)"
    p = subprocess.run([str(TOOL), *map(str, args)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


def pattern_bytes(code):
    """The bytes mixprec_params_tool `pattern` stores for dtype `code` (see tests/tools/params_tool.cpp)."""
    n = 10 * SIZE[CODES[code]]
    k = np.arange(n)
    if CODES[code] == "bool":
        return (k % 3 == 0).astype(np.uint8).tobytes()
    return ((131 * k + 7 * code + 1) & 0xFF).astype(np.uint8).tobytes()


def raw(arr):
    """An MXNet array's stored bytes (bfloat16: its uint16 storage)."""
    return np.ascontiguousarray(arr.asnumpy()).tobytes()


def ours(*files):
    """Our reading: stored name -> (dtype, shape, crc32), in file order."""
    j = cli_json("inspect", *map(str, files), "--checksums")
    return {p["name"]: (p["dtype"], tuple(p["shape"]), p["crc32"]) for p in j["param_list"]}


def load(mx, path, v3=False):
    if v3:
        with mx.util.np_shape(True):
            return mx.nd.load(str(path))
    return mx.nd.load(str(path))


# ---- params we write, read by MXNet --------------------------------------------------------------

@pytest.mark.parametrize("named", [True, False], ids=["named", "nameless"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_mxnet_reads_params_we_write(mx, tmp_path, fmt, named):
    """Every dtype MXNet 1.9.1 has, in every array format, named and nameless: MXNet reads the
    bytes we wrote, and so do we."""
    path = tmp_path / "p.params"
    tool("pattern", path, "--format", fmt, "--codes", ",".join(map(str, MXNET1_CODES)), *([] if named else ["--nameless"]))
    data = path.read_bytes()
    if fmt in MAGIC:
        assert data[24:28].hex() == MAGIC[fmt]
    else:
        assert data[24:28] == (2).to_bytes(4, "little")  # legacy: the first word is ndim
    loaded = load(mx, path, v3=fmt == "v3")
    names = [f"arg:{CODES[c]}" for c in MXNET1_CODES] + (["arg:scalar"] if fmt == "v3" else [])
    if named:
        assert list(loaded) == names
        arrays = [loaded[n] for n in names]
    else:
        assert isinstance(loaded, list) and len(loaded) == len(names)
        arrays = loaded
    for code, a in zip(MXNET1_CODES, arrays):
        assert mxe.dtype_name(a.dtype) == CODES[code] and a.shape == (2, 5), code
        assert raw(a) == pattern_bytes(code), CODES[code]
    if fmt == "v3":
        assert arrays[-1].shape == () and arrays[-1].asnumpy() == np.float32(2.5)
    mine = ours(path)
    keys = names if named else [f"#{k}" for k in range(len(names))]
    assert list(mine) == keys
    for code, k in zip(MXNET1_CODES, keys):
        assert mine[k] == (CODES[code], (2, 5), zlib.crc32(pattern_bytes(code)))


@pytest.mark.parametrize("code", [8, 9, 10, 11], ids=lambda c: CODES[c])
def test_mxnet1_refuses_the_dtypes_of_mxnet2(mx, tmp_path, code):
    """int16, uint16, uint32, uint64 (codes 8-11) came with MXNet 2.x: we write and read them, 1.9.1
    refuses the whole file ("Unknown type enum N"). By design: a converter never produces them."""
    path = tmp_path / "p.params"
    tool("pattern", path, "--codes", str(code))
    with pytest.raises(mx.base.MXNetError, match=f"Unknown type enum {code}"):
        load(mx, path)
    assert ours(path) == {f"arg:{CODES[code]}": (CODES[code], (2, 5), zlib.crc32(pattern_bytes(code)))}


# ---- params MXNet writes, read by us (and written back) ----------------------------------------

def mxnet_arrays(mx, v3):
    """One array of every dtype 1.9.1 has, seeded, shapes of 1 to 4 dims; in np-shape mode (V3) also
    a 0-d array and an empty one."""
    rng = np.random.RandomState(7)
    out = {}
    shapes = [(7,), (3, 4), (2, 3, 5), (2, 1, 3, 2)]
    for k, dt in enumerate(["float32", "float64", "float16", "uint8", "int32", "int8", "int64", "bool"]):
        shape = shapes[k % len(shapes)]
        if dt == "bool":
            v = rng.randint(0, 2, shape).astype(np.bool_)
        elif dt.startswith(("int", "uint")):
            v = rng.randint(np.iinfo(dt).min, np.iinfo(dt).max, shape, dtype=np.int64).astype(dt)
        else:
            v = (rng.standard_normal(shape) * 100).astype(dt)
        out[dt] = mx.nd.array(v, dtype=dt)
    # bfloat16 through MXNet's own cast, with values that round in both directions
    out["bfloat16"] = mx.nd.amp_cast(mx.nd.array(rng.standard_normal((4, 6)).astype(np.float32)), dtype=mxe.BF16)
    if v3:
        out["scalar"] = mx.nd.array(np.array(-3.25, np.float32)).reshape(())
        out["empty"] = mx.np.zeros((0, 3)).as_nd_ndarray()
    return out


@pytest.mark.parametrize("names", ["checkpoint", "bare", "nameless"])
@pytest.mark.parametrize("fmt", ["v2", "v3"])
def test_we_read_params_mxnet_writes(mx, tmp_path, fmt, names):
    """mx.nd.save of every dtype (V2, and V3 under np-shape semantics, with a 0-d and an empty
    array), named as a checkpoint ("arg:"/"aux:"), with bare names, or as a nameless list: we read
    the same dtypes, shapes and bytes; rewritten by our writer the file is byte-identical to
    MXNet's, and rewritten in every other format MXNet reads the same bytes back."""
    if fmt == "v3":
        with mx.util.np_shape(True):
            arrays = mxnet_arrays(mx, True)
    else:
        arrays = mxnet_arrays(mx, False)
    if names == "checkpoint":
        keyed = {("aux:" if k == "int64" else "arg:") + k: v for k, v in arrays.items()}
    else:
        keyed = dict(arrays)
    path = tmp_path / "mx.params"
    if fmt == "v3":
        with mx.util.np_shape(True):
            mx.nd.save(str(path), keyed if names != "nameless" else list(keyed.values()))
    else:
        mx.nd.save(str(path), keyed if names != "nameless" else list(keyed.values()))
    assert path.read_bytes()[24:28].hex() == MAGIC[fmt]

    keys = list(keyed) if names != "nameless" else [f"#{k}" for k in range(len(keyed))]
    want = {k: (mxe.dtype_name(v.dtype), tuple(v.shape), zlib.crc32(raw(v))) for k, v in zip(keys, keyed.values())}
    assert ours(path) == want

    # Our writer, same format: MXNet's bytes exactly.
    same = tmp_path / "same.params"
    tool("rewrite", path, same)
    assert same.read_bytes() == path.read_bytes()

    # Every other format MXNet reads (an empty or 0-d array exists only in V3).
    for other in FORMATS:
        if other == fmt or (fmt == "v3" and other != "v3"):
            continue
        out = tmp_path / f"{other}.params"
        tool("rewrite", path, out, "--format", other, *(["--nameless"] if names == "nameless" else []))
        back = load(mx, out, v3=other == "v3")
        back = list(back.values()) if isinstance(back, dict) else back
        assert [(mxe.dtype_name(b.dtype), tuple(b.shape), raw(b)) for b in back] == \
               [(mxe.dtype_name(v.dtype), tuple(v.shape), raw(v)) for v in keyed.values()], other
    # V2 -> V3: MXNet reads it only in np-shape mode, with the same bytes.
    if fmt == "v2":
        out = tmp_path / "v3.params"
        tool("rewrite", path, out, "--format", "v3")
        back = load(mx, out, v3=True)
        back = list(back.values()) if isinstance(back, dict) else back
        assert [raw(b) for b in back] == [raw(v) for v in keyed.values()]


def test_legacy_fixtures_read_alike(mx):
    """MXNet's own legacy fixture (pre-V1 arrays, nameless) and MTCNN's legacy checkpoint: the same
    arrays in MXNet and in our reading."""
    for path in [MXNET_MODELS / "apache_mxnet_test_fixtures/legacy_ndarray.v0", MXNET_MODELS / "insightface_mtcnn/det4-0001.params"]:
        loaded = mx.nd.load(str(path))
        items = list(loaded.items()) if isinstance(loaded, dict) else [(f"#{k}", v) for k, v in enumerate(loaded)]
        assert ours(path) == {k: (mxe.dtype_name(v.dtype), tuple(v.shape), zlib.crc32(raw(v))) for k, v in items}


# ---- what `mixprec convert` and `mixprec zoo` write --------------------------------------------

@pytest.mark.parametrize("compat", ["mxnet2", "mxnet1"])
@pytest.mark.parametrize("offline", [False, True], ids=["runtime", "offline"])
@pytest.mark.parametrize("dt", ["float16", "bfloat16"])
@pytest.mark.parametrize("model", ["gluoncv_cifar_resnet20_v1/cifar_resnet20_v1-0000", "insightface_mtcnn/det3-0001"])
def test_convert_params_values(mx, tmp_path, model, dt, offline, compat):
    """The converted params MXNet reads are the original FP32 values (legacy MTCNN arrays
    included), and a param stored in float16/bfloat16 holds exactly MXNet's amp_cast of its FP32
    values: round to nearest even, as the runtime cast in the graph computes it (MXNet's astype to
    bfloat16 truncates instead: test_mxnet_bfloat16_casts)."""
    src = MXNET_MODELS / f"{model}.params"
    prefix = tmp_path / "c"
    run_cli("convert", "--symbol", str(src).replace(src.name, src.name.split("-")[0] + "-symbol.json"), "--params", src,
            "--out-prefix", prefix, "--target-dtype", dt, "--compat", compat, "--quiet",
            *(["--cast-params-offline"] if offline else []))
    out = tmp_path / f"c-{src.stem.split('-')[-1]}.params"
    orig = mx.nd.load(str(src))
    conv = mx.nd.load(str(out))
    assert out.read_bytes()[24:28].hex() == MAGIC["v2"]
    if "mtcnn" in model:  # legacy names carry no prefix; we write a checkpoint's
        assert all(k.startswith(("arg:", "aux:")) for k in conv)
        orig = {("aux:" if k.endswith(("moving_mean", "moving_var")) else "arg:") + k.split(":")[-1]: v for k, v in orig.items()}
    assert set(conv) == set(orig)
    low = 0
    for k, v in conv.items():
        if mxe.dtype_name(v.dtype) == "float32":
            assert raw(v) == raw(orig[k]), k
        else:
            assert mxe.dtype_name(v.dtype) == dt, k
            target = mxe.BF16 if dt == "bfloat16" else "float16"
            assert raw(v) == raw(mx.nd.amp_cast(orig[k], dtype=target)), k
            low += 1
    # 2.x rules store params low only offline; 1.x rules also store low a param wired straight into
    # a neutral op running low (MTCNN's PReLU gamma), as MXNet 1.x's type inference does.
    if offline:
        assert low > 0
    elif compat == "mxnet2" or "cifar" in model:
        assert low == 0
    assert ours(out) == {k: (mxe.dtype_name(v.dtype), tuple(v.shape), zlib.crc32(raw(v))) for k, v in conv.items()}


def test_mxnet_bfloat16_casts(mx):
    """What the test above relies on: MXNet 1.9.1's amp_cast to bfloat16 rounds to nearest even (on
    its oneDNN CPU path), its astype/Cast truncates. Ties and a value just above a tie."""
    v = np.array([1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20, -(1 + 3 * 2 ** -8)], np.float32)
    amp = mx.nd.amp_cast(mx.nd.array(v), dtype=mxe.BF16).asnumpy().view(np.uint16)
    cast = mx.nd.array(v).astype(mxe.BF16).asnumpy().view(np.uint16)
    assert list(amp) == [0x3F80, 0x3F82, 0x3F81, 0xBF82]
    assert list(cast) == [0x3F80, 0x3F81, 0x3F80, 0xBF81]


# ---- symbol JSON we write, read by MXNet --------------------------------------------------------

def our_symbols(tmp_path):
    """Symbol files we write: conversions of the shared models (2.x and 1.x rules, offline params:
    amp_cast nodes, __amp_dtype__ / numeric __dtype__) and zoo exports."""
    out = []
    for model in ["gluoncv_cifar_resnet20_v1/cifar_resnet20_v1-0000", "gluoncv_cifar_resnet20_v2/cifar_resnet20_v2-0000",
                  "insightface_mtcnn/det1-0001", "insightface_mtcnn/det4-0001"]:
        src = MXNET_MODELS / f"{model}.params"
        for dt, compat in [("float16", "mxnet2"), ("bfloat16", "mxnet1")]:
            prefix = tmp_path / f"{src.stem.split('-')[0]}-{dt}-{compat}"
            run_cli("convert", "--symbol", str(src).replace(src.name, src.name.split("-")[0] + "-symbol.json"),
                    "--params", src, "--out-prefix", prefix, "--target-dtype", dt, "--compat", compat,
                    "--cast-params-offline", "--quiet")
            out.append(Path(f"{prefix}-symbol.json"))
    for name in ["cifar_resnet20_v1", "squeezenet1.1", "mobilenetv2_0.25"]:
        run_cli("zoo", name, "--out-prefix", tmp_path / f"zoo-{name}")
        out.append(tmp_path / f"zoo-{name}-symbol.json")
    return out


def graph_by_name(text):
    """A symbol JSON's graph, independent of node order: node name -> (op, attrs, inputs as
    (name, output index)), the heads and the variables by name."""
    g = json.loads(text)
    names = [n["name"] for n in g["nodes"]]
    nodes = {n["name"]: (n["op"], n.get("attrs", {}), [(names[e[0]], e[1]) for e in n["inputs"]]) for n in g["nodes"]}
    assert len(nodes) == len(names)
    return nodes, [(names[h[0]], h[1]) for h in g["heads"]], sorted(names[i] for i in g["arg_nodes"])


def test_mxnet_reads_symbols_we_write(mx, tmp_path):
    """MXNet loads every symbol file we write and saves it back (keeping its casts) as the same
    graph: every node, name, op, input, attribute and hidden key as we wrote it. Where our node
    order is MXNet's (its depth-first order from the heads; our zoo exports) the whole file is
    MXNet's, arg_nodes and heads included, except `node_row_ptr` where MXNet's CPU build counts an
    extra (workspace) output for max Pooling, and the version it stamps (10901); the text is then
    identical, layout included. Our conversions list a weight before the cast of the data, which
    MXNet puts first: only their graphs are compared."""
    reordered, row_ptr = [], []
    for path in our_symbols(tmp_path):
        ours_text = path.read_text()
        theirs = mx.sym.load(str(path)).tojson(remove_amp_cast=False)
        if "attrs" in json.loads(ours_text):
            version = json.loads(ours_text)["attrs"]["mxnet_version"][1]
            theirs = theirs.replace('["int", 10901]', f'["int", {version}]')
        else:
            # A pre-0.9 input (MTCNN) has no version and neither has our output, so that MXNet
            # upgrades it as it would the original; MXNet's save stamps one.
            theirs = theirs.replace(', \n  "attrs": {"mxnet_version": ["int", 10901]}', "")
        assert graph_by_name(theirs) == graph_by_name(ours_text), path.name
        a, b = json.loads(ours_text), json.loads(theirs)
        if [n["name"] for n in a["nodes"]] != [n["name"] for n in b["nodes"]]:
            reordered.append(path.name)
            continue
        rows_a, rows_b = a.pop("node_row_ptr"), b.pop("node_row_ptr")
        assert a == b, path.name
        if rows_a == rows_b:
            assert theirs == ours_text, path.name
        else:
            extra = {n["op"] for k, n in enumerate(a["nodes"])
                     if rows_b[k + 1] - rows_b[k] != rows_a[k + 1] - rows_a[k]}
            assert extra == {"Pooling"}, (path.name, extra)
            row_ptr.append(path.name)
    assert not any(name.startswith("zoo-") for name in reordered), reordered
    assert "zoo-squeezenet1.1-symbol.json" in row_ptr  # max pooling: the check above is live


LEGACY_AND_EXPORTED = [  # symbol, params (None: made here), data shape
    ("insightface_mtcnn/det1-symbol.json", "insightface_mtcnn/det1-0001.params", None),
    ("insightface_mtcnn/det2-symbol.json", "insightface_mtcnn/det2-0001.params", None),
    ("insightface_mtcnn/det3-symbol.json", "insightface_mtcnn/det3-0001.params", None),
    ("insightface_mtcnn/det4-symbol.json", "insightface_mtcnn/det4-0001.params", None),
    ("gluoncv_cifar_resnet20_v1/cifar_resnet20_v1-symbol.json", "gluoncv_cifar_resnet20_v1/cifar_resnet20_v1-0000.params", None),
    ("gluoncv_cifar_resnet20_v2/cifar_resnet20_v2-symbol.json", "gluoncv_cifar_resnet20_v2/cifar_resnet20_v2-0000.params", None),
    ("apache_mxnet_test_fixtures/save_000800.json", None, (2, 20)),
    ("apache_mxnet_test_fixtures/mlp-test-symbol.json", None, (2, 20)),
    ("apache_mxnet_test_fixtures/test_mkldnn_model_model1.json", None, (1, 3, 224, 224)),
]


@pytest.mark.parametrize("symbol,params,shape", LEGACY_AND_EXPORTED, ids=[s.split("/")[-1] for s, _, _ in LEGACY_AND_EXPORTED])
def test_we_read_symbols_as_mxnet_does(mx, tmp_path, symbol, params, shape):
    """Every generation of symbol file in ../shared (0.8 `param` files, 1.x, 2.0 exports): the graph
    we read, after our upgrades, is the graph MXNet 1.9.1 reads after its own (synthesised BatchNorm
    aux inputs, hidden keys, the initializers of 0.9.4, argmax's axis). Ours is written back by a
    conversion with every op list empty (no casts), MXNet's by tojson, and the two compared node by
    node by name."""
    src = MXNET_MODELS / symbol
    sym = mx.sym.load(str(src))
    if params is None:  # the fixtures come without weights: seeded ones, written by MXNet
        arg_shapes, _, aux_shapes = sym.infer_shape_partial(data=shape)
        rng = np.random.RandomState(2)
        arrays = {f"arg:{n}": mx.nd.array(rng.standard_normal(s)) for n, s in zip(sym.list_arguments(), arg_shapes)
                  if n != "data" and not n.endswith("label")}
        arrays.update({f"aux:{n}": mx.nd.array(rng.uniform(0.5, 2, s)) for n, s in zip(sym.list_auxiliary_states(), aux_shapes)})
        param_path = tmp_path / "w-0000.params"
        mx.nd.save(str(param_path), arrays)
    else:
        param_path = MXNET_MODELS / params
    prefix = tmp_path / "ours"
    run_cli("convert", "--symbol", src, "--params", param_path, "--out-prefix", prefix, "--target-dtype-ops", "",
            "--fp32-ops", "", "--widest-dtype-ops", "", "--conditional-fp32-ops", "", "--quiet")
    written = next(tmp_path.glob("ours-symbol.json")).read_text()
    assert '"amp_cast"' not in written
    ours_graph, theirs_graph = graph_by_name(written), graph_by_name(sym.tojson())
    for name, node in theirs_graph[0].items():
        assert ours_graph[0].get(name) == node, name
    assert ours_graph == theirs_graph


# ---- symbol JSON and params MXNet writes, read by us ----------------------------------------------

def gluon_exports(mx, tmp_path):
    """HybridBlock.export of Gluon model-zoo networks (seeded init, one forward), a symbol-API
    network saved with sym.save, and an MXNet AMP conversion saved with its casts."""
    from mxnet.gluon.model_zoo import vision

    out = []
    mx.random.seed(11)
    for name, shape in [("resnet18_v1", (1, 3, 64, 64)), ("mobilenetv2_0.25", (1, 3, 64, 64)),
                        ("squeezenet1.1", (1, 3, 224, 224)), ("densenet121", (1, 3, 224, 224))]:
        net = vision.get_model(name)
        net.initialize(mx.init.Xavier())
        net.hybridize()
        net(mx.nd.random.normal(shape=shape))
        net.export(str(tmp_path / name))
        out.append((tmp_path / name, 0, {"data": shape}))

    data = mx.sym.var("data")
    x = mx.sym.Convolution(data, num_filter=8, kernel=(3, 3), pad=(1, 1), name="conv")
    x = mx.sym.BatchNorm(x, fix_gamma=False, name="bn")
    x = mx.sym.LeakyReLU(x, act_type="leaky", slope=0.1, name="lrelu")
    x = mx.sym.Pooling(x, kernel=(2, 2), stride=(2, 2), pool_type="avg", name="pool")
    parts = mx.sym.split(x, num_outputs=2, axis=1, name="split")
    x = mx.sym.Concat(parts[1], parts[0], dim=1, name="concat")
    x = mx.sym.FullyConnected(mx.sym.flatten(x, name="flat"), num_hidden=5, name="fc")
    sym = mx.sym.Group([mx.sym.softmax(x, name="prob"), x])
    arg_shapes, _, aux_shapes = sym.infer_shape(data=(2, 3, 8, 8))
    rng = np.random.RandomState(3)
    params = {f"arg:{n}": mx.nd.array(rng.standard_normal(s)) for n, s in zip(sym.list_arguments(), arg_shapes) if n != "data"}
    params.update({f"aux:{n}": mx.nd.array(rng.uniform(0.5, 2, s)) for n, s in zip(sym.list_auxiliary_states(), aux_shapes)})
    sym.save(str(tmp_path / "symapi-symbol.json"))
    mx.nd.save(str(tmp_path / "symapi-0000.params"), params)
    out.append((tmp_path / "symapi", 0, {"data": (2, 3, 8, 8)}))

    from mxnet.contrib import amp

    arg = {k[4:]: v for k, v in params.items() if k.startswith("arg:")}
    aux = {k[4:]: v for k, v in params.items() if k.startswith("aux:")}
    lp, lp_arg, lp_aux = amp.convert_model(sym, arg, aux, target_dtype="bfloat16", cast_optional_params=True)
    lp.save(str(tmp_path / "amp-symbol.json"), remove_amp_cast=False)
    mx.nd.save(str(tmp_path / "amp-0000.params"), {**{f"arg:{k}": v for k, v in lp_arg.items()},
                                                    **{f"aux:{k}": v for k, v in lp_aux.items()}})
    out.append((tmp_path / "amp", 0, {"data": (2, 3, 8, 8)}))
    return out


def test_we_read_what_mxnet_writes(mx, tmp_path):
    """For each file MXNet wrote: our op nodes are MXNet's (names, ops, order); our data inputs are
    MXNet's arguments that the params file does not hold; our outputs are MXNet's; our node dtypes
    after type inference and our node and output shapes are MXNet's inference; our params are
    MXNet's arrays (names, dtypes, shapes, bytes). Then the FP32 networks run in our engine as in
    MXNet (1e-5 relative)."""
    for prefix, epoch, shapes in gluon_exports(mx, tmp_path):
        symbol, params = Path(f"{prefix}-symbol.json"), Path(f"{prefix}-{epoch:04d}.params")
        j = cli_json("inspect", symbol, params, "--nodes", "--checksums",
                     *[a for n, s in shapes.items() for a in ("--shape", f"{n}={','.join(map(str, s))}")])
        graph = json.loads(symbol.read_text())
        sym = mx.sym.load(str(symbol))
        loaded = mx.nd.load(str(params))
        arg, aux = mxe.split_checkpoint(loaded)
        what = prefix.name

        ops = [(n["name"], n["op"]) for n in graph["nodes"] if n["op"] != "null"]
        assert [(n["name"], n["op"]) for n in j["node_list"]] == ops, what
        assert [i["name"] for i in j["inputs"]] == [n for n in sym.list_arguments() if n not in arg and n not in aux], what
        heads = [(graph["nodes"][h[0]]["name"], h[1]) for h in graph["heads"]]
        assert [(o["node"], o["index"]) for o in j["outputs"]] == heads, what

        types = mxe.entry_types(mx, graph, arg, aux, {n: np.zeros(s, np.float32) for n, s in shapes.items()})
        for n in j["node_list"]:
            for k, dt in enumerate(n["output_dtypes"]):
                name = f'{n["name"]}_output' if len(n["output_dtypes"]) == 1 else f'{n["name"]}_output{k}'
                if name in types:  # MXNet lists visible outputs only
                    assert types[name][0] == dt, (what, name)
            name = f'{n["name"]}_output' if f'{n["name"]}_output' in types else f'{n["name"]}_output0'
            assert tuple(n["shape"]) == types[name][1], (what, name)
        _, out_shapes, _ = sym.infer_shape(**shapes)
        assert [tuple(o["shape"]) for o in j["outputs"]] == [tuple(s) for s in out_shapes], what

        assert {p["name"]: (p["dtype"], tuple(p["shape"]), p["crc32"]) for p in j["param_list"]} == \
               {k: (mxe.dtype_name(v.dtype), tuple(v.shape), zlib.crc32(raw(v))) for k, v in loaded.items()}, what

        if what == "amp":
            assert j["casts"] and any(p["dtype"] == "bfloat16" for p in j["param_list"])
            continue  # bfloat16 runs: test_load_and_run
        rng = np.random.RandomState(5)
        feeds = {n: rng.standard_normal(s).astype(np.float32) for n, s in shapes.items()}
        files = []
        for n, v in feeds.items():
            np.save(tmp_path / f"{what}-{n}.npy", v)
            files += ["--input", f"{n}={tmp_path / f'{what}-{n}.npy'}"]
        run = json.loads(run_cli("run", "--symbol", symbol, "--params", params, *files, "--save", tmp_path / f"{what}-out",
                                 "--json").stdout)
        mine = [np.load(o["saved"]) for o in run["outputs"]]
        theirs, _ = mxe.bind_forward(mx, sym, arg, aux, feeds)
        for a, b in zip(mine, theirs):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * float(np.max(np.abs(b))), err_msg=what)
