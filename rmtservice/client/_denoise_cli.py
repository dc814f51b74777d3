"""``rmtservice denoise FILE``: the weight matrices of a file, denoised, written back.

Examples::

    rmtservice denoise layer.npy --sigma2 1 -o denoised.npy
    rmtservice denoise model.safetensors --tensor 'encoder.*.weight' -o denoised.safetensors
    rmtservice denoise model.safetensors --tensor dense.weight --method rie --json
    rmtservice denoise model.safetensors --url http://127.0.0.1:8000 -o denoised.safetensors

Every selected matrix (``--tensor`` names or globs, repeatable; default every 2-D
tensor and convolution kernel) is denoised (:func:`rmtservice.denoise.denoise`: without
``--sigma2`` the noise level is fitted per matrix) and, with ``-o``, the file is written
back in the same format with the same names, shapes and dtypes
(:func:`rmtservice.io.write_like`; the other tensors are copied unchanged). A short
report per matrix goes to stdout (``--json``: machine-readable). With ``--url`` each
matrix is denoised by the service (``POST /v1/denoise``, the file uploaded once per
matrix, within its ``max_upload_bytes``).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["add_parser", "run"]

METHODS = ("auto", "hard", "optimal_hard", "shrink", "rie")


def add_parser(sub: Any) -> None:
    """Register ``denoise`` on the subcommands of ``rmtservice``."""
    p = sub.add_parser("denoise", help="denoise the weight matrices of a file")
    p.add_argument("file", metavar="FILE", help=".npy, .npz or .safetensors")
    p.add_argument("--tensor", action="append", metavar="NAME",
                   help="only these tensors: a name or a glob (repeatable)")  # fmt: skip
    p.add_argument("--method", default="auto", choices=METHODS)
    p.add_argument("--sigma2", type=float, help="the noise level (default: fitted per matrix)")
    p.add_argument("--alpha", type=float, default=0.01, help="level of the fit's outlier tests")
    p.add_argument("--seed", type=int, help="seed of the fit's bootstrap")
    p.add_argument("-o", "--out", metavar="FILE", help="write the denoised weights here")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--url", help="use this service instead of the local core")


@dataclass(frozen=True)
class _Row:
    name: str
    shape: tuple[int, int]
    method: str
    rank: int
    values: int
    sigma2: float
    fitted: bool
    predicted_error: float
    predicted_errors: dict[str, float]
    reason: str


def _local(args: argparse.Namespace, names: Any) -> Iterator[tuple[_Row, Any]]:
    from rmtservice.denoise import denoise
    from rmtservice.io import iter_matrices

    for name, w, _ in iter_matrices(args.file, names=names):
        d = denoise(
            w, args.sigma2, method=args.method, output="matrix", alpha=args.alpha, seed=args.seed
        )
        yield (
            _Row(
                name,
                (w.shape[0], w.shape[1]),
                d.method,
                d.rank,
                int(d.values.size),
                d.sigma2,
                args.sigma2 is None,
                d.predicted_error[d.method],
                dict(d.predicted_error),
                d.reason,
            ),
            d.matrix,
        )


def _remote(args: argparse.Namespace, names: Any) -> Iterator[tuple[_Row, Any]]:
    from rmtservice.client import Client
    from rmtservice.io import iter_matrices

    iter_matrices(args.file, names=names)  # the file and the selection checked here
    selected = _selection(args.file, names)
    with open(args.file, "rb") as f:
        data = f.read()  # read once, uploaded per matrix
    options = {"method": args.method, "sigma2": args.sigma2, "alpha": args.alpha}
    with Client(args.url) as c:
        for name in selected:
            r = c.denoise(file=data, name=name, output="matrix", seed=args.seed, **options)
            row = _Row(
                name,
                (r.shape.rows, r.shape.cols),
                r.method,
                r.rank,
                len(r.values),
                r.sigma2,
                args.sigma2 is None,
                r.predicted_error[r.method],
                dict(r.predicted_error),
                r.reason,
            )
            yield row, r.numpy("matrix")


def _selection(path: str, names: Any) -> list[str]:
    """The names of the matrices ``names`` selects (as rmtservice.io reads the filter),
    in the file's order, from the header alone."""
    from rmtservice.io import list_tensors

    matrices = [t.name for t in list_tensors(path) if t.matrix_shape is not None]
    if names is None:
        return matrices
    if isinstance(names, re.Pattern):
        return [n for n in matrices if names.search(n)]
    if isinstance(names, str):
        glob = any(c in names for c in "*?[")
        return [n for n in matrices if (fnmatch.fnmatchcase(n, names) if glob else n == names)]
    wanted = set(names)
    return [n for n in matrices if n in wanted]


def _text(rows: list[_Row], out: str | None) -> str:
    head = ("name", "shape", "method", "rank", "sigma2", "pred. error")
    cells = [
        (
            r.name,
            f"{r.shape[0]}x{r.shape[1]}",
            r.method,
            f"{r.rank}/{r.values}",
            f"{r.sigma2:.4g}" + (" (fit)" if r.fitted else ""),
            f"{r.predicted_error:.3f}",
        )
        for r in rows
    ]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    if len(rows) == 1:
        lines.append(rows[0].reason)
    lines.append(f"written: {out}" if out else "(not written: pass -o FILE)")
    return "\n".join(lines)


def _json(rows: list[_Row], out: str | None) -> str:
    return json.dumps(
        {
            "tensors": [
                {
                    "name": r.name,
                    "shape": list(r.shape),
                    "method": r.method,
                    "rank": r.rank,
                    "sigma2": r.sigma2,
                    "sigma2_fitted": r.fitted,
                    "predicted_error": r.predicted_error,
                    "predicted_errors": r.predicted_errors,
                    "reason": r.reason,
                }
                for r in rows
            ],
            "out": out,
        },
        indent=2,
    )


def run(args: argparse.Namespace) -> int:
    """Run ``rmtservice denoise``; the exit code (2: bad input or file, 1: unreachable)."""
    import httpx

    from rmtservice.client import ServiceError
    from rmtservice.client._analyze_cli import _names
    from rmtservice.errors import RMTError
    from rmtservice.io import write_like

    names = _names(args.tensor)
    try:
        pairs = list((_remote if args.url else _local)(args, names))
        if args.out is not None:
            write_like(args.file, args.out, {row.name: m for row, m in pairs})
        rows = [row for row, _ in pairs]
        print(_json(rows, args.out) if args.json else _text(rows, args.out))
    except (RMTError, ServiceError) as exc:
        print(f"error: {getattr(exc, 'detail', None) or exc}", file=sys.stderr)
        return 2
    except httpx.HTTPError as exc:
        print(f"error: cannot reach {args.url}: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        raise  # an OSError, but not the file's: cli.main ends it quietly (141)
    except OSError as exc:
        print(f"error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0
