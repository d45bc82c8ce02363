"""How IR attributes map onto TFLite builtin options: one table read by the reader and the writer.

Each supported op names its options table and, per IR attribute, the flatbuffer field and its
kind. Kinds: ``int``, ``bool``, ``float``, ``padding`` ("SAME"/"VALID"), ``activation``
("NONE", "RELU", "RELU6", "RELU_N1_TO_1", "TANH", "SIGN_BIT") and ``ints`` (a vector of int32).
"""
from __future__ import annotations

import tflite

_CONV = [("padding", "Padding", "padding"), ("stride_w", "StrideW", "int"),
         ("stride_h", "StrideH", "int"), ("activation", "FusedActivationFunction", "activation"),
         ("dilation_w", "DilationWFactor", "int"), ("dilation_h", "DilationHFactor", "int")]
_POOL = [("padding", "Padding", "padding"), ("stride_w", "StrideW", "int"),
         ("stride_h", "StrideH", "int"), ("filter_w", "FilterWidth", "int"),
         ("filter_h", "FilterHeight", "int"),
         ("activation", "FusedActivationFunction", "activation")]
_ACT = [("activation", "FusedActivationFunction", "activation")]

# op type -> (options table, BuiltinOptions union member, fields)
OPTIONS: dict[str, tuple[str, list[tuple[str, str, str]]]] = {
    "CONV_2D": ("Conv2DOptions", _CONV),
    "DEPTHWISE_CONV_2D": ("DepthwiseConv2DOptions",
                          _CONV[:4] + [("depth_multiplier", "DepthMultiplier", "int")] + _CONV[4:]),
    "FULLY_CONNECTED": ("FullyConnectedOptions",
                        _ACT + [("keep_num_dims", "KeepNumDims", "bool")]),
    "AVERAGE_POOL_2D": ("Pool2DOptions", _POOL),
    "MAX_POOL_2D": ("Pool2DOptions", _POOL),
    "ADD": ("AddOptions", _ACT),
    "SUB": ("SubOptions", _ACT),
    "MUL": ("MulOptions", _ACT),
    "SOFTMAX": ("SoftmaxOptions", [("beta", "Beta", "float")]),
    "CONCATENATION": ("ConcatenationOptions", [("axis", "Axis", "int")] + _ACT),
    "MEAN": ("ReducerOptions", [("keep_dims", "KeepDims", "bool")]),
    "RESHAPE": ("ReshapeOptions", [("new_shape", "NewShape", "ints")]),
    "SQUEEZE": ("SqueezeOptions", [("squeeze_dims", "SqueezeDims", "ints")]),
    "RESIZE_NEAREST_NEIGHBOR": ("ResizeNearestNeighborOptions",
                                [("align_corners", "AlignCorners", "bool"),
                                 ("half_pixel_centers", "HalfPixelCenters", "bool")]),
    "PAD": ("PadOptions", []),
    "TRANSPOSE": ("TransposeOptions", []),
    "QUANTIZE": ("QuantizeOptions", []),
    "DEQUANTIZE": ("DequantizeOptions", []),
    "HARD_SWISH": ("HardSwishOptions", []),
    "LOGISTIC": (None, []),
    "TANH": (None, []),
    "RELU": (None, []),
    "RELU6": (None, []),
    "RELU_N1_TO_1": (None, []),
    "CAST": ("CastOptions", []),
}

# op type -> (fewest inputs, most inputs or None for any number); every op has one output. Inputs
# past the fewest are optional (-1 when absent), the first ``fewest`` are required.
ARITY: dict[str, tuple[int, int | None]] = {
    "CONV_2D": (2, 3), "DEPTHWISE_CONV_2D": (2, 3), "FULLY_CONNECTED": (2, 3),
    "AVERAGE_POOL_2D": (1, 1), "MAX_POOL_2D": (1, 1), "ADD": (2, 2), "SUB": (2, 2),
    "MUL": (2, 2), "SOFTMAX": (1, 1), "CONCATENATION": (1, None), "MEAN": (2, 2),
    "RESHAPE": (1, 2), "SQUEEZE": (1, 1), "RESIZE_NEAREST_NEIGHBOR": (2, 2), "PAD": (2, 2),
    "TRANSPOSE": (2, 2), "QUANTIZE": (1, 1), "DEQUANTIZE": (1, 1), "HARD_SWISH": (1, 1),
    "LOGISTIC": (1, 1), "TANH": (1, 1), "RELU": (1, 1), "RELU6": (1, 1), "RELU_N1_TO_1": (1, 1),
    "CAST": (1, 1),
}

DEFAULTS = {"padding": "SAME", "int": 0, "bool": False, "float": 0.0, "activation": "NONE",
            "ints": None}
# Fields whose schema default is not the zero of their kind.
ATTR_DEFAULTS = {"stride_w": 1, "stride_h": 1, "dilation_w": 1, "dilation_h": 1,
                 "depth_multiplier": 1, "beta": 1.0, "filter_w": 1, "filter_h": 1}


def default(attr: str, kind: str):
    return ATTR_DEFAULTS.get(attr, DEFAULTS[kind])

ACTIVATIONS = {v: k for k, v in vars(tflite.ActivationFunctionType).items() if not k.startswith("_")}
PADDINGS = {v: k for k, v in vars(tflite.Padding).items() if not k.startswith("_")}
BUILTIN_NAMES = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
BUILTIN_CODES = {k: v for v, k in BUILTIN_NAMES.items()}

TENSOR_TYPES = {tflite.TensorType.FLOAT32: "float32", tflite.TensorType.FLOAT16: "float16",
                tflite.TensorType.INT32: "int32", tflite.TensorType.UINT8: "uint8",
                tflite.TensorType.INT64: "int64", tflite.TensorType.INT16: "int16",
                tflite.TensorType.INT8: "int8", tflite.TensorType.BOOL: "bool"}
TENSOR_TYPE_CODES = {v: k for k, v in TENSOR_TYPES.items()}
TYPE_NAMES = {v: k for k, v in vars(tflite.TensorType).items() if not k.startswith("_")}
