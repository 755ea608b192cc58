"""Convolutions traced step by step, to check hand work against.

A student who computed a convolution on paper wants to see, for every output
value, *which* input window was used, the products of that window with the
kernel, their sum and the bias, written the way they wrote it::

    out[f=0][0,1] = (1*1 + 0*1 + 2*0 + 1*0) + (2*1 + ...) + ... + bias 1 = 1 + 4 + 2 + 1 = 8

This module does exactly that, and nothing faster: it loops over output
positions in plain Python so that each line of the trace is one line of the
hand computation.

- ``conv1d_trace(x, w, ...)`` for a 1-D signal, ``conv2d_trace(x, w, ...)`` for
  one image (several channels, several filters). Both return a
  :class:`ConvTrace` with ``.output`` and ``.steps`` (one :class:`Step` per
  output value) that prints as text (``str(trace)``) or markdown
  (``trace.to_markdown()``).
- ``output_size_explained(n, k, stride, padding)``: the output-size formula
  with the numbers substituted.
- ``add_trace_conv_arguments`` / ``run_trace_conv``: the ``minicnn trace-conv``
  command (inputs from a small JSON or text file, or from the command line).

Backward passes, every term written out (``minicnn trace-conv --backward
[--dy ...]`` for the convolution), each checked against the engine's op on
the same numbers:

- ``conv2d_backward_trace`` / ``conv1d_backward_trace``: each entry of dW as
  the sum of input x dy products over the windows that used it, each entry of
  dx as the sum of kernel x dy contributions (and dx again as a "full"
  convolution of dy with the rotated kernel), db as the sum of dy; then
  ``minicnn.ops.conv.conv2d_backward``'s numbers;
- ``maxpool_backward_trace``: where each window's gradient goes, ties
  included (the engine gives it to the first maximum in row-major order);
- ``dense_backward_trace``: dW = x^T dy, dx = dy W^T, db (``DENSE_EXAMPLE``
  is a 2x3 case).

``check_model_gradients`` / ``minicnn gradcheck``: the float64 gradient check
of every parameter and of the input of a whole model, as a table.

One idea per file: ``formula`` (the output size, explained), ``trace`` (the
step-by-step computation and its text / markdown rendering), ``command``
(reading a case from JSON / text / arguments, and the command line),
``gradient_terms`` (one gradient entry as a written-out sum),
``conv_backward``, ``maxpool_backward``, ``dense_backward`` (the backward
traces), ``gradcheck`` (the model gradient check and its command).

Conventions (see DESIGN.md): channels last, kernels ``(KH, KW, C, F)``,
padding ``"valid"``, ``"same"`` (TensorFlow's rule) or a symmetric int / pair.
Sizes and padding amounts come from :mod:`minicnn.ops.shapes`, the one place
where they are computed.

``mode="cross-correlation"`` (the default) is what CNN libraries compute: the
kernel is slid over the input as it is. ``mode="convolution"`` is the
mathematical convolution: the kernel is first flipped (rotated by 180
degrees), which the trace shows.
"""
from .command import (EXAMPLES_DIR, add_trace_conv_arguments, backward_trace_from_spec, example_names,
                      load_trace_file, load_trace_json, load_trace_text, run_trace_conv, trace_from_spec)
from .conv_backward import ConvBackwardTrace, conv1d_backward_trace, conv2d_backward_trace
from .dense_backward import DENSE_EXAMPLE, DenseBackwardTrace, dense_backward_trace
from .formula import output_size_explained
from .gradcheck import (GradCheckRow, add_gradcheck_arguments, check_model_gradients, format_table,
                        load_architectures, run_gradcheck)
from .gradient_terms import GradEntry, Term
from .maxpool_backward import TIE_RULE, MaxPoolBackwardTrace, maxpool_backward_trace
from .trace import MODES, ConvTrace, Step, conv1d_trace, conv2d_trace

__all__ = [
    "Step",
    "ConvTrace",
    "conv1d_trace",
    "conv2d_trace",
    "output_size_explained",
    "load_trace_json",
    "load_trace_text",
    "load_trace_file",
    "trace_from_spec",
    "add_trace_conv_arguments",
    "run_trace_conv",
    "EXAMPLES_DIR",
    "MODES",
    "example_names",
    "backward_trace_from_spec",
    "Term",
    "GradEntry",
    "ConvBackwardTrace",
    "conv2d_backward_trace",
    "conv1d_backward_trace",
    "MaxPoolBackwardTrace",
    "maxpool_backward_trace",
    "TIE_RULE",
    "DenseBackwardTrace",
    "dense_backward_trace",
    "DENSE_EXAMPLE",
    "GradCheckRow",
    "check_model_gradients",
    "format_table",
    "load_architectures",
    "add_gradcheck_arguments",
    "run_gradcheck",
]
