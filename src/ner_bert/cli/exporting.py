"""``ner-bert export``: a trained model folder to an ONNX folder (optionally int8)."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_export_arguments", "export"]


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``ner-bert export``."""
    parser.add_argument(
        "--model", required=True, type=Path, help="trained model folder (ner-bert train --output)"
    )
    parser.add_argument(
        "--output", required=True, type=Path, help="the ONNX folder to write (new or empty)"
    )
    parser.add_argument(
        "--format",
        choices=("onnx",),
        default="onnx",
        help="export format (default onnx: model.onnx with the tokenizer and labels)",
    )
    parser.add_argument(
        "--quantize",
        choices=("none", "int8"),
        default="none",
        help="int8: dynamic int8 quantization of the matrix products (about 2x smaller, "
        "faster on CPUs with VNNI or AMX); default none (fp32)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an earlier export at --output"
    )


def export(args: argparse.Namespace) -> int:
    """``ner-bert export``."""
    from ..model.onnx_export import export_onnx

    output = export_onnx(args.model, args.output, quantize=args.quantize, overwrite=args.overwrite)
    print(
        f"exported {args.model} to {output} (ONNX, quantize={args.quantize}); predict with "
        f"ner-bert predict --model {output}"
    )
    return 0
