"""Running MXNet symbol files in MXNet 1.9.1 on the CPU, for the oracle tests: bind a symbol with the
arrays of a params file, probe which nodes MXNet has a CPU kernel for in their dtype, and rewrite a
graph so that the nodes without one compute in float32 between casts (what our engine does for every
low-precision node: compute in float32, round the output to the node's dtype)."""
import contextlib
import copy
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

# MXNet 1.x represents bfloat16 as this structured numpy dtype.
BF16 = np.dtype([("bfloat16", np.uint16)])
LOW = ("float16", "bfloat16")


def dtype_name(dt):
    if dt is None:
        return None
    dt = np.dtype(dt)
    return "bfloat16" if dt == BF16 else dt.name


def to_f32(mx, arr):
    """An output as float32 numpy: low-precision outputs are widened exactly by MXNet's amp_cast
    (astype of a bfloat16 array in oneDNN layout fails in 1.9.1)."""
    if dtype_name(arr.dtype) in LOW:
        arr = mx.nd.amp_cast(arr, dtype="float32")
    return arr.asnumpy().astype(np.float32)


def split_checkpoint(loaded):
    arg = {k[4:]: v for k, v in loaded.items() if k.startswith("arg:")}
    aux = {k[4:]: v for k, v in loaded.items() if k.startswith("aux:")}
    return arg, aux


@contextlib.contextmanager
def subgraph_backend(name):
    """MXNet 1.9.1's pip build partitions every graph that Symbol.bind executes with its oneDNN
    subgraph backend (Convolution + BatchNorm + Activation + elemwise_add fused, BatchNorm folded
    into the weights) unless MXNET_SUBGRAPH_BACKEND says otherwise; it is read at each bind.
    name None: that default."""
    old = os.environ.get("MXNET_SUBGRAPH_BACKEND")
    if name is None:
        os.environ.pop("MXNET_SUBGRAPH_BACKEND", None)
    else:
        os.environ["MXNET_SUBGRAPH_BACKEND"] = name
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MXNET_SUBGRAPH_BACKEND", None)
        else:
            os.environ["MXNET_SUBGRAPH_BACKEND"] = old


def bind_forward(mx, sym, arg, aux, inputs, backend="NONE"):
    """One inference forward of `sym` with params `arg`/`aux` (MXNet arrays as loaded) and `inputs`
    (name -> numpy). Arguments that are neither (loss labels) get zeros of their inferred shape.
    By default the graph runs as written (no subgraph backend); backend=None is MXNet's default
    oneDNN fusion. Returns the outputs as float32 numpy arrays and their MXNet dtypes."""
    shapes = {k: v.shape for k, v in inputs.items()}
    arg_shapes, _, _ = sym.infer_shape_partial(**shapes)
    args = {}
    for name, shp in zip(sym.list_arguments(), arg_shapes):
        if name in inputs:
            args[name] = mx.nd.array(inputs[name], dtype=inputs[name].dtype)
        elif name in arg:
            args[name] = arg[name]
        else:
            args[name] = mx.nd.zeros(shp)
    aux_states = {name: aux[name] for name in sym.list_auxiliary_states()}
    with subgraph_backend(backend):
        exe = sym.bind(mx.cpu(), args=args, aux_states=aux_states, grad_req="null")
    outs = exe.forward(is_train=False)
    return [to_f32(mx, o) for o in outs], [dtype_name(o.dtype) for o in outs]


MX_CODES = {"float32": 0, "float64": 1, "float16": 2, "uint8": 3, "int32": 4, "int8": 5, "int64": 6, "bool": 7,
            "bfloat16": 12}


def entry_types(mx, graph, arg, aux, inputs):
    """MXNet's own type and shape inference over every node output of `graph` (parsed symbol JSON):
    internal output name -> (dtype name, shape). Each parameter's stored dtype is given as its
    variable's `__dtype__` (1.9.1's Python infer_type cannot take bfloat16: it maps dtypes by
    numpy scalar type, and bfloat16's is numpy.void)."""
    g = copy.deepcopy(graph)
    stored = {k: dtype_name(v.dtype) for k, v in list(arg.items()) + list(aux.items())}
    for n in g["nodes"]:
        if n["op"] == "null" and n["name"] in stored:
            n.setdefault("attrs", {})["__dtype__"] = str(MX_CODES[stored[n["name"]]])
    internals = mx.sym.load_json(json.dumps(g)).get_internals()
    names = set(internals.list_arguments())
    _, out_types, _ = internals.infer_type_partial(**{k: v.dtype for k, v in inputs.items() if k in names})
    _, out_shapes, _ = internals.infer_shape_partial(**{k: v.shape for k, v in inputs.items() if k in names})
    return {n: (dtype_name(t) if t is not None else None, tuple(s) if s is not None else None)
            for n, t, s in zip(internals.list_outputs(), out_types, out_shapes)}


def _entry_name(graph, entry):
    node = graph["nodes"][entry[0]]
    if node["op"] == "null":
        return node["name"]
    return f'{node["name"]}_output' if entry[1] == 0 else f'{node["name"]}_output{entry[1]}'


def _lookup(types, graph, entry):
    name = _entry_name(graph, entry)
    if name in types:
        return types[name]
    node = graph["nodes"][entry[0]]
    return types.get(f'{node["name"]}_output{entry[1]}', (None, None))


def _mini_graph(node, n_inputs):
    mini = {"nodes": [], "arg_nodes": [], "heads": [], "attrs": {"mxnet_version": ["int", 10901]}}
    for k in range(n_inputs):
        mini["nodes"].append({"op": "null", "name": f"in{k}", "inputs": []})
        mini["arg_nodes"].append(k)
    op = {"op": node["op"], "name": node["name"], "inputs": [[k, 0, 0] for k in range(n_inputs)]}
    if "attrs" in node:
        op["attrs"] = node["attrs"]
    mini["nodes"].append(op)
    mini["heads"] = [[n_inputs, 0, 0]]
    return mini


def _probe_here(mx, request):
    """Runs one probe request in this process: None, or the first line of MXNet's error."""
    rng = np.random.RandomState(0)
    arrays = {}
    for k, (dt, shp) in enumerate(request["inputs"]):
        if request["index_input"] == k:
            values = np.zeros(shp, np.float32)
        else:
            values = rng.uniform(-1, 1, shp).astype(np.float32)
        a = mx.nd.array(values)
        arrays[f"in{k}"] = mx.nd.amp_cast(a, dtype=BF16 if dt == "bfloat16" else dt) if dt in LOW else a.astype(dt)
    try:
        s = mx.sym.load_json(json.dumps(request["graph"]))
        args = {n: arrays[n] for n in s.list_arguments()}
        aux = {n: arrays[n] for n in s.list_auxiliary_states()}
        with subgraph_backend("NONE"):
            exe = s.bind(mx.cpu(), args=args, aux_states=aux, grad_req="null")
        for o in exe.forward(is_train=False):
            o.wait_to_read()
        mx.nd.waitall()
        return None
    except mx.base.MXNetError as e:
        lines = [ln.strip() for ln in str(e).splitlines() if "Error" in ln or "Check failed" in ln]
        return (lines[0] if lines else str(e).splitlines()[0]).replace("MXNetError: ", "")


class Prober:
    """Probes nodes in a child process (an MXNet error inside the engine can abort the whole
    process): one request per line on its stdin, one answer per line on its stdout. A child that
    dies is replaced, and the node it died on is reported with how it died."""

    def __init__(self):
        self.proc = None
        self.log = None

    def _start(self):
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--probe-server"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log, text=True)

    def probe(self, request):
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if line:
            return json.loads(line)["error"]
        code = self.proc.wait()
        self.log.seek(0)
        lines = [ln.strip() for ln in self.log.read().decode(errors="replace").splitlines() if ln.strip()]
        tail = [ln for ln in lines if "Error" in ln or "Check failed" in ln] or lines[-1:]
        self.proc = None
        why = f"killed by signal {-code}" if code < 0 else f"exited {code}"
        return f"the process {why}" + (f": {tail[-1].strip()}" if tail else "")

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait()


def probe_node(prober, graph, i, types, cache):
    """Runs node i alone in MXNet on the CPU with inputs of the dtypes and shapes MXNet infers for
    it. Returns None when it runs, else the first line of MXNet's error. Cached by op, attributes,
    input dtypes and shapes."""
    node = graph["nodes"][i]
    ins = [_lookup(types, graph, e) for e in node["inputs"]]
    key = (node["op"], json.dumps(node.get("attrs", {}), sort_keys=True), tuple(ins))
    if key in cache:
        return cache[key]
    if any(dt is None or shp is None for dt, shp in ins):
        cache[key] = "MXNet could not infer the dtype and shape of every input"
        return cache[key]
    request = {"graph": _mini_graph(node, len(ins)), "inputs": [[dt, list(shp)] for dt, shp in ins],
               "index_input": 0 if node["op"] == "Embedding" else -1}
    cache[key] = prober.probe(request)
    return cache[key]


def missing_kernels(prober, graph, types, cache):
    """Every op node with a float16 or bfloat16 input or output that MXNet cannot run on the CPU:
    node index -> (op, error line)."""
    missing = {}
    for i, node in enumerate(graph["nodes"]):
        if node["op"] in ("null", "amp_cast", "amp_multicast"):
            continue
        dts = {_lookup(types, graph, e)[0] for e in node["inputs"]}
        dts.add(_lookup(types, graph, [i, 0, 0])[0])
        if not dts & set(LOW):
            continue
        err = probe_node(prober, graph, i, types, cache)
        if err is not None:
            missing[i] = (node["op"], err)
    return missing


def compute_in_float32(graph, nodes, types):
    """A copy of `graph` in which each node of `nodes` reads float32 (an amp_cast to float32 of each
    low-precision input) and its consumers read amp_cast(output, its inferred dtype): MXNet computes
    the node with its float32 kernel and rounds the result as a low-precision kernel would."""
    old = graph["nodes"]
    new_nodes, remap = [], {}  # (old node, output) -> new entry

    def add(node):
        new_nodes.append(node)
        return len(new_nodes) - 1

    def mapped(e):
        return list(remap.get((e[0], e[1]), [e[0], e[1], 0]))

    index = {}
    for i, node in enumerate(old):
        n = copy.deepcopy(node)
        ins = [[index[e[0]], e[1], 0] if (e[0], e[1]) not in remap else mapped(e) for e in node["inputs"]]
        if i in nodes:
            wrapped = []
            for k, (e, ne) in enumerate(zip(node["inputs"], ins)):
                dt = _lookup(types, graph, e)[0]
                if dt in LOW:
                    j = add({"op": "amp_cast", "name": f'{node["name"]}_f32in{k}', "attrs": {"dtype": "float32"},
                             "inputs": [ne]})
                    ne = [j, 0, 0]
                wrapped.append(ne)
            n["inputs"] = wrapped
            index[i] = add(n)
            k = 0
            while True:
                dt, _ = _lookup(types, graph, [i, k, 0])
                name = _entry_name(graph, [i, k, 0])
                if dt is None and name not in types:
                    break
                if dt in LOW:
                    j = add({"op": "amp_cast", "name": f'{node["name"]}_round{k}', "attrs": {"dtype": dt},
                             "inputs": [[index[i], k, 0]]})
                    remap[(i, k)] = [j, 0, 0]
                k += 1
        else:
            n["inputs"] = ins
            index[i] = add(n)
    out = {k: v for k, v in graph.items() if k not in ("nodes", "arg_nodes", "node_row_ptr", "heads")}
    out["nodes"] = new_nodes
    out["arg_nodes"] = [j for j, n in enumerate(new_nodes) if n["op"] == "null"]
    out["heads"] = [mapped(h) if (h[0], h[1]) in remap else [index[h[0]], h[1], 0] for h in graph["heads"]]
    return out


if __name__ == "__main__" and sys.argv[1:] == ["--probe-server"]:
    os.environ.setdefault("MXNET_STORAGE_FALLBACK_LOG_VERBOSE", "0")
    import mxnet

    for request_line in sys.stdin:
        answer = {"error": _probe_here(mxnet, json.loads(request_line))}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
