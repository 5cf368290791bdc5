"""Scaled-dot-product attention as exporters write it runs as one FusedAttention node and matches ONNX
Runtime running the un-fused graph: torch's sdpa export (Q and Kt each scaled by sqrt(scale), additive
mask, IsNaN -> Where guard) and eager attention (scores divided by sqrt(d)), with causal and padding
masks, fully masked rows, odd lengths and more keys than one CPU key block.
"""

import os
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import helper

import metalnn
from op_check import check_model, const, make_model


def _attention_graph(form, mask, guard):
    """Nodes reading q [B,H,Sq,D], kt [B,H,D,Skv], v [B,H,Skv,Dv] (and `mask`), writing y."""
    nodes = []
    if form == "sdpa":  # torch.onnx (torchscript) export of scaled_dot_product_attention
        nodes += [helper.make_node("Mul", ["q", "root_scale"], ["qs"]),
                  helper.make_node("Mul", ["root_scale", "kt"], ["ks"]),
                  helper.make_node("MatMul", ["qs", "ks"], ["scores"])]
    else:  # eager: (Q . Kt) / sqrt(d)
        nodes += [helper.make_node("MatMul", ["q", "kt"], ["raw"]),
                  helper.make_node("Div", ["raw", "sqrt_d"], ["scores"])]
    logits = "scores"
    if mask:
        nodes.append(helper.make_node("Add", ["scores", "mask"] if form == "sdpa" else ["mask", "scores"], ["logits"]))
        logits = "logits"
    nodes.append(helper.make_node("Softmax", [logits], ["p"], axis=-1))
    probs = "p"
    if guard:
        nodes += [helper.make_node("IsNaN", ["p"], ["nan"]), helper.make_node("Where", ["nan", "zero", "p"], ["pg"])]
        probs = "pg"
    nodes.append(helper.make_node("MatMul", [probs, "v"], ["y"]))
    return nodes


def _model(form, q_len, kv_len, rng, batch=2, heads=3, dim=8, v_dim=8, mask=None, guard=True):
    q = rng.standard_normal((batch, heads, q_len, dim), dtype="float32")
    kt = rng.standard_normal((batch, heads, dim, kv_len), dtype="float32")
    v = rng.standard_normal((batch, heads, kv_len, v_dim), dtype="float32")
    values = {"q": q, "kt": kt, "v": v}
    if form == "sdpa":
        values["root_scale"] = const(np.float32(dim ** -0.25))
    else:
        values["sqrt_d"] = const(np.float32(np.sqrt(dim)))
    if guard:
        values["zero"] = const(np.float32(0.0))
    if mask is not None:
        values["mask"] = mask
    return make_model(_attention_graph(form, mask is not None, guard), values, ["y"])


def _fused(model, target):
    ops = metalnn.load(model, device=target.device, precision=target.precision).summary().op_counts
    return ops == {"FusedAttention": 1}


@pytest.mark.parametrize("form", ["sdpa", "eager"])
@pytest.mark.parametrize("q_len,kv_len", [(1, 1), (13, 13), (7, 300), (33, 5)])
def test_attention_no_mask(form, q_len, kv_len, target, rng):
    model, feeds = _model(form, q_len, kv_len, rng, guard=form == "sdpa")
    assert _fused(model, target)
    check_model(model, feeds, target)


@pytest.mark.parametrize("q_len", [13, 37])
def test_attention_causal_mask(q_len, target, rng):
    """A constant [1, 1, S, S] causal mask of -inf above the diagonal (as masks get folded)."""
    mask = np.triu(np.full((q_len, q_len), -np.inf, np.float32), 1)[None, None]
    model, feeds = _model("sdpa", q_len, q_len, rng, mask=const(mask))
    assert _fused(model, target)
    check_model(model, feeds, target)


def test_attention_padding_mask_run_time(target, rng):
    """A run-time [B, 1, 1, Skv] padding mask; the second sequence is fully masked, which the guard
    turns from NaN into zeros, and finite large negatives (torch's finfo.min) mask too."""
    kv_len = 19
    mask = np.zeros((2, 1, 1, kv_len), np.float32)
    mask[0, ..., 11:] = np.finfo(np.float32).min
    mask[1] = -np.inf
    model, feeds = _model("sdpa", 9, kv_len, rng, mask=mask)
    assert _fused(model, target)
    out = check_model(model, feeds, target)
    assert np.all(out["y"][1] == 0)


def test_attention_fully_masked_without_guard(target, rng):
    """Without the guard a fully masked row is NaN, as the un-fused softmax gives."""
    mask = np.zeros((1, 3, 5, 6), np.float32)
    mask[0, 1, 2] = -np.inf
    model, feeds = _model("eager", 5, 6, rng, batch=1, mask=mask, guard=False)
    assert _fused(model, target)
    out = check_model(model, feeds, target)
    assert np.isnan(out["y"][0, 1, 2]).all() and not np.isnan(out["y"][0, 1, 3]).any()


def test_attention_head_mask_and_value_width(target, rng):
    """A per-head [H, Sq, Skv] mask, a value head size unlike the query's, 129 keys."""
    mask = rng.standard_normal((3, 4, 129), dtype="float32")
    model, feeds = _model("eager", 4, 129, rng, dim=16, v_dim=5, mask=mask, guard=False)
    assert _fused(model, target)
    check_model(model, feeds, target)


def test_attention_shared_scores_not_fused(target, rng):
    """Scores also read outside the pattern keep the graph as it is."""
    model, feeds = _model("eager", 5, 6, rng, guard=False)
    model.graph.node.append(helper.make_node("ReduceMax", ["scores"], ["m"], keepdims=0))
    model.graph.output.append(helper.make_tensor_value_info("m", 1, None))
    assert "FusedAttention" not in metalnn.load(model, device=target.device,
                                                 precision=target.precision).summary().op_counts
    check_model(model, feeds, target)


def test_attention_softmax_other_axis_not_fused(target, rng):
    model, feeds = _model("eager", 5, 6, rng, guard=False)
    next(n for n in model.graph.node if n.op_type == "Softmax").attribute[0].i = 2
    assert "FusedAttention" not in metalnn.load(model, device=target.device,
                                                 precision=target.precision).summary().op_counts
    check_model(model, feeds, target)


@pytest.mark.parametrize("fill", [-np.inf, np.finfo(np.float32).min])
def test_attention_boolean_causal_mask(fill, target, rng):
    """Eager causal attention: Where(causal, scores, fill) before the softmax, fill -inf or finfo.min."""
    q_len = 11
    model, feeds = _model("eager", q_len, q_len, rng, guard=False)
    nodes = list(model.graph.node)
    softmax = next(n for n in nodes if n.op_type == "Softmax")
    softmax.input[0] = "masked"
    nodes.insert(nodes.index(softmax), helper.make_node("Where", ["causal", "scores", "fill"], ["masked"]))
    values = {**feeds, "causal": const(np.tril(np.ones((q_len, q_len), bool))), "fill": const(np.float32(fill)),
              "sqrt_d": const(np.float32(np.sqrt(8)))}
    model, feeds = make_model(nodes, values, ["y"])
    # the mask Where(causal, 0, fill) the pass writes reads constants only and folds away
    assert _fused(model, target)
    check_model(model, feeds, target)


def test_attention_boolean_and_additive_masks(target, rng):
    """GPT-2 eager: Where(causal, scores, -inf) + a run-time padding mask, with a fully masked row."""
    q_len = 6
    model, feeds = _model("eager", q_len, q_len, rng, guard=True)
    nodes = [n for n in model.graph.node]
    softmax = next(n for n in nodes if n.op_type == "Softmax")
    softmax.input[0] = "logits"
    at = nodes.index(softmax)
    nodes[at:at] = [helper.make_node("Where", ["causal", "scores", "fill"], ["masked"]),
                    helper.make_node("Add", ["masked", "mask"], ["logits"])]
    padding = np.zeros((2, 1, 1, q_len), np.float32)
    padding[1, ..., :2] = -np.inf  # row 0 of sequence 1 sees only key 0, which is padded
    values = {**feeds, "causal": const(np.tril(np.ones((q_len, q_len), bool))), "fill": const(np.float32(-np.inf)),
              "mask": padding, "root_scale": None, "sqrt_d": const(np.float32(np.sqrt(8))),
              "zero": const(np.float32(0.0))}
    model, feeds = make_model(nodes, {k: v for k, v in values.items() if v is not None}, ["y"])
    ops = metalnn.load(model, device=target.device, precision=target.precision).summary().op_counts
    assert ops == {"Where": 1, "FusedAttention": 1}
    out = check_model(model, feeds, target)
    assert np.all(out["y"][1, :, 0] == 0)


def test_attention_wide_value_heads(target, rng):
    """Value heads wider than the GPU kernel's accumulator (128) take several passes over the keys."""
    mask = np.zeros((1, 1, 3, 9), np.float32)
    mask[..., 0, 4:] = -np.inf
    model, feeds = _model("sdpa", 3, 9, rng, batch=1, heads=2, dim=4, v_dim=300, mask=mask)
    assert _fused(model, target)
    check_model(model, feeds, target)


@pytest.mark.parametrize("keys", ["transposed", "flattened"])
@pytest.mark.parametrize("form", ["sdpa", "eager"])
def test_attention_grouped_query_heads(form, keys, target, rng):
    """Grouped-query attention as Llama-family exports write it: repeat_kv (Unsqueeze -> Expand ->
    Reshape) gives each query head its key/value head, and Kt is the repeated keys transposed
    (torchscript, dynamo's eager) or flattened, transposed and reshaped back (dynamo's sdpa). The fused
    op reads the kv heads unrepeated: no Expand is left."""
    batch, kv_heads, rep, q_len, kv_len, dim = 2, 2, 3, 5, 11, 8
    heads = kv_heads * rep
    values = {
        "q": rng.standard_normal((batch, heads, q_len, dim), dtype="float32"),
        "k": rng.standard_normal((batch, kv_heads, kv_len, dim), dtype="float32"),
        "v": rng.standard_normal((batch, kv_heads, kv_len, dim), dtype="float32"),
        "axis2": const(np.array([2], np.int64)),
        "wide": const(np.array([batch, kv_heads, rep, kv_len, dim], np.int64)),
        "merged": const(np.array([batch, heads, kv_len, dim], np.int64)),
        "flat": const(np.array([batch * heads, kv_len, dim], np.int64)),
        "kt_shape": const(np.array([batch, heads, dim, kv_len], np.int64)),
    }
    nodes = []
    for name in ("k", "v"):
        flat = name == "k" and keys == "flattened"
        nodes += [helper.make_node("Unsqueeze", [name, "axis2"], [f"{name}5"]),
                  helper.make_node("Expand", [f"{name}5", "wide"], [f"{name}x"]),
                  helper.make_node("Reshape", [f"{name}x", "flat" if flat else "merged"], [f"{name}r"])]
    if keys == "flattened":
        nodes += [helper.make_node("Transpose", ["kr"], ["kt3"], perm=[0, 2, 1]),
                  helper.make_node("Reshape", ["kt3", "kt_shape"], ["kt"])]
    else:
        nodes.append(helper.make_node("Transpose", ["kr"], ["kt"], perm=[0, 1, 3, 2]))
    attention = _attention_graph(form, True, form == "sdpa")
    for node in attention:
        node.input[:] = ["vr" if name == "v" else name for name in node.input]
    values["mask"] = np.triu(np.full((q_len, kv_len), -np.inf, np.float32), kv_len - q_len + 1)[None, None]
    if form == "sdpa":
        values["root_scale"] = const(np.float32(dim ** -0.25))
        values["zero"] = const(np.float32(0.0))
    else:
        values["sqrt_d"] = const(np.float32(np.sqrt(dim)))
    model, feeds = make_model(nodes + attention, values, ["y"])
    ops = metalnn.load(model, device=target.device, precision=target.precision).summary().op_counts
    assert ops.get("FusedAttention") == 1 and "Expand" not in ops, ops
    check_model(model, feeds, target)


def _rows_graph(form, mask, merge_reshape=True, extra_reshape=False, cache=False, dynamo_keys=False):
    """Attention over q [B,Sq,H*D], k [B,Skv,Hkv*D], v [B,Skv,Hkv*Dv] rows as BERT-family exports write
    it: each split into heads (Reshape to [B,S,H,D], Transpose to [B,H,S,D], keys to [B,H,D,S]), the
    output merged back (Transpose to [B,Sq,H,Dv], Reshape to [B,Sq,H*Dv]) into y. With `cache`, as
    GPT-2 writes it: keys and values through a one-input Concat, the keys transposed in two steps. With
    `dynamo_keys`, as torch.onnx's dynamo export writes sdpa: the keys' last two dims swapped through a
    flattened [B * H, S, D] Transpose."""
    nodes = [helper.make_node("Reshape", ["q", "q_split"], ["q4"]),
             helper.make_node("Transpose", ["q4"], ["qh"], perm=[0, 2, 1, 3]),
             helper.make_node("Reshape", ["k", "k_split"], ["k4"]),
             helper.make_node("Reshape", ["v", "v_split"], ["v4"])]
    if cache:
        nodes += [helper.make_node("Transpose", ["k4"], ["kh"], perm=[0, 2, 1, 3]),
                  helper.make_node("Concat", ["kh"], ["kc"], axis=-2),
                  helper.make_node("Transpose", ["kc"], ["kth"], perm=[0, 1, 3, 2]),
                  helper.make_node("Transpose", ["v4"], ["vt"], perm=[0, 2, 1, 3]),
                  helper.make_node("Concat", ["vt"], ["vh"], axis=-2)]
    elif dynamo_keys:
        nodes += [helper.make_node("Transpose", ["k4"], ["kh"], perm=[0, 2, 1, 3]),
                  helper.make_node("Reshape", ["kh", "k_flat"], ["kf"]),
                  helper.make_node("Transpose", ["kf"], ["kft"], perm=[0, 2, 1]),
                  helper.make_node("Reshape", ["kft", "kt_shape"], ["kth"]),
                  helper.make_node("Transpose", ["v4"], ["vh"], perm=[0, 2, 1, 3])]
    else:
        nodes += [helper.make_node("Transpose", ["k4"], ["kth"], perm=[0, 2, 3, 1]),
                  helper.make_node("Transpose", ["v4"], ["vh"], perm=[0, 2, 1, 3])]
    rename = {"q": "qh", "kt": "kth", "v": "vh", "y": "yh"}
    for node in _attention_graph(form, mask, form == "sdpa"):
        node.input[:] = [rename.get(name, name) for name in node.input]
        node.output[:] = [rename.get(name, name) for name in node.output]
        nodes.append(node)
    heads_first = "yh"
    if extra_reshape:  # BERT's export reshapes the heads to their own shape first
        nodes.append(helper.make_node("Reshape", ["yh", "y_heads"], ["yh2"]))
        heads_first = "yh2"
    nodes.append(helper.make_node("Transpose", [heads_first], ["yt"], perm=[0, 2, 1, 3]))
    nodes.append(helper.make_node("Reshape", ["yt", "y_merge"], ["y"]) if merge_reshape else
                 helper.make_node("Identity", ["yt"], ["y"]))
    return nodes


def _rows_model(form, rng, batch, heads, q_len, kv_len, dim, v_dim=None, mask=None, **graph):
    v_dim = v_dim or dim
    kv_heads = heads
    values = {
        "q": rng.standard_normal((batch, q_len, heads * dim), dtype="float32"),
        "k": rng.standard_normal((batch, kv_len, kv_heads * dim), dtype="float32"),
        "v": rng.standard_normal((batch, kv_len, kv_heads * v_dim), dtype="float32"),
        "q_split": const(np.array([batch, q_len, heads, dim], np.int64)),
        "k_split": const(np.array([batch, kv_len, kv_heads, dim], np.int64)),
        "v_split": const(np.array([batch, kv_len, kv_heads, v_dim], np.int64)),
        "y_heads": const(np.array([batch, heads, q_len, v_dim], np.int64)),
        "y_merge": const(np.array([batch, q_len, heads * v_dim], np.int64)),
        "k_flat": const(np.array([batch * heads, kv_len, dim], np.int64)),
        "kt_shape": const(np.array([batch, heads, dim, kv_len], np.int64)),
    }
    if form == "sdpa":
        values["root_scale"] = const(np.float32(dim ** -0.25))
        values["zero"] = const(np.float32(0.0))
    else:
        values["sqrt_d"] = const(np.float32(np.sqrt(dim)))
    if mask is not None:
        values["mask"] = mask
    nodes = _rows_graph(form, mask is not None, **graph)
    used = {name for node in nodes for name in node.input}
    return make_model(nodes, {k: v for k, v in values.items() if k in used}, ["y"])


ROWS_CASES = {
    "minilm_like": (1, 4, 17, 17, 8),
    "batch2_odd": (2, 3, 13, 13, 5),
    "cross_odd_dim": (2, 2, 7, 300, 12),
    "one_row": (3, 5, 1, 9, 6),
}


@pytest.mark.parametrize("masked", [False, True], ids=["no_mask", "mask"])
@pytest.mark.parametrize("form", ["sdpa", "eager"])
@pytest.mark.parametrize("case", ROWS_CASES.values(), ids=ROWS_CASES.keys())
def test_attention_head_split_and_merge_folded(case, form, masked, target, rng):
    """The Reshape/Transpose head split of Q, K, V and the merge of the output fold into the fused op,
    which reads and writes the [B, S, H * D] rows: nothing but FusedAttention is left."""
    batch, heads, q_len, kv_len, dim = case
    mask = None
    if masked:  # a run-time padding mask: the last sequence ends in padding
        mask = np.zeros((batch, 1, 1, kv_len), np.float32)
        mask[-1, ..., kv_len // 2 + 1:] = -np.inf
    model, feeds = _rows_model(form, rng, batch, heads, q_len, kv_len, dim, mask=mask,
                               extra_reshape=form == "sdpa")
    assert _fused(model, target)
    check_model(model, feeds, target)


@pytest.mark.parametrize("q_len,kv_len,dim,v_dim", [(20, 1500, 64, 64), (9, 300, 40, 80), (17, 33, 72, 17),
                                                    (8, 16, 1, 16), (65, 257, 24, 48)])
def test_attention_head_sizes(q_len, kv_len, dim, v_dim, target, rng):
    """Head sizes as models have them (64, 40, 72, 80) and odd ones: the CPU tiles take 8 query rows,
    16-key panels and 16-column value vectors, so row counts, key counts and widths that are not
    multiples of those, and key counts past one 256-key block, reach every partial tile."""
    mask = np.zeros((1, 1, q_len, kv_len), np.float32)
    mask[..., 1::3, kv_len // 2:] = -np.inf
    model, feeds = _model("sdpa", q_len, kv_len, rng, batch=2, heads=2, dim=dim, v_dim=v_dim, mask=mask)
    assert _fused(model, target)
    check_model(model, feeds, target)


def test_attention_rows_value_width(target, rng):
    """Rows whose value heads are wider than the query's, with a per-head mask."""
    mask = rng.standard_normal((6, 5, 23), dtype="float32")
    model, feeds = _rows_model("eager", rng, 2, 6, 5, 23, 4, v_dim=7, mask=mask)
    assert _fused(model, target)
    check_model(model, feeds, target)


def test_attention_rows_scaled_before_split(target, rng):
    """Whisper's attention: the query rows scaled before the split; the scale joins the fused op's."""
    model, feeds = _rows_model("sdpa", rng, 2, 3, 11, 11, 8)
    nodes = list(model.graph.node)
    nodes[0].input[0] = "q_scaled"
    nodes.insert(0, helper.make_node("Mul", ["q", "rows_scale"], ["q_scaled"]))
    values = {**feeds, **{i.name: const(onnx.numpy_helper.to_array(i)) for i in model.graph.initializer},
              "rows_scale": const(np.float32(0.37))}
    model, feeds = make_model(nodes, values, ["y"])
    assert _fused(model, target)
    check_model(model, feeds, target)


@pytest.mark.parametrize("masked", [False, True], ids=["no_mask", "mask"])
def test_attention_rows_dynamo_keys(masked, target, rng):
    """torch.onnx's dynamo sdpa export: keys transposed through a flattened [B * H, S, D] view."""
    mask = np.triu(np.full((7, 10), -np.inf, np.float32), 4)[None, None] if masked else None
    model, feeds = _rows_model("sdpa", rng, 2, 3, 7, 10, 5, mask=mask, dynamo_keys=True)
    assert _fused(model, target)
    check_model(model, feeds, target)


def test_attention_rows_through_cache_concat(target, rng):
    """GPT-2's split: keys and values through one-input Concats, keys transposed in two steps."""
    mask = np.triu(np.full((9, 9), -np.inf, np.float32), 1)[None, None]
    model, feeds = _rows_model("sdpa", rng, 2, 3, 9, 9, 6, mask=const(mask), cache=True)
    assert _fused(model, target)
    check_model(model, feeds, target)


def test_attention_rows_wrong_key_order_not_folded(target, rng):
    """Transposes of the keys are composed: [0, 2, 1, 3] then [0, 1, 3, 2] is the key split, [0, 2, 3, 1]
    then [0, 1, 3, 2] is not (keys read untransposed; D = S makes that a valid model)."""
    model, feeds = _rows_model("eager", rng, 1, 2, 5, 5, 5)
    nodes = list(model.graph.node)
    k_t = next(n for n in nodes if n.output[0] == "kth")
    k_t.attribute[0].ints[:] = [0, 2, 1, 3]  # now [B, H, S, D] ...
    at = nodes.index(k_t)
    k_t.output[0] = "kx"
    nodes.insert(at + 1, helper.make_node("Transpose", ["kx"], ["kth"], perm=[0, 1, 3, 2]))  # ... then [B, H, D, S]
    values = {**feeds, **{i.name: const(onnx.numpy_helper.to_array(i)) for i in model.graph.initializer}}
    model, feeds = make_model(nodes, values, ["y"])
    assert _fused(model, target)  # the two steps compose to the split's transpose
    nodes[at].attribute[0].ints[:] = [0, 2, 3, 1]
    model, feeds = make_model(nodes, values, ["y"])
    ops = metalnn.load(model, device=target.device, precision=target.precision).summary().op_counts
    assert ops.get("FusedAttention") == 1 and ops.get("Transpose", 0) > 0, ops
    check_model(model, feeds, target)


def test_attention_rows_unmerged_output_keeps_heads_layout(target, rng):
    """An output not reshaped back to rows (read as [B, Sq, H, Dv]) keeps the op in the heads layout,
    with the splits as they were."""
    model, feeds = _rows_model("eager", rng, 2, 3, 6, 6, 4, merge_reshape=False)
    ops = metalnn.load(model, device=target.device, precision=target.precision).summary().op_counts
    assert ops.get("FusedAttention") == 1 and ops.get("Transpose", 0) >= 3, ops
    check_model(model, feeds, target)


LONG_CASES = {  # batch, heads, sequence length, head size, mask
    "one_row": (1, 2, 1, 64, None),
    "seven_causal": (2, 1, 7, 32, "causal"),
    "63_additive": (3, 2, 63, 80, "additive"),
    "64_causal": (1, 2, 64, 64, "causal"),
    "47_causal": (1, 1, 47, 64, "causal"),
    "65": (2, 1, 65, 32, None),
    "70_per_row": (2, 2, 70, 32, "per_row"),
    "200_causal": (1, 2, 200, 80, "causal"),
    "200_additive": (2, 1, 200, 64, "additive"),
    "1500": (1, 1, 1500, 64, None),
    "1500_causal": (1, 1, 1500, 32, "causal"),
}


@pytest.mark.parametrize("case", LONG_CASES.values(), ids=LONG_CASES.keys())
def test_attention_rows_sequence_lengths(case, target, rng):
    """Self-attention over [B, S, H * D] rows (as Whisper's encoder has 1500 of them): lengths around
    the CPU's tiles of up to 12 rows, 32-key panels and 256-key blocks, head sizes 32, 64 and 80, a
    constant causal mask or a run-time additive one (per key, or per row only), scores spread wide
    enough that a row's softmax reference rises after its first keys."""
    batch, heads, seq, dim, kind = case
    mask = None
    if kind == "causal":
        mask = const(np.triu(np.full((seq, seq), -np.inf, np.float32), 1)[None, None])
    elif kind == "additive":
        mask = 4 * rng.standard_normal((batch, 1, seq, seq), dtype="float32")
    elif kind == "per_row":  # one value per query row, broadcast over the keys
        mask = 4 * rng.standard_normal((batch, 1, seq, 1), dtype="float32")
    model, feeds = _rows_model("sdpa", rng, batch, heads, seq, seq, dim, mask=mask, extra_reshape=True)
    feeds = {name: 3 * value if name in ("q", "k") else value for name, value in feeds.items()}
    assert _fused(model, target)
    check_model(model, feeds, target)


@pytest.mark.parametrize("step", [0.5, 2.0, 9.0])
def test_attention_scores_rising_along_keys(step, target, rng):
    """Scores that grow by `step` from key to key (and fall, in other rows) over 300 keys: a row's
    largest score keeps passing its softmax reference, inside a 32-key tile and across key blocks, and
    what the row has summed so far must be rescaled each time."""
    if target.precision == "float16":
        pytest.skip("scores in the hundreds keep about 0.1 of float16's precision, too little for a softmax")
    kv_len, dim = 300, 16
    q = np.ones((2, 2, 10, dim), np.float32)
    q[:, :, 1::2] *= -1  # falling rows
    keys = np.float32(step / np.sqrt(dim)) * np.arange(kv_len, dtype=np.float32)
    kt = np.broadcast_to(keys, (2, 2, dim, kv_len)).copy()
    kt += 0.01 * rng.standard_normal(kt.shape, dtype="float32")
    v = rng.standard_normal((2, 2, kv_len, 8), dtype="float32")
    values = {"q": q, "kt": kt, "v": v, "sqrt_d": const(np.float32(np.sqrt(dim)))}
    model, feeds = make_model(_attention_graph("eager", False, False), values, ["y"])
    assert _fused(model, target)
    check_model(model, feeds, target)


def test_attention_cpu_blas_path():
    """The cpu tests of this file once more with the register tiles off (METALNN_ATTENTION_KERNELS=avx2)
    and the softmax on 8 lanes (METALNN_SOFTMAX_KERNELS=avx2), as on CPUs without AVX-512."""
    env = dict(os.environ, METALNN_ATTENTION_KERNELS="avx2", METALNN_SOFTMAX_KERNELS="avx2")
    here = os.path.dirname(__file__)
    result = subprocess.run([sys.executable, "-m", "pytest", __file__, "-q", "-p", "no:cacheprovider",
                             "-k", "cpu-float32 and not blas_path"], env=env, capture_output=True, text=True, cwd=here)
    assert result.returncode == 0, result.stdout[-3000:]
