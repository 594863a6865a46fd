"""Structural comparison of two MXNet symbol graphs (JSON text), as the structure oracle needs it.

Inserted `amp_cast` / `amp_multicast` nodes are named differently by MXNet 1.9.1 and by us
(`conv0_output_amp_cast_float16` against `conv0_0_amp_cast_float16`), so a cast is identified by what
it is, not by its name: the tensor it reads (recursively described the same way) and its dtype. Every
other node is identified by its name, which both converters copy from the input graph. Two graphs have
the same structure when every named node has the same op, attributes and inputs (each input described
structurally), the same casts exist the same number of times, and the outputs are the same.
"""
import json
from collections import Counter
from dataclasses import dataclass, field

CAST_OPS = ("amp_cast", "amp_multicast")


@dataclass
class Structure:
    nodes: dict  # name -> (op, attrs, input signatures) for every node that is not a cast
    casts: Counter  # signature of each cast node's outputs -> how many such nodes exist
    cast_names: dict  # cast signature -> the names the graph gives it (for the name report)
    heads: list = field(default_factory=list)  # signatures of the graph outputs


def _signer(nodes):
    """Returns sign(node_id, output_index): a hashable description of a tensor that does not
    depend on the names of casts. Memoised per node, since casts of casts nest."""
    memo = {}

    def sign_node(i):
        if i in memo:
            return memo[i]
        n = nodes[i]
        ins = tuple(sign(e[0], e[1]) for e in n["inputs"])
        if n["op"] == "amp_cast":
            sig = ("amp_cast", n["attrs"]["dtype"], ins[0])
        elif n["op"] == "amp_multicast":
            # Its attributes (num_outputs, cast_narrow when written) are part of what it is.
            sig = ("amp_multicast", tuple(sorted(n.get("attrs", {}).items())), ins)
        else:
            sig = n["name"]
        memo[i] = sig
        return sig

    def sign(i, index):
        return (sign_node(i), index)

    return sign, sign_node


def structure_of(json_text):
    """Parses symbol JSON (MXNet >= 1.0 layout: `attrs`, 3-element entries) into a Structure."""
    j = json.loads(json_text)
    nodes = j["nodes"]
    sign, sign_node = _signer(nodes)
    out = Structure({}, Counter(), {})
    for i, n in enumerate(nodes):
        if n["op"] in CAST_OPS:
            sig = sign_node(i)
            out.casts[sig] += 1
            out.cast_names.setdefault(sig, []).append(n["name"])
            continue
        if n["name"] in out.nodes:
            raise ValueError(f"two nodes named {n['name']!r}")
        ins = tuple(sign(e[0], e[1]) for e in n["inputs"])
        out.nodes[n["name"]] = (n["op"], dict(n.get("attrs", {})), ins)
    out.heads = [sign(h[0], h[1]) for h in j["heads"]]
    return out


def render(sig):
    """A signature as text: `conv0[0]`, `amp_cast<float16>(conv0[0])`, `amp_multicast(a[0], b[0])`."""
    if isinstance(sig, str):  # a named node
        return sig
    if len(sig) == 2:  # a tensor: (node signature, output index)
        return f"{render(sig[0])}[{sig[1]}]"
    if sig[0] == "amp_cast":
        return f"amp_cast<{sig[1]}>({render(sig[2])})"
    extra = ", ".join(f"{k}={v}" for k, v in sig[1] if k != "num_outputs")  # num_outputs: the input count
    return f"amp_multicast{'<' + extra + '>' if extra else ''}({', '.join(render(s) for s in sig[2])})"


def compare(expected, actual):
    """Differences of `actual` from `expected` (two Structures) as readable lines; empty when the
    structures are the same. Every attribute counts, `__dtype__` and `__init__` included."""
    diffs = []
    for name in sorted(expected.nodes.keys() - actual.nodes.keys()):
        diffs.append(f"node {name!r} ({expected.nodes[name][0]}) is missing")
    for name in sorted(actual.nodes.keys() - expected.nodes.keys()):
        diffs.append(f"extra node {name!r} ({actual.nodes[name][0]})")
    for name in sorted(expected.nodes.keys() & actual.nodes.keys()):
        diffs += _node_diffs(name, expected.nodes[name], actual.nodes[name])
    for sig in sorted(expected.casts.keys() | actual.casts.keys(), key=render):
        e, a = expected.casts[sig], actual.casts[sig]
        if e != a:
            diffs.append(f"{render(sig)}: {e} such node(s) expected, {a} found")
    if expected.heads != actual.heads:
        diffs.append(f"outputs differ: expected {[render(h) for h in expected.heads]}, "
                     f"found {[render(h) for h in actual.heads]}")
    return diffs


def _node_diffs(name, expected, actual):
    (eop, eattrs, eins), (aop, aattrs, ains) = expected, actual
    diffs = []
    if eop != aop:
        diffs.append(f"{name}: op {aop!r}, expected {eop!r}")
    for key in sorted(eattrs.keys() | aattrs.keys()):
        if eattrs.get(key) != aattrs.get(key):
            diffs.append(f"{name}: attribute {key} = {aattrs.get(key)!r}, expected {eattrs.get(key)!r}")
    if len(eins) != len(ains):
        diffs.append(f"{name}: {len(ains)} inputs, expected {len(eins)}")
    for slot, (e, a) in enumerate(zip(eins, ains)):
        if e != a:
            diffs.append(f"{name}: input {slot} is {render(a)}, expected {render(e)}")
    return diffs


def cast_name_differences(expected, actual):
    """(MXNet's name, our name) for each structurally matched cast whose names differ."""
    pairs = []
    for sig in expected.cast_names.keys() & actual.cast_names.keys():
        for e, a in zip(sorted(expected.cast_names[sig]), sorted(actual.cast_names[sig])):
            if e != a:
                pairs.append((e, a))
    return sorted(pairs)
