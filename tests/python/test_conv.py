"""Conv against ONNX Runtime: groups, depthwise, strides, pads, dilation, auto_pad, bias, fused
activations. On the CPU the cases reach im2col and 1x1 (BLAS, packed and direct GEMM), depthwise, narrow
groups, Winograd and the GEMM per tap; on GPU devices every kernel: tiled 1x1 / 3x3 / general with tiles of 32 or 8 channels
(partial tiles, K chunks of 16), depthwise 3x3 stride 1 / 2 and general."""

import os
import subprocess
import sys

import pytest
from onnx import helper

import metalnn

from op_check import OPSETS, check_model, check_op, const, make_model

# name: (input shape, weight shape, attributes)
CONV_CASES = {
    "3x3": ((2, 3, 13, 13), (8, 3, 3, 3), {}),
    "1x1": ((2, 13, 7, 7), (7, 13, 1, 1), {}),
    "1x1_stride2": ((2, 13, 7, 7), (5, 13, 1, 1), {"strides": [2, 2]}),
    "3x3_pad1": ((2, 3, 13, 13), (5, 3, 3, 3), {"pads": [1, 1, 1, 1]}),
    "3x3_stride2_pad1": ((2, 3, 13, 13), (5, 3, 3, 3), {"strides": [2, 2], "pads": [1, 1, 1, 1]}),
    "7x7_stride2_pad3": ((1, 3, 29, 29), (8, 3, 7, 7), {"strides": [2, 2], "pads": [3, 3, 3, 3]}),
    "asymmetric_pads": ((2, 3, 13, 11), (4, 3, 3, 3), {"pads": [0, 1, 2, 3]}),
    "rectangular_kernel": ((2, 3, 13, 13), (4, 3, 3, 5), {"strides": [1, 2], "pads": [1, 2, 1, 2]}),
    "dilation2": ((2, 3, 13, 13), (4, 3, 3, 3), {"dilations": [2, 2], "pads": [2, 2, 2, 2]}),
    "dilation_rect": ((1, 4, 13, 13), (3, 4, 3, 3), {"dilations": [1, 3], "strides": [2, 1]}),
    "kernel_shape_attr": ((2, 3, 7, 7), (4, 3, 3, 3), {"kernel_shape": [3, 3]}),
    "many_channels": ((1, 129, 7, 7), (13, 129, 3, 3), {"pads": [1, 1, 1, 1]}),
    "groups3": ((2, 6, 9, 9), (9, 2, 3, 3), {"group": 3, "pads": [1, 1, 1, 1]}),
    "groups2_1x1": ((2, 8, 7, 7), (6, 4, 1, 1), {"group": 2}),
    "depthwise": ((2, 7, 13, 13), (7, 1, 3, 3), {"group": 7, "pads": [1, 1, 1, 1]}),
    "depthwise_stride2": ((2, 13, 13, 13), (13, 1, 3, 3), {"group": 13, "strides": [2, 2],
                                                            "pads": [1, 1, 1, 1]}),
    "depthwise_5x5_dilated": ((1, 7, 13, 13), (7, 1, 5, 5), {"group": 7, "dilations": [2, 2],
                                                             "pads": [4, 3, 4, 3]}),
    "depthwise_multiplier2": ((2, 4, 9, 9), (8, 1, 3, 3), {"group": 4, "strides": [2, 2]}),
    "same_upper": ((2, 3, 13, 13), (4, 3, 4, 4), {"auto_pad": "SAME_UPPER", "strides": [2, 2]}),
    "same_lower": ((2, 3, 13, 13), (4, 3, 4, 4), {"auto_pad": "SAME_LOWER", "strides": [2, 2]}),
    "same_upper_stride1": ((2, 3, 7, 7), (4, 3, 3, 2), {"auto_pad": "SAME_UPPER"}),
    "valid": ((2, 3, 13, 13), (4, 3, 3, 3), {"auto_pad": "VALID", "strides": [2, 2]}),
    "notset": ((2, 3, 13, 13), (4, 3, 3, 3), {"auto_pad": "NOTSET", "pads": [1, 0, 1, 0]}),
    "conv1d": ((2, 5, 13), (7, 5, 3), {"pads": [1, 2], "strides": [2]}),
    "odd_7x9_13ch": ((2, 13, 7, 9), (13, 13, 3, 3), {"pads": [1, 1, 1, 1]}),
    "two_tiles_37_out": ((1, 5, 9, 7), (37, 5, 3, 3), {"pads": [1, 0, 2, 1]}),
    "1x1_stride2_pads": ((2, 13, 7, 9), (19, 13, 1, 1), {"strides": [2, 2], "pads": [1, 0, 0, 1]}),
    "5x5": ((2, 3, 11, 9), (12, 3, 5, 5), {"pads": [2, 2, 2, 2]}),
    "tiny_input": ((3, 4, 2, 3), (5, 4, 3, 3), {"pads": [1, 1, 1, 1]}),
    "groups2_stride2": ((2, 8, 9, 7), (10, 4, 3, 3), {"group": 2, "strides": [2, 2], "pads": [1, 1, 1, 1]}),
    "one_input_channel": ((2, 1, 9, 9), (6, 1, 3, 3), {}),
    "depthwise_odd_asymmetric": ((2, 13, 7, 9), (13, 1, 3, 3), {"group": 13, "pads": [0, 1, 2, 1]}),
    "depthwise_7x7": ((1, 5, 9, 11), (5, 1, 7, 7), {"group": 5, "pads": [3, 3, 3, 3]}),
    "depthwise_strides_1x2": ((2, 6, 9, 9), (6, 1, 3, 3), {"group": 6, "strides": [1, 2], "pads": [1, 1, 1, 1]}),
    "depthwise_tiny": ((1, 3, 1, 2), (3, 1, 3, 3), {"group": 3, "pads": [1, 1, 1, 1], "strides": [2, 2]}),
    # With AVX-512 the CPU runs 2-D depthwise convolutions up to 32 wide, or with >= 25 taps, 16
    # channels per vector (at multipliers above 1 only planes at most 16 wide): partial channel blocks,
    # two-row blocks and the lone last row, rows that reach only padding, strides 1, 2 and 3, dilation,
    # kernel widths with and without weights held in registers, and rows wider than one block of 14
    # outputs. 1-D ones, wide 3x3 ones, wide ones at multiplier 2 and planes over 160 x 160 padded keep
    # the per-plane kernel.
    "depthwise_blocks_partial": ((2, 21, 9, 11), (21, 1, 3, 3), {"group": 21, "pads": [1, 1, 1, 1]}),
    "depthwise_7x7_on_7x7": ((2, 19, 7, 7), (19, 1, 7, 7), {"group": 19, "pads": [3, 3, 3, 3]}),
    "depthwise_rows_in_padding": ((2, 17, 5, 6), (17, 1, 3, 3), {"group": 17, "pads": [4, 1, 3, 2]}),
    "depthwise_5x5_stride2_odd": ((2, 18, 15, 13), (18, 1, 5, 5), {"group": 18, "strides": [2, 2],
                                                                  "pads": [2, 2, 2, 2]}),
    "depthwise_stride3_dilated": ((1, 16, 17, 19), (16, 1, 3, 3), {"group": 16, "strides": [3, 3],
                                                                  "dilations": [2, 1], "pads": [1, 2, 0, 1]}),
    "depthwise_multiplier3": ((2, 6, 8, 8), (18, 1, 3, 3), {"group": 6, "pads": [1, 0, 1, 0]}),
    "depthwise_wide_5x5": ((2, 9, 11, 37), (9, 1, 5, 5), {"group": 9, "pads": [2, 2, 2, 2]}),
    "depthwise_wide_7x7_dilated": ((1, 17, 13, 33), (17, 1, 7, 7), {"group": 17, "dilations": [2, 2],
                                                                    "pads": [6, 5, 6, 7]}),
    "depthwise_3x3_29_wide": ((1, 17, 6, 29), (17, 1, 3, 3), {"group": 17, "pads": [1, 1, 1, 1]}),
    "depthwise_wide_3x3": ((2, 5, 9, 37), (5, 1, 3, 3), {"group": 5, "pads": [1, 1, 1, 1]}),
    "depthwise_wide_4x6": ((1, 20, 9, 31), (20, 1, 4, 6), {"group": 20, "pads": [2, 3, 1, 2]}),
    "depthwise_multiplier2_wide": ((2, 3, 7, 37), (6, 1, 3, 3), {"group": 3, "pads": [1, 1, 1, 1]}),
    "depthwise_large_plane": ((1, 3, 170, 165), (3, 1, 5, 5), {"group": 3, "pads": [2, 2, 2, 2]}),
    "depthwise_1d": ((2, 7, 40), (7, 1, 9), {"group": 7, "pads": [4, 3]}),
    # 3x3 stride 1, >= 32 input channels, >= 8x8 outputs: the CPU's Winograd path (odd sizes, partial
    # vectors of tiles, several row chunks, asymmetric and no padding).
    "winograd_odd": ((2, 33, 11, 9), (17, 33, 3, 3), {"pads": [1, 1, 1, 1]}),
    "winograd_asymmetric": ((1, 40, 10, 21), (9, 40, 3, 3), {"pads": [0, 2, 1, 0]}),
    "winograd_wide": ((1, 32, 9, 40), (8, 32, 3, 3), {"pads": [1, 1, 1, 1]}),
    "winograd_row_chunks": ((1, 32, 40, 12), (5, 32, 3, 3), {"pads": [1, 1, 1, 1]}),
    "winograd_valid": ((2, 32, 10, 12), (3, 32, 3, 3), {}),
    "winograd_16ch": ((2, 16, 13, 11), (24, 16, 3, 3), {"pads": [1, 1, 1, 1]}),
    # Outputs of 6x6 to 8x8 (with AVX-512): F(2x2, 3x3) with an image's 4x4 grid of tiles per vector and
    # the batch side by side (grid tiles past the map, asymmetric and no padding, 6 to 8 rows and columns).
    "winograd_small_7x7": ((3, 33, 7, 7), (19, 33, 3, 3), {"pads": [1, 1, 1, 1]}),
    "winograd_small_8x8_one_image": ((1, 40, 8, 8), (16, 40, 3, 3), {"pads": [1, 1, 1, 1]}),
    "winograd_small_6x8_asymmetric": ((2, 32, 6, 7), (9, 32, 3, 3), {"pads": [0, 2, 2, 1]}),
    "winograd_small_valid": ((5, 36, 9, 10), (7, 36, 3, 3), {}),
    "winograd_below_6x6_im2col": ((2, 32, 5, 9), (8, 32, 3, 3), {"pads": [1, 1, 1, 1]}),
    # Outputs of 10x10 to 16x16, at least 4 images: the same with F(4x4, 3x3) (13x13 as AlexNet's, 16x16
    # filling the grid); fewer images keep the rows of F(2x2, 3x3).
    "winograd_grid_f4_13x13": ((4, 35, 13, 13), (21, 35, 3, 3), {"pads": [1, 1, 1, 1]}),
    "winograd_grid_f4_16x16": ((4, 32, 16, 16), (17, 32, 3, 3), {"pads": [1, 1, 1, 1]}),
    "winograd_grid_f4_10x15_asymmetric": ((5, 33, 11, 14), (6, 33, 3, 3), {"pads": [0, 2, 1, 1]}),
    "winograd_grid_f4_valid": ((4, 40, 16, 12), (5, 40, 3, 3), {}),
    "winograd_rows_16x16_three_images": ((3, 32, 16, 16), (17, 32, 3, 3), {"pads": [1, 1, 1, 1]}),
    # Grid forms whose product would not stay in L2: GEMMs and output transform per block of 28 output
    # channels (a partial last block) and share of the images (5 images: 2 and 3 at two threads).
    "winograd_grid_f4_blocked": ((5, 20, 13, 13), (100, 20, 3, 3), {"pads": [1, 1, 1, 1]}),
    "winograd_grid_f4_blocked_asymmetric": ((4, 17, 12, 15), (120, 17, 3, 3), {"pads": [0, 2, 1, 1]}),
    "winograd_grid_f2_blocked": ((8, 16, 7, 7), (150, 16, 3, 3), {"pads": [1, 1, 1, 1]}),
    # Outputs of at least 17x17: F(4x4, 3x3) (partial vectors of tiles, partial 4x4 blocks, row chunks).
    "winograd_f4_17x17": ((3, 16, 17, 17), (13, 16, 3, 3), {"pads": [1, 1, 1, 1]}),
    "winograd_f4_27x27": ((2, 35, 27, 27), (19, 35, 3, 3), {"pads": [1, 1, 1, 1]}),
    "winograd_f4_19x23_asymmetric": ((1, 24, 20, 23), (11, 24, 3, 3), {"pads": [0, 2, 1, 0]}),
    "winograd_f4": ((1, 32, 30, 33), (7, 32, 3, 3), {"pads": [1, 1, 1, 1]}),
    "winograd_f4_asymmetric": ((2, 33, 61, 29), (5, 33, 3, 3), {"pads": [0, 2, 1, 0]}),
    "winograd_f4_wide": ((1, 40, 31, 71), (9, 40, 3, 3), {}),
    # Padded rows exactly filling their last 32 columns (the phase split reads whole groups of 32).
    "winograd_f4_32_wide": ((2, 32, 28, 32), (4, 32, 3, 3), {"pads": [1, 1, 1, 1]}),
    "winograd_f4_pad_left2": ((1, 33, 29, 30), (5, 33, 3, 3), {"pads": [0, 2, 1, 2]}),
    # 1x1 with <= 32 inputs and >= 64 outputs: the CPU's direct pointwise kernel.
    "pointwise_direct": ((2, 16, 7, 9), (67, 16, 1, 1), {}),
    "pointwise_direct_blocks": ((1, 24, 29, 23), (64, 24, 1, 1), {}),
    "pointwise_projection": ((2, 97, 29, 29), (26, 97, 1, 1), {}),
    # At most 16 outputs over a map of >= 256 pixels: with AVX-512 the direct kernel's 8-channel tiles
    # (partial row tiles, partial 32- and 16-column tiles, several 512-pixel blocks).
    "pointwise_direct_narrow": ((2, 40, 19, 23), (13, 40, 1, 1), {}),
    "pointwise_direct_narrow_blocks": ((1, 8, 30, 30), (16, 8, 1, 1), {}),
    # Up to 32 outputs when the input (all images) is over 2^20 floats: the same kernel, 4 row tiles.
    "pointwise_direct_narrow_uncached": ((3, 130, 53, 51), (29, 130, 1, 1), {}),
    # Few taps x channels and >= 32 outputs: the CPU's direct GEMM on im2col tiles.
    "im2col_direct_stem": ((2, 3, 29, 31), (34, 3, 3, 3), {"strides": [2, 2], "pads": [1, 1, 1, 1]}),
    "im2col_direct_16ch": ((1, 16, 23, 21), (40, 16, 3, 3), {"pads": [1, 1, 1, 1]}),
    # Maps that fill too few lanes of the packed GEMM's vectors (7x7, 3x11), outputs a multiple of 16
    # and no more than the reduction, one image: the CPU runs the GEMM transposed (K over two blocks, a
    # ragged last panel of outputs).
    "pointwise_transposed": ((1, 50, 7, 7), (48, 50, 1, 1), {}),
    "pointwise_transposed_deep": ((1, 600, 3, 11), (32, 600, 1, 1), {}),
    "pointwise_transposed_wide": ((1, 96, 7, 7), (80, 96, 1, 1), {}),
    "im2col_transposed_stride2": ((1, 24, 13, 13), (32, 24, 3, 3), {"strides": [2, 2], "pads": [1, 1, 1, 1]}),
    # Several images on maps of at most 256 pixels: one packed GEMM whose columns run over the batch
    # (1x1 straight from the input, the rest through one im2col matrix; register tiles across two
    # images, K over two blocks); an im2col matrix too big for that keeps one GEMM per image.
    "batched_pointwise_7x7": ((8, 37, 7, 7), (48, 37, 1, 1), {}),
    "batched_pointwise_1x1_map": ((3, 45, 1, 1), (33, 45, 1, 1), {}),
    "batched_pointwise_5x7_deep": ((2, 600, 5, 7), (19, 600, 1, 1), {}),
    "batched_pointwise_14x14": ((2, 40, 14, 14), (35, 40, 1, 1), {}),
    "batched_1x1_stride2": ((3, 41, 14, 13), (50, 41, 1, 1), {"strides": [2, 2]}),
    "batched_3x3_7x7": ((8, 35, 7, 7), (21, 35, 3, 3), {"pads": [1, 1, 1, 1]}),
    "batched_3x3_stride2": ((3, 19, 14, 14), (24, 19, 3, 3), {"strides": [2, 2], "pads": [1, 1, 1, 1]}),
    "batched_3x3_5x7": ((2, 17, 5, 7), (13, 17, 3, 3), {"pads": [1, 1, 1, 1]}),
    "im2col_per_image_deep": ((3, 800, 16, 16), (5, 800, 3, 2), {}),
    # Output rows at most 32 wide, stride 1 or 2: with AVX-512 one or two masked vectors per row of each
    # tap (rows exactly 16 or 32 wide, a partial second vector, im2col tiles ending mid-row, dilation
    # with stride 2, padding on one side).
    "narrow_im2col_16_wide_stride2": ((2, 9, 15, 31), (7, 9, 3, 3), {"strides": [2, 2], "pads": [1, 1, 1, 1]}),
    "narrow_im2col_tiles_mid_row": ((1, 600, 22, 16), (5, 600, 3, 3), {"pads": [1, 1, 1, 1]}),
    "narrow_im2col_dilated_stride2": ((1, 5, 13, 20), (6, 5, 3, 3), {"strides": [2, 2], "dilations": [2, 3],
                                                                     "pads": [0, 3, 2, 1]}),
    "narrow_im2col_32_wide": ((2, 5, 6, 32), (4, 5, 3, 3), {"pads": [1, 1, 1, 1]}),
    "narrow_im2col_29_wide_stride2": ((1, 7, 9, 57), (6, 7, 3, 3), {"strides": [2, 2], "pads": [1, 1, 1, 1]}),
    "narrow_im2col_two_vectors_mid_row": ((1, 700, 12, 30), (4, 700, 3, 3), {"pads": [1, 1, 1, 1]}),
    # Rows up to 64 wide (four vectors), and strides above 2 (gathered): AlexNet's 11x11 stride-4 stem.
    "narrow_im2col_64_wide": ((2, 3, 5, 64), (5, 3, 3, 3), {"pads": [1, 1, 1, 1]}),
    "narrow_im2col_stride4_11x11": ((2, 3, 63, 67), (9, 3, 11, 11), {"strides": [4, 4], "pads": [2, 2, 2, 2]}),
    # Stride 4 (four loads and permutes per vector): three vectors, the last of 15 lanes, padding on
    # both sides; dilated; 1-D.
    "narrow_im2col_stride4_47_wide": ((1, 3, 30, 190), (6, 3, 11, 11), {"strides": [4, 4], "pads": [2, 3, 1, 5]}),
    "narrow_im2col_stride4_dilated": ((2, 4, 21, 101), (5, 4, 3, 3), {"strides": [4, 4], "dilations": [2, 3],
                                                                     "pads": [1, 0, 2, 4]}),
    "narrow_im2col_conv1d_stride4": ((2, 6, 170), (5, 6, 5), {"strides": [4], "pads": [1, 2]}),
    "narrow_im2col_stride3_dilated": ((1, 5, 20, 150), (4, 5, 3, 4), {"strides": [3, 3], "dilations": [1, 2],
                                                                     "pads": [1, 3, 0, 2]}),
    "narrow_im2col_conv1d_stride3": ((2, 6, 170), (5, 6, 7), {"strides": [3], "pads": [3, 2]}),
    # 1x1 through the packed GEMM with a ragged last tile of rows and columns; and with a short K over
    # a long map (tiles row panel by row panel).
    "pointwise_packed": ((2, 40, 9, 11), (45, 40, 1, 1), {}),
    "pointwise_row_panels": ((1, 100, 40, 41), (83, 100, 1, 1), {}),
    # Dilated or padding-heavy windows: the CPU's GEMM per tap over the outputs it reaches (ASPP heads:
    # taps reaching part of the map, or none of it; whole output rows and partial ones).
    "aspp_partial_taps": ((2, 20, 14, 15), (11, 20, 3, 3), {"dilations": [6, 6], "pads": [6, 6, 6, 6]}),
    "aspp_dead_taps": ((2, 8, 9, 7), (5, 8, 3, 3), {"dilations": [9, 9], "pads": [9, 9, 9, 9]}),
    "dilated_strided": ((1, 6, 17, 16), (7, 6, 3, 3), {"dilations": [3, 2], "strides": [2, 2], "pads": [2, 3, 1, 2]}),
    "dilated_5x3_asymmetric": ((2, 3, 11, 12), (4, 3, 5, 3), {"dilations": [2, 4], "pads": [4, 0, 3, 5]}),
    "padding_heavy_5x5": ((1, 5, 3, 4), (6, 5, 5, 5), {"pads": [2, 2, 2, 2]}),
    # Narrow groups (2 to 64 input channels each): the CPU's grouped kernel, vectors of output pixels x
    # register blocks of a group's output channels (partial blocks, leftover vectors, stride phases,
    # dilation, asymmetric padding, bands of rows for small batches and for deep groups on wide maps).
    "grouped_w2": ((2, 10, 9, 11), (10, 2, 3, 3), {"group": 5, "pads": [1, 1, 1, 1]}),
    "grouped_w3_stride2": ((3, 12, 13, 11), (8, 3, 3, 3), {"group": 4, "strides": [2, 2], "pads": [1, 1, 1, 1]}),
    "grouped_w8_7x7": ((2, 48, 7, 7), (48, 8, 3, 3), {"group": 6, "pads": [1, 1, 1, 1]}),
    "grouped_w8_stride2": ((2, 40, 14, 13), (40, 8, 3, 3), {"group": 5, "strides": [2, 2], "pads": [1, 1, 1, 1]}),
    "grouped_w16_dilated": ((2, 32, 11, 12), (48, 16, 3, 3), {"group": 2, "dilations": [2, 2], "pads": [2, 2, 2, 2]}),
    "grouped_w24_asymmetric": ((1, 48, 9, 10), (22, 24, 3, 3), {"group": 2, "pads": [0, 1, 2, 3]}),
    "grouped_5x3_strides_1x2": ((2, 16, 10, 9), (6, 8, 5, 3), {"group": 2, "strides": [1, 2], "pads": [2, 1, 2, 1]}),
    "grouped_stride3_dilated": ((2, 12, 17, 16), (6, 6, 3, 3), {"group": 2, "strides": [3, 3], "dilations": [2, 1],
                                                                "pads": [1, 2, 0, 1]}),
    "grouped_w64_odd_outputs": ((1, 128, 7, 7), (70, 64, 3, 3), {"group": 2, "pads": [1, 1, 1, 1]}),
    "grouped_deep_wide_rows": ((1, 128, 6, 128), (8, 64, 3, 3), {"group": 2, "pads": [1, 1, 1, 1]}),
    "grouped_row_bands": ((1, 8, 40, 37), (12, 4, 3, 3), {"group": 2, "pads": [1, 1, 1, 1]}),
    "grouped_1d": ((2, 12, 30), (9, 4, 5), {"group": 3, "pads": [2, 1]}),
    "grouped_four_outputs_six_vectors": ((2, 8, 8, 9), (8, 4, 3, 3), {"group": 2, "pads": [1, 1, 1, 1]}),
    # Taps reading only some stride phases (1x1 stride 2; even offsets at stride 2, dilation 2).
    "grouped_1x1_stride2": ((2, 12, 9, 8), (9, 4, 1, 1), {"group": 3, "strides": [2, 2]}),
    "grouped_stride2_dilation2": ((1, 8, 15, 14), (4, 4, 3, 3), {"group": 2, "strides": [2, 2], "dilations": [2, 2],
                                                                 "pads": [2, 2, 2, 2]}),
    # At most 4 input channels, stride 2: the CPU's direct stem kernel (partial blocks of 8 and 4
    # channels, partial last tiles of 32 / 24 columns and exactly full ones, several row bands and a
    # short last one, padding on any side, dilation, rectangular kernels).
    "stem_3x3_odd": ((3, 3, 33, 35), (13, 3, 3, 3), {"strides": [2, 2]}),
    "stem_3x3_wide": ((2, 3, 40, 75), (32, 3, 3, 3), {"strides": [2, 2], "pads": [1, 1, 1, 1]}),
    "stem_7x7_pad3": ((2, 3, 37, 41), (20, 3, 7, 7), {"strides": [2, 2], "pads": [3, 3, 3, 3]}),
    "stem_1ch_dilated": ((2, 1, 30, 27), (9, 1, 5, 5), {"strides": [2, 2], "dilations": [2, 1],
                                                         "pads": [2, 0, 3, 4]}),
    "stem_4ch_asymmetric": ((1, 4, 18, 70), (36, 4, 3, 4), {"strides": [2, 2], "pads": [0, 2, 1, 3]}),
    "stem_full_tiles": ((2, 2, 20, 64), (8, 2, 3, 3), {"strides": [2, 2], "pads": [1, 1, 1, 1]}),
    # Strided im2col: deep (two K blocks, ragged last panels) over tiles of a wide map, and one GEMM over
    # a batch of small maps; 1x1 stride 2 with padding.
    "im2col_3x3_stride2_tiles": ((1, 70, 41, 39), (17, 70, 3, 3), {"strides": [2, 2], "pads": [1, 0, 1, 1]}),
    "im2col_3x3_stride2_batched": ((2, 70, 15, 13), (21, 70, 3, 3), {"strides": [2, 2], "pads": [1, 1, 1, 1]}),
    # Deep enough (K 1170) for the fewest columns a tile may have, over a map of more than 256 outputs.
    "im2col_3x3_stride2_deep_tiles": ((2, 130, 34, 34), (20, 130, 3, 3), {"strides": [2, 2], "pads": [1, 1, 1, 1]}),
    "im2col_1x1_stride2_padded": ((1, 24, 37, 35), (40, 24, 1, 1), {"strides": [2, 2], "pads": [0, 1, 1, 0]}),
    "im2col_1x1_stride2_batched": ((3, 24, 13, 11), (33, 24, 1, 1), {"strides": [2, 2]}),
    # 1x1 on one position per image (a squeeze-excitation's layers on pooled channels): with AVX2 or
    # AVX-512 the CPU's matrix-vector kernel, up to four images per pass (a partial last pass), partial
    # vectors of inputs and groups of four outputs.
    "pooled_1x1_one_image": ((1, 96, 1, 1), (130, 96, 1, 1), {}),
    "pooled_1x1_three_images": ((3, 21, 1, 1), (37, 21, 1, 1), {}),
    "pooled_1x1_six_images": ((6, 40, 1, 1), (16, 40, 1, 1), {}),
}


@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("case", CONV_CASES.values(), ids=CONV_CASES.keys())
def test_conv(case, with_bias, target, rng):
    x_shape, w_shape, attributes = case
    x = rng.standard_normal(x_shape, dtype="float32")
    w = rng.standard_normal(w_shape, dtype="float32")
    bias = [const(rng.standard_normal(w_shape[0], dtype="float32"))] if with_bias else []
    check_op("Conv", [x, const(w), *bias], target, attributes)


@pytest.mark.parametrize("opset", OPSETS)
def test_conv_opsets(opset, target, rng):
    x = rng.standard_normal((2, 4, 9, 9), dtype="float32")
    w = const(rng.standard_normal((6, 2, 3, 3), dtype="float32"))
    b = const(rng.standard_normal(6, dtype="float32"))
    check_op("Conv", [x, w, b], target, {"group": 2, "strides": [2, 2], "pads": [1, 1, 1, 1]},
             opset=opset)


def test_conv_weight_as_graph_input(target, rng):
    """Weights fed at run time rather than stored in the model."""
    x = rng.standard_normal((2, 3, 9, 9), dtype="float32")
    w = rng.standard_normal((4, 3, 3, 3), dtype="float32")
    check_op("Conv", [x, w], target, {"pads": [1, 1, 1, 1]})


def test_grouped_weight_as_graph_input(target, rng):
    """Grouped weights fed at run time: the CPU blocks them for its grouped kernel on every run."""
    x = rng.standard_normal((2, 24, 9, 10), dtype="float32")
    w = rng.standard_normal((30, 8, 3, 3), dtype="float32")
    b = rng.standard_normal(30, dtype="float32")
    check_op("Conv", [x, w, b], target, {"group": 3, "pads": [1, 1, 1, 1]})


# Weights fed at run time on the CPU's direct GEMM: 1x1 (the AVX-512 rule: <= 16 outputs; the AVX2 one:
# <= 32 inputs, >= 64 outputs) and im2col tiles (few taps x channels, >= 32 outputs).
DIRECT_WEIGHT_INPUT_CASES = {
    "pointwise_narrow": ((2, 20, 17, 19), (13, 20, 1, 1), {}),
    "pointwise_expansion": ((2, 16, 9, 9), (67, 16, 1, 1), {}),
    "im2col": ((2, 5, 11, 13), (37, 5, 3, 3), {"pads": [1, 1, 1, 1]}),
}


@pytest.mark.parametrize("case", DIRECT_WEIGHT_INPUT_CASES.values(), ids=DIRECT_WEIGHT_INPUT_CASES.keys())
def test_conv_direct_weight_as_graph_input(case, target, rng):
    x_shape, w_shape, attributes = case
    x = rng.standard_normal(x_shape, dtype="float32")
    w = rng.standard_normal(w_shape, dtype="float32")
    b = const(rng.standard_normal(w_shape[0], dtype="float32"))
    check_op("Conv", [x, w, b], target, attributes)


@pytest.mark.parametrize("width", [9, 37], ids=["narrow", "wide"])
def test_depthwise_weight_as_graph_input(width, target, rng):
    """Depthwise weights fed at run time: the CPU blocks them by channel on every run, not once at load."""
    x = rng.standard_normal((2, 19, 7, width), dtype="float32")
    w = rng.standard_normal((19, 1, 5, 5), dtype="float32")
    b = rng.standard_normal(19, dtype="float32")
    check_op("Conv", [x, w, b], target, {"group": 19, "pads": [2, 2, 2, 2]})


@pytest.mark.parametrize("kernels", ["avx2", "portable"])
def test_conv_cpu_kernel_paths(kernels):
    """The cpu tests of this file and test_depthwise_conv.py once more with the depthwise, grouped,
    stem and matrix-vector kernels capped at AVX2 (the per-plane depthwise kernel, im2col's row copies) or plain C++ (the
    stem kernel off: im2col instead; no matrix-vector kernel: the GEMM), and (avx2) the GEMM and Winograd transforms at AVX2: otherwise this machine's best
    path runs them (the choice is made once per process)."""
    env = dict(os.environ, METALNN_DEPTHWISE_KERNELS=kernels, METALNN_GROUPED_KERNELS=kernels,
               METALNN_STEM_KERNELS=kernels, METALNN_IM2COL_KERNELS=kernels, METALNN_GEMV_KERNELS=kernels)
    if kernels == "avx2":
        env["METALNN_GEMM_ISA"] = "avx2"
    here = os.path.dirname(__file__)
    result = subprocess.run([sys.executable, "-m", "pytest", __file__, os.path.join(here, "test_depthwise_conv.py"),
                             "-q", "-p", "no:cacheprovider", "-k", "cpu-float32 and not kernel_paths"], env=env,
                            capture_output=True, text=True, cwd=here)
    assert result.returncode == 0, result.stdout[-3000:]


# Conv + activation, fused into the conv's epilogue; cases reach the tiled and depthwise kernels.
FUSED_CASES = {
    "tiled_3x3": ((2, 5, 9, 7), (13, 5, 3, 3), {"pads": [1, 1, 1, 1]}),
    "tiled_general": ((1, 4, 9, 9), (6, 2, 5, 5), {"group": 2, "strides": [2, 2]}),
    "depthwise": ((2, 7, 9, 9), (7, 1, 3, 3), {"group": 7, "strides": [2, 2], "pads": [1, 1, 1, 1]}),
    "depthwise_blocks_wide": ((1, 18, 7, 37), (18, 1, 5, 5), {"group": 18, "pads": [2, 2, 2, 2]}),
    "depthwise_wide_multiplier2": ((1, 3, 7, 37), (6, 1, 3, 3), {"group": 3, "pads": [1, 1, 1, 1]}),
    "winograd": ((2, 32, 9, 11), (6, 32, 3, 3), {"pads": [1, 1, 1, 1]}),
    "pointwise_direct": ((2, 8, 5, 7), (64, 8, 1, 1), {}),
    "pointwise_packed": ((2, 20, 9, 11), (45, 20, 1, 1), {}),
    "pointwise_transposed": ((1, 20, 7, 7), (16, 20, 1, 1), {}),
    "batched_pointwise": ((3, 40, 7, 7), (37, 40, 1, 1), {}),
    "batched_im2col_stride3": ((3, 4, 16, 16), (20, 4, 3, 3), {"strides": [3, 3]}),
    "im2col_transposed": ((1, 4, 16, 16), (32, 4, 3, 3), {"strides": [3, 3]}),
    "taps": ((2, 12, 10, 9), (6, 12, 3, 3), {"dilations": [4, 4], "pads": [4, 4, 4, 4]}),
    "grouped": ((2, 24, 9, 9), (24, 6, 3, 3), {"group": 4, "pads": [1, 1, 1, 1]}),
    "grouped_stride2": ((1, 20, 11, 11), (10, 4, 3, 3), {"group": 5, "strides": [2, 2], "pads": [1, 1, 1, 1]}),
    "stem": ((2, 2, 15, 37), (19, 2, 3, 3), {"strides": [2, 2], "pads": [1, 1, 1, 1]}),
    # Rows of 111 (SqueezeNet's): two tiles of 32 columns, then one of three vectors for the last 47.
    "stem_rows_111": ((1, 3, 9, 223), (24, 3, 3, 3), {"strides": [2, 2]}),
    "pointwise_direct_narrow": ((2, 24, 17, 19), (16, 24, 1, 1), {}),
    "winograd_small": ((2, 40, 7, 7), (32, 40, 3, 3), {"pads": [1, 1, 1, 1]}),
    "im2col_transposed_7x7": ((1, 40, 7, 7), (32, 40, 1, 2), {"pads": [0, 1, 0, 0]}),
    "batched_im2col_stride2": ((3, 24, 14, 13), (20, 24, 3, 3), {"strides": [2, 2], "pads": [1, 1, 1, 1]}),
    "im2col_stride2_tiles": ((1, 70, 33, 31), (17, 70, 3, 3), {"strides": [2, 2], "pads": [1, 1, 1, 1]}),
    "pooled_1x1": ((5, 40, 1, 1), (37, 40, 1, 1), {}),
    # Two K blocks of the packed GEMM: the epilogue, and a residual, only on the last.
    "pointwise_two_k_blocks": ((1, 600, 17, 17), (20, 600, 1, 1), {}),
    # Im2col tiles (128, 128, 67 columns) against weights packed in K blocks sized for L1 (4 of 250 at
    # 48 KiB), three row panels sweeping each.
    "im2col_l1_k_blocks": ((2, 40, 17, 19), (37, 40, 5, 5), {"pads": [2, 2, 2, 2]}),
}
ACTIVATIONS = {
    "relu": ("Relu", []),
    "clip": ("Clip", [const(-0.5, "float32"), const(0.75, "float32")]),
    "leaky_relu": ("LeakyRelu", []),
}


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("case", FUSED_CASES.values(), ids=FUSED_CASES.keys())
def test_conv_fused_activation(case, activation, target, rng):
    x_shape, w_shape, attributes = case
    op_type, extra = ACTIVATIONS[activation]
    values = {
        "x": rng.standard_normal(x_shape, dtype="float32"),
        "w": const(rng.standard_normal(w_shape, dtype="float32")),
        "b": const(rng.standard_normal(w_shape[0], dtype="float32")),
    }
    values.update({f"a{i}": value for i, value in enumerate(extra)})
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], **attributes),
        helper.make_node(op_type, ["c", *(f"a{i}" for i in range(len(extra)))], ["y"]),
    ]
    # Half-precision error grows with the square root of each output's reduction: inputs rounded to half
    # carry ~5e-4 relative error each, so a sum of 36 unit products drifts by ~0.005, the base tolerance.
    reduction = w_shape[1] * w_shape[2] * w_shape[3]
    check_model(*make_model(nodes, values, ["y"]), target, target.tolerance.scaled(max(1.0, (reduction / 18) ** 0.5)))


@pytest.mark.parametrize("gate_first", [False, True], ids=["x_gate", "gate_x"])
@pytest.mark.parametrize("case", FUSED_CASES.values(), ids=FUSED_CASES.keys())
def test_conv_fused_silu(case, gate_first, target, rng):
    """Conv -> Sigmoid -> Mul, as exporters write SiLU: one Swish fused into the conv's epilogue."""
    x_shape, w_shape, attributes = case
    values = {
        "x": rng.standard_normal(x_shape, dtype="float32"),
        "w": const(rng.standard_normal(w_shape, dtype="float32")),
        "b": const(rng.standard_normal(w_shape[0], dtype="float32")),
    }
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], **attributes),
        helper.make_node("Sigmoid", ["c"], ["s"]),
        helper.make_node("Mul", ["s", "c"] if gate_first else ["c", "s"], ["y"]),
    ]
    reduction = w_shape[1] * w_shape[2] * w_shape[3]
    check_model(*make_model(nodes, values, ["y"]), target, target.tolerance.scaled(max(1.0, (reduction / 72) ** 0.5)))


@pytest.mark.parametrize("isa", ["avx2", "blas"])
def test_conv_gemm_isa_paths(isa):
    """The cpu cases above once more with the packed GEMM on AVX2 register tiles, or on the platform
    BLAS (which also takes the per-tap convolutions back to im2col); the best ISA runs them otherwise."""
    env = dict(os.environ, METALNN_GEMM_ISA=isa)
    result = subprocess.run([sys.executable, "-m", "pytest", __file__, "-q", "-p", "no:cacheprovider",
                             "-k", "cpu-float32 and not isa_paths"], env=env, capture_output=True, text=True,
                            cwd=os.path.dirname(__file__))
    assert result.returncode == 0, result.stdout[-3000:]


@pytest.mark.parametrize("l1", [16 << 10, 128 << 10])
def test_conv_l1_sizes(l1):
    """The cpu cases above once more with the im2col GEMM's K blocks sized for a smaller and a larger L1
    (the size is read once per process): 12 blocks of 84 or 2 of 500 where 48 KiB makes 4 of 250."""
    env = dict(os.environ, METALNN_L1D_BYTES=str(l1))
    result = subprocess.run([sys.executable, "-m", "pytest", __file__, "-q", "-p", "no:cacheprovider",
                             "-k", "cpu-float32 and not isa_paths and not kernel_paths and not l1_sizes"], env=env,
                            capture_output=True, text=True, cwd=os.path.dirname(__file__))
    assert result.returncode == 0, result.stdout[-3000:]


@pytest.mark.parametrize("l2", [512 << 10, 2 << 20])
def test_conv_l2_sizes(l2):
    """The cpu cases above once more with im2col tiles (and the GEMM's blocks) sized for a smaller and
    a larger L2 (the size is read once per process): other tile widths, tails and tile counts."""
    env = dict(os.environ, METALNN_L2_BYTES=str(l2))
    result = subprocess.run([sys.executable, "-m", "pytest", __file__, "-q", "-p", "no:cacheprovider",
                             "-k", "cpu-float32 and not isa_paths and not kernel_paths and not l2_sizes"], env=env,
                            capture_output=True, text=True, cwd=os.path.dirname(__file__))
    assert result.returncode == 0, result.stdout[-3000:]


def _conv_output_shape(x_shape, w_shape, attributes):
    pads = attributes.get("pads", [0, 0, 0, 0])
    strides = attributes.get("strides", [1, 1])
    dilations = attributes.get("dilations", [1, 1])
    spatial = [(x_shape[2 + i] + pads[i] + pads[2 + i] - dilations[i] * (w_shape[2 + i] - 1) - 1) // strides[i] + 1
               for i in range(2)]
    return (x_shape[0], w_shape[0], *spatial)


RESIDUAL_AFTER = {"none": None, "relu": ("Relu", []), "clip": ("Clip", [const(-0.5, "float32"), const(1.5, "float32")])}


@pytest.mark.parametrize("after", RESIDUAL_AFTER)
@pytest.mark.parametrize("case", FUSED_CASES.values(), ids=FUSED_CASES.keys())
def test_conv_fused_residual(case, after, target, rng):
    """Conv -> Add(conv, r) [-> Relu | Clip], a residual connection as ResNets and inverted residuals
    write it: one Conv that adds r before its activation, on every path (the packed GEMM adds r to each
    tile as it stores it, the others in a pass after), r on either side of the Add."""
    x_shape, w_shape, attributes = case
    y_shape = _conv_output_shape(x_shape, w_shape, attributes)
    values = {
        "x": rng.standard_normal(x_shape, dtype="float32"),
        "r": rng.standard_normal(y_shape, dtype="float32"),
        "w": const(rng.standard_normal(w_shape, dtype="float32")),
        "b": const(rng.standard_normal(w_shape[0], dtype="float32")),
    }
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], **attributes),
             helper.make_node("Add", ["c", "r"] if w_shape[0] % 2 else ["r", "c"], ["s"])]
    out = "s"
    if RESIDUAL_AFTER[after]:
        op_type, extra = RESIDUAL_AFTER[after]
        values.update({f"a{i}": value for i, value in enumerate(extra)})
        nodes.append(helper.make_node(op_type, ["s", *(f"a{i}" for i in range(len(extra)))], ["y"]))
        out = "y"
    model, feeds = make_model(nodes, values, [out])
    assert metalnn.load(model, device=target.device, precision=target.precision).summary().op_counts == {"Conv": 1}
    reduction = w_shape[1] * w_shape[2] * w_shape[3]
    check_model(model, feeds, target, target.tolerance.scaled(max(1.0, (reduction / 18) ** 0.5)))


@pytest.mark.parametrize("channels", [(32, 24), (16, 120)], ids=["whole", "blocked"])
@pytest.mark.parametrize("after", ["relu", "leaky_relu", "residual_relu"])
def test_conv_winograd_grid_f4_fused(after, channels, target, rng):
    """The F(4x4, 3x3) grid form (14x14 maps, 4 images; with 120 outputs per block of output channels)
    with a fused Relu, a LeakyRelu (applied after the transform), and a residual then Relu. Not with
    Clip's bounds inside the outputs' range: F(4x4, 3x3) rounds to about 1e-5 of the outputs' magnitude,
    past the absolute tolerance a clipped output gets."""
    c_in, c_out = channels
    values = {
        "x": rng.standard_normal((4, c_in, 14, 14), dtype="float32"),
        "r": rng.standard_normal((4, c_out, 14, 14), dtype="float32"),
        "w": const(rng.standard_normal((c_out, c_in, 3, 3), dtype="float32")),
        "b": const(rng.standard_normal(c_out, dtype="float32")),
    }
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1])]
    if after == "residual_relu":
        nodes += [helper.make_node("Add", ["c", "r"], ["s"]), helper.make_node("Relu", ["s"], ["y"])]
    else:
        del values["r"]
        nodes.append(helper.make_node("Relu" if after == "relu" else "LeakyRelu", ["c"], ["y"]))
    model, feeds = make_model(nodes, values, ["y"])
    assert metalnn.load(model, device=target.device, precision=target.precision).summary().op_counts == {"Conv": 1}
    check_model(model, feeds, target, target.tolerance.scaled(4.0))


def test_conv_residual_not_fused(target, rng):
    """Sums that are not a residual of the conv's output shape, or that need the conv's value elsewhere,
    or come after the conv's own activation, stay separate ops."""
    values = {
        "x": rng.standard_normal((2, 8, 6, 6), dtype="float32"),
        "r": rng.standard_normal((2, 8, 6, 6), dtype="float32"),
        "rb": rng.standard_normal((1, 8, 1, 1), dtype="float32"),
        "w": const(0.2 * rng.standard_normal((8, 8, 3, 3), dtype="float32")),
    }
    nodes = [helper.make_node("Conv", ["x", "w"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["c1", "rb"], ["s1"]),  # broadcast: not a residual
             helper.make_node("Conv", ["s1", "w"], ["c2"], pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["c2", "r"], ["s2"]),
             helper.make_node("Max", ["c2", "s2"], ["m"]),  # c2 read twice
             helper.make_node("Conv", ["m", "w"], ["c3"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c3"], ["r3"]),
             helper.make_node("Add", ["r3", "r"], ["y"])]  # after the conv's own activation
    model, feeds = make_model(nodes, values, ["y"])
    ops = metalnn.load(model, device=target.device, precision=target.precision).summary().op_counts
    assert ops == {"Conv": 3, "Add": 3, "Max": 1}, ops
    check_model(model, feeds, target)


# 1x1 maps whose pixel count leaves the packed GEMM's last column tile a few columns past whole
# vectors (the CPU runs those columns with the output channels in the vector): 1, 7, 17, 33, 47, 49,
# 63, 65 and 196 pixels, an odd number of channels, K in one block or two.
TAIL_MAPS = [(1, 1), (1, 7), (1, 17), (3, 11), (1, 47), (7, 7), (7, 9), (5, 13), (14, 14)]
TAIL_EPILOGUES = ["clip", "silu", "leaky_relu", "residual"]


@pytest.mark.parametrize("epilogue", TAIL_EPILOGUES)
@pytest.mark.parametrize("in_channels", [37, 601])
@pytest.mark.parametrize("size", TAIL_MAPS, ids=[f"{h}x{w}" for h, w in TAIL_MAPS])
def test_conv_pointwise_column_tails(size, in_channels, epilogue, target, rng):
    x_shape, w_shape = (1, in_channels, *size), (45, in_channels, 1, 1)
    values = {
        "x": rng.standard_normal(x_shape, dtype="float32"),
        "w": const(rng.standard_normal(w_shape, dtype="float32")),
        "b": const(rng.standard_normal(w_shape[0], dtype="float32")),
    }
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"])]
    if epilogue == "silu":
        nodes += [helper.make_node("Sigmoid", ["c"], ["s"]), helper.make_node("Mul", ["c", "s"], ["y"])]
    elif epilogue == "residual":
        values["r"] = rng.standard_normal((1, 45, *size), dtype="float32")
        nodes += [helper.make_node("Add", ["c", "r"], ["y"])]
    else:
        op_type, extra = ACTIVATIONS[epilogue]
        values.update({f"a{i}": value for i, value in enumerate(extra)})
        nodes += [helper.make_node(op_type, ["c", *(f"a{i}" for i in range(len(extra)))], ["y"])]
    model, feeds = make_model(nodes, values, ["y"])
    assert metalnn.load(model, device=target.device, precision=target.precision).summary().op_counts == {"Conv": 1}
    check_model(model, feeds, target, target.tolerance.scaled(max(1.0, (in_channels / 18) ** 0.5)))
