"""``rmtservice analyze MODEL_FILE``: every weight matrix of a model file, fitted.

Examples::

    rmtservice analyze model.safetensors
    rmtservice analyze model.safetensors --tensor 'encoder.layer.0.*' --json
    rmtservice analyze model.safetensors --csv > table.csv
    rmtservice analyze model.safetensors --plots pictures/ --html report.html
    rmtservice analyze model.safetensors --method rie -o denoised.safetensors

The table goes to stdout (or ``--json`` / ``--csv``), the progress bar to stderr (only
on a terminal). The analysis runs in this process (:func:`rmtservice.analyze.analyze`).
"""

from __future__ import annotations

import argparse
import base64
import csv
import fnmatch
import html
import json
import os
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from rmtservice.analyze import Analysis, TensorAnalysis

__all__ = ["add_parser", "run"]

COLUMNS = (
    "name",
    "shape",
    "model",
    "sigma2",
    "edge",
    "rank",
    "energy kept",
    "KS",
    "tail",
    "verdict",
    "method",
    "pred. error",
)


#: rmtservice.analyze.METHODS, written out: building the parser imports no numeric core
METHODS = ("auto", "hard", "optimal_hard", "shrink", "rie", "none")


def add_parser(sub: Any) -> None:
    """Register ``analyze`` on the subcommands of ``rmtservice``."""
    p = sub.add_parser("analyze", help="fit every weight matrix of a model file")
    p.add_argument("model_file", metavar="MODEL_FILE", help=".safetensors, .npz or .npy")
    p.add_argument("--tensor", action="append", metavar="NAME",
                   help="only these tensors: a name or a glob (repeatable)")  # fmt: skip
    p.add_argument("--method", default="auto", choices=METHODS,
                   help="denoiser of 'energy kept' and --out (auto: the recommended)")  # fmt: skip
    p.add_argument("--alpha", type=float, default=0.01, help="level of the outlier tests")
    p.add_argument("--bootstrap", type=int, default=0,
                   help="replicates for the KS p-value (0: none, fastest)")  # fmt: skip
    p.add_argument("--seed", type=int)
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the analysis as JSON")
    out.add_argument("--csv", action="store_true", help="print the table as CSV")
    p.add_argument("--plots", metavar="DIR", help="write a picture per tensor and a summary")
    p.add_argument("--html", metavar="FILE", help="write a self-contained HTML report")
    p.add_argument("-o", "--out", metavar="FILE", help="write the denoised model")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


# ------------------------------------------------------------------ selection


def _names(patterns: Sequence[str] | None) -> Any:
    """``--tensor`` values as rmtservice.io's filter: exact names as a list (so that a
    missing one is named), one glob as is, a mix as one anchored regular expression."""
    if not patterns:
        return None
    globs = [p for p in patterns if any(c in p for c in "*?[")]
    if not globs:
        return list(patterns)
    if len(patterns) == 1:
        return patterns[0]
    parts = [fnmatch.translate(p) if p in globs else re.escape(p) + r"\Z" for p in patterns]
    return re.compile("^(?:" + "|".join(parts) + ")")


# ------------------------------------------------------------------ progress


class _Bar:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, quiet: bool) -> None:
        self.on = not quiet and sys.stderr.isatty()
        self.start = time.monotonic()

    def __call__(self, done: int, total: int, name: str) -> None:
        if not self.on:
            return
        width = 30
        fill = int(width * done / max(total, 1))
        sys.stderr.write(
            f"\ranalyzing [{'#' * fill}{'.' * (width - fill)}] {done}/{total} "
            f"{time.monotonic() - self.start:.1f}s {name[-40:]:<40}"
        )
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()


# ------------------------------------------------------------------ output


def _shape(row: TensorAnalysis) -> str:
    text = "x".join(map(str, row.shape))
    return text + "*" if row.reshaped_from is not None else text


def _cells(row: TensorAnalysis) -> list[Any]:
    tail = None if row.tail_exponent is None else round(row.tail_exponent, 2)
    return [
        row.name,
        _shape(row),
        row.model,
        float(f"{row.sigma2:.4g}"),
        float(f"{row.edge_threshold:.4g}"),
        row.rank,
        round(row.energy_kept, 3),
        float(f"{row.goodness_of_fit.ks:.3g}"),
        tail,
        "noise+spikes" if row.verdict.noise_plus_spikes else "not noise",
        row.recommended_method,
        round(row.predicted_error, 3),
    ]


def table(a: Analysis) -> str:
    """The analysis as a text table, with the reshaped and the skipped tensors below."""
    rows = [[("-" if v is None else str(v)) for v in _cells(r)] for r in a.tensors]
    widths = [max([len(h)] + [len(r[j]) for r in rows]) for j, h in enumerate(COLUMNS)]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        return "  ".join([first] + [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)])

    out = [line(COLUMNS)] + [line(r) for r in rows]
    reshaped = [r for r in a.tensors if r.reshaped_from is not None]
    if reshaped:
        out.append("")
        out += [f"* {r.name}: {r.how}, stored {r.reshaped_from}" for r in reshaped]
    if a.method != "auto":
        out.append(f"\nenergy kept by {a.method}; method and pred. error: the recommended ones")
    if a.skipped:
        out.append(f"\nskipped {len(a.skipped)} tensors:")
        out += _skipped(a)
    # the time goes to a terminal's stderr (see run): stdout is the same on every run
    out.append(f"\n{len(a.tensors)} matrices of {a.source}")
    if a.out is not None:
        out.append(f"denoised model written to {a.out}")
    return "\n".join(out)


def _skipped(a: Analysis) -> list[str]:
    """One line per skipped tensor, except that a reason shared by more than three (the
    biases and norms of a model) is one line with their count."""
    count: dict[str, int] = {}
    for s in a.skipped:
        count[s.reason] = count.get(s.reason, 0) + 1
    lines = [
        f"  {s.name} {s.shape} {s.dtype}: {s.reason}" for s in a.skipped if count[s.reason] <= 3
    ]
    lines += [f"  {k} tensors: {reason}" for reason, k in count.items() if k > 3]
    return lines


def row_dict(r: TensorAnalysis) -> dict[str, Any]:
    """One tensor's analysis as JSON-ready values (no arrays of values)."""
    g = r.goodness_of_fit
    return {
        "name": r.name,
        "shape": list(r.shape),
        "reshaped_from": None if r.reshaped_from is None else list(r.reshaped_from),
        "how": r.how,
        "dtype": r.dtype,
        "model": r.model,
        "sigma2": r.sigma2,
        "bulk": {"lower": r.bulk.lower, "upper": r.bulk.upper},
        "edge_threshold": r.edge_threshold,
        "rank": r.rank,
        "outliers": [
            {"index": o.index, "value": o.value, "p_value": o.p_value, "spike": o.spike}
            for o in r.outliers
        ],
        "energy_kept": r.energy_kept,
        "goodness_of_fit": {"ks": g.ks, "p_value": g.p_value},
        "tail_exponent": r.tail_exponent,
        "verdict": {"noise_plus_spikes": r.verdict.noise_plus_spikes, "message": r.verdict.message},
        "recommended_method": r.recommended_method,
        "predicted_error": r.predicted_error,
        "method": r.method,
        "predicted_errors": r.predicted_errors,
        "reason": r.reason,
        "seconds": r.seconds,
    }


def as_json(a: Analysis) -> str:
    doc = {
        "source": a.source,
        "format": a.format,
        "method": a.method,
        "alpha": a.alpha,
        "tensors": [row_dict(r) for r in a.tensors],
        "skipped": [
            {"name": s.name, "shape": list(s.shape), "dtype": s.dtype, "reason": s.reason}
            for s in a.skipped
        ],
        "out": a.out,
        "seconds": a.seconds,
    }
    return json.dumps(doc, indent=2, allow_nan=False)


def write_csv(a: Analysis, stream: TextIO) -> None:
    w = csv.writer(stream, lineterminator="\n")
    w.writerow(
        ["name", "rows", "cols", "reshaped_from", "dtype", "model", "sigma2", "bulk_lower",
         "bulk_upper", "edge_threshold", "rank", "energy_kept", "ks", "p_value",
         "tail_exponent", "noise_plus_spikes", "recommended_method", "predicted_error",
         "method"]
    )  # fmt: skip
    for r in a.tensors:
        g = r.goodness_of_fit
        w.writerow(
            [r.name, r.shape[0], r.shape[1],
             "" if r.reshaped_from is None else "x".join(map(str, r.reshaped_from)),
             r.dtype, r.model, repr(r.sigma2), repr(r.bulk.lower), repr(r.bulk.upper),
             repr(r.edge_threshold), r.rank, repr(r.energy_kept), repr(g.ks),
             "" if g.p_value is None else repr(g.p_value),
             "" if r.tail_exponent is None else repr(r.tail_exponent),
             r.verdict.noise_plus_spikes, r.recommended_method, repr(r.predicted_error),
             r.method]
        )  # fmt: skip


# ------------------------------------------------------------------ pictures


def picture_name(name: str) -> str:
    """A file name for a tensor's picture: characters other than ``[A-Za-z0-9._-]`` as _."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name) + ".png"


def _pictures(a: Analysis) -> dict[str, bytes]:
    """Every tensor's picture (by its file name) and ``summary.png``."""
    from rmtservice.pictures.analysis import render_summary, render_tensor

    pics = {picture_name(r.name): render_tensor(r) for r in a.tensors}
    pics["summary.png"] = render_summary(a.tensors)
    return pics


def _write_plots(folder: str, pics: dict[str, bytes]) -> None:
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    for name, data in pics.items():
        (path / name).write_bytes(data)


def _img(data: bytes, alt: str) -> str:
    b64 = base64.b64encode(data).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}">'


def report_html(a: Analysis, pics: dict[str, bytes]) -> str:
    """A self-contained HTML report: the table, the summary and every tensor's picture
    (inlined as base64 PNG)."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    body = []
    for r in a.tensors:
        cells = "".join(f"<td>{html.escape('-' if v is None else str(v))}</td>" for v in _cells(r))
        body.append(f'<tr title="{html.escape(r.verdict.message)}">{cells}</tr>')
    skipped = "".join(
        f"<li><code>{html.escape(s.name)}</code> {s.shape} {s.dtype}: {html.escape(s.reason)}</li>"
        for s in a.skipped
    )
    figures = "".join(
        f"<section><h3>{html.escape(r.name)}</h3><p>{html.escape(r.how)}. "
        f"{html.escape(r.verdict.message)} {html.escape(r.reason)}.</p>"
        f"{_img(pics[picture_name(r.name)], r.name)}</section>"
        for r in a.tensors
    )
    style = (
        "body{font-family:sans-serif;margin:2em;max-width:1300px}"
        "table{border-collapse:collapse;font-size:13px}td,th{padding:2px 8px;"
        "border-bottom:1px solid #ddd;text-align:right}td:first-child{text-align:left}"
        "img{max-width:100%}"
    )
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>rmtservice analyze: {html.escape(a.source)}</title><style>{style}</style>"
        f"</head><body><h1>{html.escape(os.path.basename(a.source))}</h1>"
        f"<p>{len(a.tensors)} weight matrices of <code>{html.escape(a.source)}</code> "
        f"({a.format}) in {a.seconds:.2f} s; method {html.escape(a.method)}, "
        f"alpha {a.alpha:g}. Energy kept is ||W&#770;||&sup2; / ||W||&sup2; of the method "
        "used; pred. error the recommended method's predicted ||W&#770; &minus; S|| / "
        f"||S||.</p><table><tr>{head}</tr>{''.join(body)}</table>"
        f"<h2>Summary</h2>{_img(pics['summary.png'], 'summary')}"
        f"<h2>Skipped</h2><ul>{skipped}</ul><h2>Tensors</h2>{figures}</body></html>\n"
    )


# ------------------------------------------------------------------ the command


def _emit(a: Analysis, args: argparse.Namespace) -> None:
    if args.json:
        sys.stdout.write(as_json(a) + "\n")
    elif args.csv:
        write_csv(a, sys.stdout)
    else:
        sys.stdout.write(table(a) + "\n")
    sys.stdout.flush()


def _files(a: Analysis, args: argparse.Namespace) -> None:
    if not (args.plots or args.html):
        return
    pics = _pictures(a)
    if args.plots:
        _write_plots(args.plots, pics)
    if args.html:
        Path(args.html).write_text(report_html(a, pics), encoding="utf-8")


def run(args: argparse.Namespace) -> int:
    """Run ``rmtservice analyze``; the exit code (2: bad input or file, 141: stdout closed)."""
    from rmtservice.analyze import analyze
    from rmtservice.errors import RMTError

    try:
        a = analyze(
            args.model_file,
            names=_names(args.tensor),
            method=args.method,
            alpha=args.alpha,
            bootstrap=args.bootstrap,
            seed=args.seed,
            out=args.out,
            progress=_Bar(args.quiet),
        )
        _files(a, args)
        _emit(a, args)
        if not args.quiet and sys.stderr.isatty():  # beside the progress bar
            print(f"analysed in {a.seconds:.2f} s", file=sys.stderr)
    except RMTError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        raise  # an OSError, but not the file's: cli.main ends it quietly (141)
    except OSError as exc:
        print(f"error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0
