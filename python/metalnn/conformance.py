"""ONNX's own backend-test cases (shipped with the onnx package) that metalnn runs, and the explicit
exclusions: shared by tests/conformance and `metalnn doctor`."""
from __future__ import annotations

import glob
import importlib
import os
from collections import Counter

import numpy as np
import onnx
from onnx import numpy_helper
from onnx.backend.test.loader import load_model_tests

from . import _native as native
from . import qlinear

KINDS = ("node", "simple", "pytorch-converted", "pytorch-operator")


def _because(reason: str, *cases: str) -> dict[str, str]:
    return dict.fromkeys(cases, reason)


# Individual cases the engine rejects on purpose (on cpu), each with the reason. Every entry must fail
# with a clear metalnn error, never a wrong number; test_onnx_backend.py checks that it still does.
EXCLUDED: dict[str, str] = {
    **_because(
        "bfloat16 tensors: a dtype the engine does not store",
        "test_cast_BFLOAT16_to_FLOAT", "test_castlike_BFLOAT16_to_FLOAT_expanded",
        "test_castlike_FLOAT_to_BFLOAT16_expanded", "test_einsum_batch_matmul_bfloat16", "test_einsum_sum_bfloat16",
        "test_einsum_transpose_bfloat16", "test_range_bfloat16_type_positive_delta",
        "test_range_bfloat16_type_positive_delta_expanded", "test_celu_bfloat16_expanded",
        "test_attention_3d_causal_bf16_expanded", "test_attention_4d_attn_mask_causal_bf16_expanded",
        "test_attention_4d_causal_bf16_expanded", "test_attention_4d_causal_padded_kv_bf16_expanded",
        "test_attention_4d_padded_kv_bf16_expanded",
    ),
    **_because(
        "float64 tensors: a dtype the engine does not store",
        "test_cast_DOUBLE_to_FLOAT", "test_cast_DOUBLE_to_FLOAT16", "test_castlike_DOUBLE_to_FLOAT16_expanded",
        "test_castlike_DOUBLE_to_FLOAT_expanded", "test_castlike_FLOAT16_to_DOUBLE_expanded",
        "test_castlike_FLOAT_to_DOUBLE_expanded", "test_cumsum_1d", "test_cumsum_1d_exclusive", "test_cumsum_1d_reverse",
        "test_cumsum_1d_reverse_exclusive", "test_cumsum_2d_axis_0", "test_cumsum_2d_axis_1",
        "test_cumsum_2d_negative_axis", "test_einsum_batch_diagonal", "test_einsum_batch_matmul",
        "test_einsum_inner_prod", "test_einsum_scalar", "test_einsum_sum", "test_einsum_transpose",
        "test_flexattention_double_expanded_ver26", "test_max_float64", "test_min_float64",
        "test_mod_float64_mixed_sign_fmod_0", "test_mod_float_edge_cases_fmod_0_float64",
        "test_mod_mixed_sign_float64", "test_operator_add_broadcast", "test_operator_add_size1_broadcast",
        "test_operator_add_size1_right_broadcast", "test_operator_add_size1_singleton_broadcast",
        "test_operator_addconstant", "test_attention_local_window_gqa_rank4_mask_expanded",
        "test_reduce_log_sum_exp_default_axes_keepdims_example",
        "test_reduce_log_sum_exp_default_axes_keepdims_example_expanded",
        "test_reduce_log_sum_exp_default_axes_keepdims_random",
        "test_reduce_log_sum_exp_default_axes_keepdims_random_expanded",
        "test_reduce_log_sum_exp_do_not_keepdims_example", "test_reduce_log_sum_exp_do_not_keepdims_example_expanded",
        "test_reduce_log_sum_exp_do_not_keepdims_random", "test_reduce_log_sum_exp_do_not_keepdims_random_expanded",
        "test_reduce_log_sum_exp_keepdims_example", "test_reduce_log_sum_exp_keepdims_example_expanded",
        "test_reduce_log_sum_exp_keepdims_random", "test_reduce_log_sum_exp_keepdims_random_expanded",
        "test_reduce_log_sum_exp_negative_axes_keepdims_example",
        "test_reduce_log_sum_exp_negative_axes_keepdims_example_expanded",
        "test_reduce_log_sum_exp_negative_axes_keepdims_random",
        "test_reduce_log_sum_exp_negative_axes_keepdims_random_expanded",
        "test_reduce_log_sum_exp_empty_set_expanded",
    ),
    **_because(
        "float4e2m1 tensors: a dtype the engine does not store",
        "test_cast_FLOAT4E2M1_to_FLOAT", "test_cast_FLOAT4E2M1_to_FLOAT16",
        "test_castlike_FLOAT16_to_FLOAT4E2M1_expanded", "test_castlike_FLOAT4E2M1_to_FLOAT16_expanded",
        "test_castlike_FLOAT4E2M1_to_FLOAT_expanded", "test_castlike_FLOAT_to_FLOAT4E2M1_expanded",
    ),
    **_because(
        "float8e4m3fn tensors: a dtype the engine does not store",
        "test_cast_FLOAT8E4M3FN_to_FLOAT", "test_cast_FLOAT8E4M3FN_to_FLOAT16",
        "test_castlike_FLOAT16_to_FLOAT8E4M3FN_expanded", "test_castlike_FLOAT8E4M3FN_to_FLOAT16_expanded",
        "test_castlike_FLOAT8E4M3FN_to_FLOAT_expanded", "test_castlike_FLOAT_to_FLOAT8E4M3FN_expanded",
        "test_castlike_no_saturate_FLOAT16_to_FLOAT8E4M3FN_expanded",
        "test_castlike_no_saturate_FLOAT_to_FLOAT8E4M3FN_expanded",
    ),
    **_because(
        "float8e4m3fnuz tensors: a dtype the engine does not store",
        "test_cast_FLOAT8E4M3FNUZ_to_FLOAT", "test_cast_FLOAT8E4M3FNUZ_to_FLOAT16",
        "test_castlike_FLOAT16_to_FLOAT8E4M3FNUZ_expanded", "test_castlike_FLOAT8E4M3FNUZ_to_FLOAT16_expanded",
        "test_castlike_FLOAT8E4M3FNUZ_to_FLOAT_expanded", "test_castlike_FLOAT_to_FLOAT8E4M3FNUZ_expanded",
        "test_castlike_no_saturate_FLOAT16_to_FLOAT8E4M3FNUZ_expanded",
        "test_castlike_no_saturate_FLOAT_to_FLOAT8E4M3FNUZ_expanded",
    ),
    **_because(
        "float8e5m2 tensors: a dtype the engine does not store",
        "test_cast_FLOAT8E5M2_to_FLOAT", "test_cast_FLOAT8E5M2_to_FLOAT16",
        "test_castlike_FLOAT16_to_FLOAT8E5M2_expanded", "test_castlike_FLOAT8E5M2_to_FLOAT16_expanded",
        "test_castlike_FLOAT8E5M2_to_FLOAT_expanded", "test_castlike_FLOAT_to_FLOAT8E5M2_expanded",
        "test_castlike_no_saturate_FLOAT16_to_FLOAT8E5M2_expanded",
        "test_castlike_no_saturate_FLOAT_to_FLOAT8E5M2_expanded",
    ),
    **_because(
        "float8e5m2fnuz tensors: a dtype the engine does not store",
        "test_cast_FLOAT8E5M2FNUZ_to_FLOAT", "test_cast_FLOAT8E5M2FNUZ_to_FLOAT16",
        "test_castlike_FLOAT16_to_FLOAT8E5M2FNUZ_expanded", "test_castlike_FLOAT8E5M2FNUZ_to_FLOAT16_expanded",
        "test_castlike_FLOAT8E5M2FNUZ_to_FLOAT_expanded", "test_castlike_FLOAT_to_FLOAT8E5M2FNUZ_expanded",
        "test_castlike_no_saturate_FLOAT16_to_FLOAT8E5M2FNUZ_expanded",
        "test_castlike_no_saturate_FLOAT_to_FLOAT8E5M2FNUZ_expanded",
    ),
    **_because(
        "float8e8m0 tensors: a dtype the engine does not store",
        "test_cast_e8m0_FLOAT8E8M0_to_FLOAT", "test_cast_e8m0_FLOAT8E8M0_to_FLOAT16",
    ),
    **_because(
        "int16 tensors: a dtype the engine does not store",
        "test_add_int16", "test_div_int16", "test_equal_int16", "test_greater_equal_int16",
        "test_greater_equal_int16_expanded", "test_greater_int16", "test_less_equal_int16",
        "test_less_equal_int16_expanded", "test_less_int16", "test_max_int16", "test_min_int16",
        "test_mod_mixed_sign_int16", "test_mul_int16", "test_sub_int16",
    ),
    **_because(
        "int2 tensors: a dtype the engine does not store",
        "test_cast_INT2_to_FLOAT", "test_cast_INT2_to_FLOAT16", "test_cast_INT2_to_INT8",
        "test_castlike_FLOAT16_to_INT2_expanded", "test_castlike_FLOAT_to_INT2_expanded",
        "test_castlike_INT2_to_FLOAT16_expanded", "test_castlike_INT2_to_FLOAT_expanded",
        "test_castlike_INT2_to_INT8_expanded",
    ),
    **_because(
        "int4 tensors: a dtype the engine does not store",
        "test_cast_INT4_to_FLOAT", "test_cast_INT4_to_FLOAT16", "test_cast_INT4_to_INT8",
        "test_castlike_FLOAT16_to_INT4_expanded", "test_castlike_FLOAT_to_INT4_expanded",
        "test_castlike_INT4_to_FLOAT16_expanded", "test_castlike_INT4_to_FLOAT_expanded",
        "test_castlike_INT4_to_INT8_expanded",
    ),
    **_because(
        "string tensors: a dtype the engine does not store",
        "test_equal_string", "test_equal_string_broadcast",
    ),
    **_because(
        "uint16 tensors: a dtype the engine does not store",
        "test_add_uint16", "test_div_uint16", "test_equal_uint16", "test_greater_equal_uint16",
        "test_greater_equal_uint16_expanded", "test_greater_uint16", "test_less_equal_uint16",
        "test_less_equal_uint16_expanded", "test_less_uint16", "test_max_uint16", "test_min_uint16",
        "test_mod_uint16", "test_mul_uint16", "test_sub_uint16",
    ),
    **_because(
        "uint2 tensors: a dtype the engine does not store",
        "test_cast_UINT2_to_FLOAT", "test_cast_UINT2_to_FLOAT16", "test_cast_UINT2_to_UINT8",
        "test_castlike_FLOAT16_to_UINT2_expanded", "test_castlike_FLOAT_to_UINT2_expanded",
        "test_castlike_UINT2_to_FLOAT16_expanded", "test_castlike_UINT2_to_FLOAT_expanded",
        "test_castlike_UINT2_to_UINT8_expanded",
    ),
    **_because(
        "uint32 tensors: a dtype the engine does not store",
        "test_add_uint32", "test_div_uint32", "test_equal_uint32", "test_greater_equal_uint32",
        "test_greater_equal_uint32_expanded", "test_greater_uint32", "test_less_equal_uint32",
        "test_less_equal_uint32_expanded", "test_less_uint32", "test_max_uint32", "test_min_uint32",
        "test_mod_uint32", "test_mul_uint32", "test_pow_types_float32_uint32", "test_sub_uint32",
    ),
    **_because(
        "uint4 tensors: a dtype the engine does not store",
        "test_cast_UINT4_to_FLOAT", "test_cast_UINT4_to_FLOAT16", "test_cast_UINT4_to_UINT8",
        "test_castlike_FLOAT16_to_UINT4_expanded", "test_castlike_FLOAT_to_UINT4_expanded",
        "test_castlike_UINT4_to_FLOAT16_expanded", "test_castlike_UINT4_to_FLOAT_expanded",
        "test_castlike_UINT4_to_UINT8_expanded",
    ),
    **_because(
        "uint64 tensors: a dtype the engine does not store",
        "test_add_uint64", "test_div_uint64", "test_equal_uint64", "test_greater_equal_uint64",
        "test_greater_equal_uint64_expanded", "test_greater_uint64", "test_less_equal_uint64",
        "test_less_equal_uint64_expanded", "test_less_uint64", "test_max_uint64", "test_min_uint64",
        "test_mod_uint64", "test_mul_uint64", "test_pow_types_float32_uint64", "test_sub_uint64", "test_top_k_uint64",
    ),
    **_because(
        "Cast to bfloat16: a dtype the engine does not store",
        "test_cast_FLOAT_to_BFLOAT16",
    ),
    **_because(
        "Cast to float64: a dtype the engine does not store",
        "test_cast_FLOAT16_to_DOUBLE", "test_cast_FLOAT_to_DOUBLE",
    ),
    **_because(
        "Cast to float4e2m1: a dtype the engine does not store",
        "test_cast_FLOAT16_to_FLOAT4E2M1", "test_cast_FLOAT_to_FLOAT4E2M1",
    ),
    **_because(
        "Cast to float8e4m3fn: a dtype the engine does not store",
        "test_cast_FLOAT16_to_FLOAT8E4M3FN", "test_cast_FLOAT_to_FLOAT8E4M3FN",
        "test_cast_no_saturate_FLOAT16_to_FLOAT8E4M3FN", "test_cast_no_saturate_FLOAT_to_FLOAT8E4M3FN",
    ),
    **_because(
        "Cast to float8e4m3fnuz: a dtype the engine does not store",
        "test_cast_FLOAT16_to_FLOAT8E4M3FNUZ", "test_cast_FLOAT_to_FLOAT8E4M3FNUZ",
        "test_cast_no_saturate_FLOAT16_to_FLOAT8E4M3FNUZ", "test_cast_no_saturate_FLOAT_to_FLOAT8E4M3FNUZ",
    ),
    **_because(
        "Cast to float8e5m2: a dtype the engine does not store",
        "test_cast_FLOAT16_to_FLOAT8E5M2", "test_cast_FLOAT_to_FLOAT8E5M2",
        "test_cast_no_saturate_FLOAT16_to_FLOAT8E5M2", "test_cast_no_saturate_FLOAT_to_FLOAT8E5M2",
    ),
    **_because(
        "Cast to float8e5m2fnuz: a dtype the engine does not store",
        "test_cast_FLOAT16_to_FLOAT8E5M2FNUZ", "test_cast_FLOAT_to_FLOAT8E5M2FNUZ",
        "test_cast_no_saturate_FLOAT16_to_FLOAT8E5M2FNUZ", "test_cast_no_saturate_FLOAT_to_FLOAT8E5M2FNUZ",
    ),
    **_because(
        "Cast to float8e8m0: a dtype the engine does not store",
        "test_cast_e8m0_FLOAT16_to_FLOAT8E8M0", "test_cast_e8m0_FLOAT_to_FLOAT8E8M0",
    ),
    **_because(
        "Cast to int2: a dtype the engine does not store",
        "test_cast_FLOAT16_to_INT2", "test_cast_FLOAT_to_INT2",
    ),
    **_because(
        "Cast to int4: a dtype the engine does not store",
        "test_cast_FLOAT16_to_INT4", "test_cast_FLOAT_to_INT4",
    ),
    **_because(
        "Cast to uint2: a dtype the engine does not store",
        "test_cast_FLOAT16_to_UINT2", "test_cast_FLOAT_to_UINT2",
    ),
    **_because(
        "Cast to uint4: a dtype the engine does not store",
        "test_cast_FLOAT16_to_UINT4", "test_cast_FLOAT_to_UINT4",
    ),
    **_because(
        "3-D convolution and pooling: only 1-D and 2-D are implemented",
        "test_AvgPool3d", "test_AvgPool3d_stride", "test_AvgPool3d_stride1_pad0_gpu_input", "test_Conv3d",
        "test_Conv3d_dilated", "test_Conv3d_dilated_strided", "test_Conv3d_groups", "test_Conv3d_no_bias",
        "test_Conv3d_stride", "test_Conv3d_stride_padding", "test_MaxPool3d", "test_MaxPool3d_stride",
        "test_MaxPool3d_stride_padding", "test_averagepool_3d_default",
        "test_averagepool_3d_dilations_large_count_include_pad_is_0_ceil_mode_is_False",
        "test_averagepool_3d_dilations_large_count_include_pad_is_0_ceil_mode_is_True",
        "test_averagepool_3d_dilations_large_count_include_pad_is_1_ceil_mode_is_False",
        "test_averagepool_3d_dilations_large_count_include_pad_is_1_ceil_mode_is_True",
        "test_averagepool_3d_dilations_small", "test_convtranspose_3d", "test_maxpool_3d_default",
        "test_maxpool_3d_dilations", "test_maxpool_3d_dilations_use_ref_impl",
        "test_maxpool_3d_dilations_use_ref_impl_large",
    ),
    **_because(
        "MaxPool with the optional Indices output: not implemented",
        "test_maxpool_with_argmax_2d_precomputed_pads", "test_maxpool_with_argmax_2d_precomputed_strides",
    ),
    **_because(
        "Pad mode wrap: not implemented (constant, reflect, edge are)",
        "test_wrap_pad",
    ),
    **_because(
        "int8/uint8 math: the engine stores these dtypes but computes on float32, int64 and int32 only",
        "test_add_int8", "test_add_uint8", "test_clip_default_int8_inbounds", "test_clip_default_int8_max",
        "test_clip_default_int8_max_expanded", "test_clip_default_int8_min", "test_clip_default_int8_min_expanded",
        "test_div_int8", "test_div_uint8", "test_equal_int8", "test_equal_uint8", "test_greater_equal_int8",
        "test_greater_equal_int8_expanded", "test_greater_equal_uint8", "test_greater_equal_uint8_expanded",
        "test_greater_int8", "test_greater_uint8", "test_less_equal_int8", "test_less_equal_int8_expanded",
        "test_less_equal_uint8", "test_less_equal_uint8_expanded", "test_less_int8", "test_less_uint8",
        "test_max_int8", "test_max_uint8", "test_min_int8", "test_min_uint8",
        "test_mod_mixed_sign_int8", "test_mod_uint8", "test_mul_int8", "test_mul_uint8", "test_sub_int8",
        "test_sub_uint8",
    ),
    **_because(
        "optional and sequence values: the engine only has tensors",
        "test_identity_opt", "test_identity_sequence",
    ),
    **_because(
        "float8, float4, int16, int4 and int2 quantization: QuantizeLinear/DequantizeLinear take int8 and uint8",
        "test_dequantizelinear_e4m3fn", "test_dequantizelinear_e4m3fn_float16",
        "test_dequantizelinear_e4m3fn_zero_point", "test_dequantizelinear_e5m2",
        "test_dequantizelinear_float4e2m1", "test_dequantizelinear_int16", "test_dequantizelinear_int2",
        "test_dequantizelinear_int4", "test_dequantizelinear_uint16", "test_dequantizelinear_uint2",
        "test_dequantizelinear_uint4", "test_quantizelinear_blocked_symmetric", "test_quantizelinear_e4m3fn",
        "test_quantizelinear_e5m2", "test_quantizelinear_float4e2m1", "test_quantizelinear_int16",
        "test_quantizelinear_int2", "test_quantizelinear_int4", "test_quantizelinear_uint16",
        "test_quantizelinear_uint2", "test_quantizelinear_uint4",
    ),
    **_because(
        "training mode: the engine runs inference only",
        "test_batchnorm_epsilon_training_mode", "test_batchnorm_example_training_mode", "test_training_dropout",
        "test_training_dropout_default", "test_training_dropout_default_mask", "test_training_dropout_mask",
        "test_training_dropout_zero_ratio", "test_training_dropout_zero_ratio_mask",
    ),
}

# CastLike's own cases fail exactly where their expanded forms (a Cast) do.
EXCLUDED.update({name.removesuffix("_expanded"): reason for name, reason in EXCLUDED.items()
                 if name.startswith("test_castlike_") and name.endswith("_expanded")})


# Further cases the GPU devices (metal, metal-sim) reject with a clear error: none today; every case the
# cpu device runs runs on them too (tests/python/test_kernel_names.py walks the dtypes beyond these).
EXCLUDED_GPU: dict[str, str] = {}


def excluded(device: str) -> dict[str, str]:
    """The exclusions that apply on `device`."""
    return EXCLUDED if device == "cpu" else {**EXCLUDED, **EXCLUDED_GPU}


def case_model(case) -> onnx.ModelProto:
    """The case's ONNX model (loaded from its file when not in memory)."""
    if case.model is not None:
        return case.model
    return onnx.load(os.path.join(case.model_dir, "model.onnx"))


def case_op_types(case) -> set[str]:
    """The op types of the case's graph and its sub-graphs, domain-qualified outside the default domain."""
    ops: set[str] = set()

    def visit(graph: onnx.GraphProto) -> None:
        for n in graph.node:
            ops.add(n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}.{n.op_type}")
            for attr in n.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    visit(attr.g)

    visit(case_model(case).graph)
    return ops


def case_inputs(case) -> list[np.ndarray]:
    """The inputs of the case's first data set."""
    if case.data_sets:
        return list(case.data_sets[0][0])
    files = sorted(glob.glob(os.path.join(case.model_dir, "test_data_set_0", "input_*.pb")))
    return [numpy_helper.to_array(onnx.load_tensor(f)) for f in files]


def device_op_types(device: str) -> set[str]:
    """The op types `device` runs: the engine's, less those the GPU devices have no kernel for, and the
    quantized ops the importer lowers to ops every device runs."""
    ops = set(native.supported_ops())
    if device != "cpu":
        ops &= set(native._gpu_lowered_ops())
    return ops | {"Constant"} | qlinear.ONNX_OPS


def _load_cases(kind: str, ops: set[str] | None) -> list:
    """The cases of `kind`. onnx builds the node cases by running every op's reference implementation
    (tens of seconds); given `ops`, only the modules of those ops are imported (onnx names each after
    its op in lower case), which is enough for the cases that use nothing else."""
    if kind != "node" or ops is None:
        return load_model_tests(kind=kind)
    from onnx.backend.test.case import node

    for op in ops:
        try:
            importlib.import_module(f"{node.__name__}.{op.lower()}")
        except ImportError:
            pass
    return list(node._NodeTestCases)


def select_cases(device: str = "cpu", ops: set[str] | None = None) -> tuple[dict[str, set[str]], Counter, dict]:
    """Returns (case name -> op types) for every case `device` can run, a count of cases per op it cannot,
    and the runnable cases by name; given `ops`, only cases that use one of them.

    Every dtype runs on every device, so that a GPU kernel reading a dtype wrongly cannot hide."""
    supported = device_op_types(device)
    selected: dict[str, set[str]] = {}
    unsupported: Counter = Counter()
    runnable = {}
    for kind in KINDS:
        for case in _load_cases(kind, ops):
            try:
                ops_used = case_op_types(case)
            except Exception:  # a case whose files are absent from this onnx release
                continue
            if ops is not None and not ops_used & ops:
                continue
            missing = ops_used - supported
            if missing:
                unsupported.update(missing)
            else:
                selected[case.name] = ops_used
                runnable[case.name] = case
    return selected, unsupported, runnable
