"""``rmtservice fit``: fit an observed spectrum from a file or the command line.

Examples::

    rmtservice fit eigenvalues.txt
    rmtservice fit singular_values.npy --shape 4096 1024 --alpha 0.05
    rmtservice fit model.safetensors --tensor layers.0.attn.q_proj.weight --json
    rmtservice fit --values 3.1,1.9,1.2,... --sigma2 1 --url http://127.0.0.1:8000

A file holds the values (``.npy``, or text: numbers separated by spaces, commas or
newlines) or a matrix (a 2-D ``.npy`` or text table; a tensor of a weight file with
``--tensor NAME``: ``.safetensors``, ``.npz``, ``.npy``). A 1-D input is the
eigenvalues, or with ``--shape ROWS COLS`` the singular values; a matrix is fitted
itself (symmetric: ``wigner``, else ``rectangular``). Sent to a service (``--url``), a
matrix of more than ``MAX_JSON_ENTRIES`` entries goes as its spectrum, computed here.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "fields", "report", "run"]

#: a larger matrix is sent to a service as its values (the JSON body would be too big)
MAX_JSON_ENTRIES = 100_000


def add_parser(sub: Any, floats: Any) -> None:
    """The ``fit`` subcommand on the subparsers ``sub``; ``floats`` parses ``V1,V2,...``."""
    f = sub.add_parser("fit", help="fit an observed spectrum: noise, edge, outliers, spikes")
    f.add_argument("file", nargs="?", help="values or a matrix (.npy, text, weight file)")
    f.add_argument("--values", type=floats, metavar="V1,V2,...", help="instead of a file")
    f.add_argument("--tensor", metavar="NAME", help="the matrix NAME of a weight file")
    f.add_argument(
        "--shape", type=int, nargs=2, metavar=("ROWS", "COLS"), help="the values are singular"
    )
    f.add_argument("--model", choices=["wigner", "rectangular"], help="for a matrix")
    f.add_argument("--sigma2", type=float, help="known noise level (not estimated)")
    f.add_argument("--alpha", type=float, default=0.01, help="level of the outlier tests")
    f.add_argument("--confidence", type=float, default=0.95, help="of the sigma2 interval")
    f.add_argument("--bootstrap", type=int, help="replicates (0: none; default: automatic)")
    f.add_argument("--seed", type=int)
    f.add_argument(
        "--deconvolve",
        action=argparse.BooleanOptionalAction,
        help="the signal's law by free deconvolution (needs --sigma2; default with it)",
    )
    f.add_argument("--json", action="store_true", help="print the JSON answer")
    f.add_argument("--url", help="use this service instead of the local core")


def _load(args: argparse.Namespace, error: type[Exception]) -> Any:
    """The input as a numpy array: 1-D values or a 2-D matrix."""
    import numpy as np

    if (args.file is None) == (args.values is None):
        raise error("give a FILE or --values (one of them)")
    if args.values is not None:
        if args.tensor is not None:
            raise error("--tensor goes with a weight FILE")
        return np.asarray(args.values, dtype=float)
    path = Path(args.file)
    if args.tensor is not None:
        from rmtservice.errors import RMTError
        from rmtservice.io import load_matrix

        try:
            return load_matrix(path, args.tensor)
        except OSError as exc:
            raise error(f"cannot read {path}: {exc.strerror}") from exc
        except RMTError as exc:
            raise error(f"{path}: {exc}") from exc
    try:
        if path.suffix.lower() == ".npy":
            a = np.load(path, allow_pickle=False)
        else:
            text = path.read_text().replace(",", " ")
            rows = [line.split() for line in text.splitlines() if line.strip()]
            flat = len({len(r) for r in rows}) != 1 or len(rows[0]) == 1
            a = np.asarray([v for r in rows for v in r] if flat else rows, dtype=float)
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (ValueError, IndexError) as exc:
        raise error(f"{path} holds no numbers (or not a table of them)") from exc
    if a.ndim not in (1, 2):
        raise error(f"{path}: a {a.ndim}-D array; need values (1-D) or a matrix (2-D)")
    return np.asarray(a, dtype=float)


def _spectrum(m: Any, model: str | None) -> dict[str, Any]:
    """A matrix's values, largest first (as the service lists a matrix's), for a body."""
    import numpy as np

    # the core's test (rmtservice.fit): equal to a relative 1e-12 of the largest entry
    scale = float(np.max(np.abs(m)))
    square = m.shape[0] == m.shape[1]
    if square and model != "rectangular" and np.max(np.abs(m - m.T)) <= 1e-12 * scale:
        return {"eigenvalues": np.linalg.eigvalsh(m)[::-1].tolist()}
    sv = np.linalg.svd(m, compute_uv=False)
    return {"singular_values": sv.tolist(), "shape": {"rows": m.shape[0], "cols": m.shape[1]}}


def fields(args: argparse.Namespace, error: type[Exception]) -> dict[str, Any]:
    """The request's fields from the command line."""
    data = _load(args, error)
    out: dict[str, Any] = {
        "sigma2": args.sigma2,
        "alpha": args.alpha,
        "confidence": args.confidence,
        "bootstrap": args.bootstrap,
        "seed": args.seed,
        "deconvolve": args.deconvolve,
    }
    if data.ndim == 2:
        if args.shape is not None:
            raise error("--shape goes with singular values, not a matrix")
        if args.url and data.size > MAX_JSON_ENTRIES:
            return out | _spectrum(data, args.model)
        return out | {"matrix": data, "model": args.model}
    if args.model is not None:
        raise error("--model goes with a matrix")
    if args.shape is not None:
        return out | {"singular_values": data, "shape": tuple(args.shape)}
    return out | {"eigenvalues": data}


def report(r: Any) -> str:
    """A fit as text: noise level, bulk, thresholds, outliers, verdict, tail."""
    from rmtservice.client.cli import _table

    rows, cols = r.shape.rows, r.shape.cols
    what = "eigenvalues" if r.model == "wigner" else "singular values"
    lo, hi = r.sigma2_interval
    how = {
        "bootstrap": f"bootstrap, {r.bootstrap} replicates, seed {r.seed}",
        "asymptotic": "asymptotic",
        "given": "given",
    }[r.sigma2_interval_method]
    lines = [
        f"model {r.model}: {r.goodness_of_fit.bulk_values + r.rank} {what} of a "
        f"{rows} x {cols} matrix",
        f"sigma2      {r.sigma2:.6g}  [{lo:.6g}, {hi:.6g}]  ({r.confidence:.0%}, {how})",
        f"bulk        [{r.bulk.lower:.6g}, {r.bulk.upper:.6g}]"
        + (f"  centre {r.center:.4g}" if r.model == "wigner" else ""),
        f"threshold   {r.edge_threshold:.6g}  (finite n, alpha {r.alpha:g}, Tracy-Widom)"
        + (
            f"; below the bulk {r.lower_edge_threshold:.6g}"
            if r.lower_edge_threshold is not None
            else ""
        ),
        f"spikes separate beyond {r.spike_threshold:.6g} (limit)",
        "",
        f"outliers    {r.rank}",
    ]
    if r.outliers:
        head = ["index", "value", "p-value", "spike", "spike (limit)"]
        if r.model == "wigner":
            head.append("overlap")
        else:
            head += ["left overlap", "right overlap"]
        body = []
        for o in r.outliers:
            row = [o.index, o.value, o.p_value, o.spike, o.spike_limit]
            row += [o.overlap] if r.model == "wigner" else [o.left_overlap, o.right_overlap]
            body.append([_short(v) for v in row])
        lines.append(_table(head, body))
    g = r.goodness_of_fit
    p = "no p-value (no bootstrap)" if g.p_value is None else f"p = {g.p_value:.3g}"
    lines += ["", f"goodness    Kolmogorov distance {g.ks:.4g}, {p}"]
    if r.tail is not None:
        lines.append(
            f"tail        exponent {r.tail.exponent:.3g} over the top {r.tail.count} values"
        )
    if r.deconvolved is not None:
        lines.append(f"deconvolved {len(r.deconvolved.values)} atoms (see --json)")
    verdict = "noise plus spikes" if r.verdict.noise_plus_spikes else "NOT noise plus spikes"
    lines += ["", f"verdict     {verdict}", f"  {r.verdict.message}"]
    return "\n".join(lines)


def _short(v: Any) -> Any:
    return float(f"{v:.6g}") if isinstance(v, float) else v


def run(args: argparse.Namespace, error: type[Exception]) -> str:
    """The ``fit`` subcommand's output."""
    from rmtservice.client import Client, LocalClient

    body = fields(args, error)
    client: Any = Client(args.url) if args.url else LocalClient()
    with client:
        r = client.fit(**body)
    return r.model_dump_json(indent=2) if args.json else report(r)
