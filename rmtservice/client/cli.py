"""The ``rmtservice`` command line: the service's endpoints from a shell.

Examples::

    rmtservice density --uniform -1 1 --sigma2 0.25 --x 0,0.5,1
    rmtservice support --atoms -1,1,4 --weights 0.499,0.499,0.002 --sigma2 0.25
    rmtservice outliers --point 0 --sigma2 1 --spikes 2,0.5 --json
    rmtservice simulate --mp 0.5 1 --sigma2 0.5 --n 1000 --trials 4 --spikes 4 --seed 1
    rmtservice plot --uniform -1 1 --sigma2 0.25 --spikes 3,2 --simulate 800 -o spectrum.png
    rmtservice sweep --uniform -1 1 --sigma2 1 --spikes 3 --sizes 200:3000:200 -o sweep.png
    ID=$(rmtservice sweep --point 0 --sigma2 1 --sizes 200,400 --url $URL --detach)
    rmtservice sweep-status 3f2a... --url http://127.0.0.1:8000
    rmtservice fit eigenvalues.txt --alpha 0.05
    rmtservice fit model.safetensors --tensor layers.0.mlp.weight --json
    rmtservice rect-density --uniform 0 1 --sigma2 0.5 --aspect-ratio 0.5 --num 20
    rmtservice rect-outliers --point 0 --sigma2 1 --rows 2000 --cols 1000 --spikes 2,0.5
    rmtservice rect-simulate --uniform 0 1 --sigma2 0.5 --rows 2000 --cols 1000 --spikes 3
    rmtservice rect-stieltjes --point 0 --sigma2 1 --aspect-ratio 0.5 --z 1+0.5j,4,0
    rmtservice serve --port 8000
    rmtservice analyze model.safetensors --plots pictures/ --html report.html
    rmtservice denoise model.safetensors --tensor 'encoder.*.weight' -o denoised.safetensors
    rmtservice density --uniform -1 1 --sigma2 0.25 --url http://127.0.0.1:8000

Without ``--url`` the local core computes (:class:`~rmtservice.client.LocalClient`);
with it, a running service does. A local sweep runs on a Dask ``LocalCluster`` of
``--workers`` processes (or on ``--scheduler``). Bad input: a message on stderr and
exit code 2; Ctrl-C during a sweep cancels it (exit code 130). Output closed early
(``... --json | head``): exit code 141, as a program killed by SIGPIPE, no traceback.
Progress bars are drawn only when stderr is a terminal.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from rmtservice.client import Client, ServiceError, _analyze_cli, _denoise_cli, fit_cli
from rmtservice.vocabulary import NOISE_LAWS

if TYPE_CHECKING:
    from rmtservice.client.local import LocalClient

__all__ = ["main"]


class InputError(Exception):
    """A command-line value that cannot be used (exit code 2)."""


def _floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.replace(" ", ",").split(",") if v]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"not a comma-separated list of numbers: {text!r}"
        ) from exc


def _complexes(text: str) -> list[complex]:
    """``1+0.5j,4,-1j``: Python's complex literals, comma-separated."""
    try:
        return [complex(v.replace(" ", "")) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"not a comma-separated list of complex numbers (1+0.5j,4): {text!r}"
        ) from exc


def _sizes(text: str) -> list[int]:
    """``200,400,800`` or ``START:STOP:STEP`` (STOP included)."""
    try:
        if ":" in text:
            start, stop, step = (int(v) for v in text.split(":"))
            if step < 1:
                raise ValueError
            return list(range(start, stop + 1, step))
        return [int(v) for v in text.replace(" ", ",").split(",") if v]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"not N1,N2,... or START:STOP:STEP with STEP >= 1: {text!r}"
        ) from exc


def _measure(args: argparse.Namespace) -> dict[str, Any]:
    if args.atoms is not None:
        m: dict[str, Any] = {"kind": "atoms", "values": args.atoms}
    elif args.atoms_file is not None:
        try:
            text = Path(args.atoms_file).read_text()
        except OSError as exc:
            raise InputError(
                f"--atoms-file: cannot read {args.atoms_file}: {exc.strerror}"
            ) from exc
        try:
            m = {"kind": "atoms", "values": [float(v) for v in text.replace(",", " ").split()]}
        except ValueError as exc:
            raise InputError(f"--atoms-file: {args.atoms_file} holds a non-number") from exc
    elif args.uniform is not None:
        m = {"kind": "uniform", "low": args.uniform[0], "high": args.uniform[1]}
    elif args.semicircle is not None:
        m = {"kind": "semicircle", "center": args.semicircle[0], "radius": args.semicircle[1]}
    elif args.mp is not None:
        m = {"kind": "marchenko_pastur", "ratio": args.mp[0], "scale": args.mp[1]}
    elif args.point is not None:
        m = {"kind": "point", "at": args.point}
    elif args.measure_json is not None:
        try:
            m = json.loads(args.measure_json)
        except json.JSONDecodeError as exc:
            raise InputError(f"--measure-json: not JSON: {exc.msg}") from exc
    else:
        raise InputError(
            "give the law of H: --atoms, --atoms-file, --uniform, --semicircle, --mp, "
            "--point or --measure-json"
        )
    if args.weights is not None:
        if m.get("kind") != "atoms":
            raise InputError("--weights goes with --atoms or --atoms-file")
        m["weights"] = args.weights
    return m


def _add_measure(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("the law of H (one of)")
    g.add_argument("--atoms", type=_floats, metavar="X1,X2,...", help="eigenvalues of H")
    g.add_argument("--weights", type=_floats, metavar="W1,W2,...", help="weights of --atoms")
    g.add_argument("--atoms-file", metavar="FILE", help="eigenvalues of H, one per line")
    g.add_argument("--uniform", type=float, nargs=2, metavar=("LOW", "HIGH"))
    g.add_argument("--semicircle", type=float, nargs=2, metavar=("CENTER", "RADIUS"))
    g.add_argument(
        "--mp", type=float, nargs=2, metavar=("RATIO", "SCALE"), help="Marchenko-Pastur law"
    )
    g.add_argument("--point", type=float, metavar="AT", help="point mass")
    g.add_argument("--measure-json", metavar="JSON", help="any measure as API JSON (mixtures)")
    p.add_argument("--sigma2", type=float, required=True, help="noise variance (> 0)")
    p.add_argument("--json", action="store_true", help="print the JSON answer")
    p.add_argument("--url", help="use this service instead of the local core")


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="rmtservice", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="run the HTTP service")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--workers", type=int, default=1, help="server processes")
    d = sub.add_parser("density", help="density of the limit, with its support")
    _add_measure(d)
    g = d.add_mutually_exclusive_group()
    g.add_argument("--x", type=_floats, metavar="X1,X2,...")
    g.add_argument("--grid", type=float, nargs=3, metavar=("START", "STOP", "NUM"))
    g.add_argument("--num", type=int, help="points of the automatic grid")
    _add_measure(sub.add_parser("support", help="support components and masses"))
    o = sub.add_parser("outliers", help="which spikes separate, and where")
    _add_measure(o)
    o.add_argument("--spikes", type=_floats, required=True, metavar="T1,T2,...")
    i = sub.add_parser("inverse", help="spikes behind observed outliers")
    _add_measure(i)
    i.add_argument("--observed", type=_floats, required=True, metavar="Y1,Y2,...")
    m = sub.add_parser("simulate", help="eigenvalues of H + W, compared with the theory")
    _add_measure(m)
    m.add_argument("--n", type=int, required=True, help="matrix size")
    m.add_argument("--spikes", type=_floats, default=[], metavar="T1,T2,...")
    m.add_argument("--seed", type=int)
    m.add_argument("--trials", type=int, default=1)
    m.add_argument("--top", type=int)
    _add_noise(m)
    m.add_argument("--quiet", action="store_true", help="no progress bar")
    pl = sub.add_parser("plot", help="picture of the spectrum (PNG or SVG)")
    _add_measure(pl)
    pl.add_argument("--spikes", type=_floats, default=[], metavar="T1,T2,...")
    pl.add_argument("--simulate", type=int, metavar="N", help="overlay a simulation of size N")
    pl.add_argument("--seed", type=int)
    pl.add_argument("--trials", type=int, default=1)
    _add_out(pl, "file to write (.png or .svg)", alias="--output")
    w = sub.add_parser("sweep", help="Monte Carlo sweep over n: errors and convergence rates")
    _add_measure(w)
    _add_noise(w)
    w.add_argument("--sizes", type=_sizes, required=True, metavar="N1,N2,...|START:STOP:STEP")
    w.add_argument("--trials", type=int, default=4, help="draws per size")
    w.add_argument("--spikes", type=_floats, default=[], metavar="T1,T2,...")
    w.add_argument("--seed", type=int)
    w.add_argument("--scheduler", help="Dask scheduler address for a local sweep")
    w.add_argument("--workers", type=int, default=2, help="local Dask worker processes")
    _add_out(w, "also write the picture (.png or .svg)", alias="--plot")
    w.add_argument("--detach", action="store_true", help="print only the id and return (--url)")
    w.add_argument("--quiet", action="store_true", help="no progress bar")
    fit_cli.add_parser(sub, _floats)
    _add_rectangular(sub)
    for name, text in (
        ("sweep-status", "a sweep's state and results"),
        ("sweep-cancel", "cancel a sweep"),
    ):
        q = sub.add_parser(name, help=text)
        q.add_argument("id", help="the sweep's id")
        q.add_argument("--url", required=True, help="the service that runs it")
        q.add_argument("--json", action="store_true", help="print the JSON answer")
    _analyze_cli.add_parser(sub)
    _denoise_cli.add_parser(sub)
    return ap


def _add_out(p: argparse.ArgumentParser, text: str, *, alias: str) -> None:
    """``-o/--out FILE``, the one file a command writes; ``alias`` (the flag's old name)
    still works for scripts written before, unlisted."""
    p.add_argument("-o", "--out", metavar="FILE", help=text)
    p.add_argument(alias, dest="out", metavar="FILE", help=argparse.SUPPRESS)


def _add_shape(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("the shape of Y (n x p): --aspect-ratio, or --rows and --cols")
    g.add_argument("--aspect-ratio", type=float, metavar="C", help="c = p/n = cols/rows")
    g.add_argument("--rows", type=int, metavar="N", help="n, rows of Y")
    g.add_argument("--cols", type=int, metavar="P", help="p, columns of Y")


def _add_rectangular(sub: Any) -> None:
    """``rect-*``: the rectangular model Y = S + X, the law being that of the singular
    values of S."""
    d = sub.add_parser("rect-density", help="rectangular: density of the singular values")
    _add_measure(d)
    _add_shape(d)
    g = d.add_mutually_exclusive_group()
    g.add_argument("--x", type=_floats, metavar="X1,X2,...")
    g.add_argument("--grid", type=float, nargs=3, metavar=("START", "STOP", "NUM"))
    g.add_argument("--num", type=int, help="points of the automatic grid")
    s = sub.add_parser("rect-support", help="rectangular: support, thresholds, atoms at 0")
    _add_measure(s)
    _add_shape(s)
    o = sub.add_parser("rect-outliers", help="rectangular: which singular values of S separate")
    _add_measure(o)
    _add_shape(o)
    o.add_argument("--spikes", type=_floats, required=True, metavar="T1,T2,...")
    i = sub.add_parser("rect-inverse", help="rectangular: singular values of S behind outliers")
    _add_measure(i)
    _add_shape(i)
    i.add_argument("--observed", type=_floats, required=True, metavar="Y1,Y2,...")
    t = sub.add_parser("rect-stieltjes", help="rectangular: m(z) of Y^T Y's law, and Y Y^T's")
    _add_measure(t)
    _add_shape(t)
    g = t.add_argument_group("the points z (Im z >= 0): --z, or --re with --im")
    g.add_argument(
        "--z",
        type=_complexes,
        metavar="Z1,Z2,...",
        help="e.g. 1+0.5j,4,0 (--z=-1+1j if it starts with -)",
    )
    g.add_argument("--re", type=_floats, metavar="X1,X2,...", help="real parts")
    g.add_argument("--im", type=_floats, metavar="Y1,Y2,...", help="imaginary parts (default 0)")
    m = sub.add_parser("rect-simulate", help="rectangular: singular values of S + X, simulated")
    _add_measure(m)
    m.add_argument("--rows", type=int, required=True, help="n, rows of Y")
    m.add_argument("--cols", type=int, required=True, help="p, columns of Y")
    m.add_argument("--spikes", type=_floats, default=[], metavar="T1,T2,...")
    m.add_argument("--seed", type=int)
    m.add_argument("--trials", type=int, default=1)
    m.add_argument("--top", type=int)
    m.add_argument("--vectors", action="store_true", help="observed overlaps (full SVD)")
    _add_noise(m)
    m.add_argument("--quiet", action="store_true", help="no progress bar")


def _aspect_ratio(args: argparse.Namespace) -> float:
    if args.aspect_ratio is not None:
        if args.rows is not None or args.cols is not None:
            raise InputError("give --aspect-ratio or --rows and --cols, not both")
        return float(args.aspect_ratio)
    if args.rows is None or args.cols is None:
        raise InputError("give the shape: --aspect-ratio C, or --rows N and --cols P")
    if args.rows < 1 or args.cols < 1:
        raise InputError("--rows and --cols must be >= 1")
    return args.cols / args.rows


def _support_text(r: Any) -> str:
    text = _table(["lower", "upper", "mass"], [(c.lower, c.upper, c.mass) for c in r.support])
    return text + (
        f"\n\naspect ratio {r.aspect_ratio:.6g}; atom at 0 of Y^T Y {r.atom_at_zero:.6g}, "
        f"of Y Y^T {r.companion_atom_at_zero:.6g}; gap at 0: {'yes' if r.zero_gap else 'no'}"
    )


def _rectangular(client: Any, fields: dict[str, Any], args: argparse.Namespace) -> tuple[Any, str]:
    """The answer of a ``rect-*`` command and its text."""
    if args.command == "rect-simulate":
        return _rect_simulate(client, fields, args)
    fields["aspect_ratio"] = _aspect_ratio(args)
    if args.command == "rect-density":
        if args.x is not None:
            fields["x"] = args.x
        elif args.grid is not None:
            start, stop, num = args.grid
            fields["grid"] = {"start": start, "stop": stop, "num": int(num)}
        elif args.num is not None:
            fields["num"] = args.num
        r = client.rectangular_density(**fields)
        text = _table(["singular value", "density"], list(zip(r.x, r.density, strict=True)))
        return r, text + "\n\nsupport\n" + _support_text(r)
    if args.command == "rect-support":
        r = client.rectangular_support(**fields)
        lower, upper = r.thresholds.lower, r.thresholds.upper
        return r, _support_text(r) + f"\nthresholds: lower {lower}, upper {upper}"
    if args.command == "rect-outliers":
        r = client.rectangular_outliers(**fields, spikes=args.spikes)
        rows = [
            (o.spike, o.separated, o.location, o.slope, o.left_overlap, o.right_overlap)
            for o in r.outliers
        ]
        head = ["spike", "separated", "location", "slope", "left overlap", "right overlap"]
        return r, _table(head, rows) + f"\n\nthreshold: {r.threshold}"
    if args.command == "rect-stieltjes":
        return _rect_stieltjes(client, fields, args)
    r = client.rectangular_inverse(**fields, observed=args.observed)
    return r, _table(["observed", "spike"], [(s.observed, s.spike) for s in r.spikes])


def _points(args: argparse.Namespace) -> dict[str, list[float]]:
    """``z`` of rect-stieltjes as the API's ``{re, im}``."""
    if args.z is not None:
        if args.re is not None or args.im is not None:
            raise InputError("give --z or --re/--im, not both")
        return {"re": [v.real for v in args.z], "im": [v.imag for v in args.z]}
    if args.re is None:
        raise InputError("give the points: --z 1+0.5j,..., or --re X1,... [--im Y1,...]")
    im = [0.0] * len(args.re) if args.im is None else args.im
    if len(im) != len(args.re):
        raise InputError(f"--re has {len(args.re)} values, --im {len(im)}")
    return {"re": args.re, "im": im}


def _rect_stieltjes(
    client: Any, fields: dict[str, Any], args: argparse.Namespace
) -> tuple[Any, str]:
    z = _points(args)
    r = client.rectangular_stieltjes(**fields, z=z)

    def value(c: Any, i: int) -> str:
        # null on the wire: a pole at z = 0 (named below the table)
        return "pole" if c.re[i] is None else f"{c.re[i]:.10g}{c.im[i]:+.10g}j"

    rows = [
        (f"{x:.10g}{y:+.10g}j", value(r.m, i), value(r.m_companion, i), value(r.w, i))
        for i, (x, y) in enumerate(zip(z["re"], z["im"], strict=True))
    ]
    text = _table(["z", "m (Y^T Y)", "m_companion (Y Y^T)", "w"], rows)
    poles = [
        f"{name}: {why}"
        for name, why in (("m", r.poles_at_zero.m), ("m_companion", r.poles_at_zero.m_companion))
        if why is not None and any(x == 0 == y for x, y in zip(z["re"], z["im"], strict=True))
    ]
    return r, text + ("\n\npoles at z = 0: " + "; ".join(poles) if poles else "")


def _rect_simulate(
    client: Any, fields: dict[str, Any], args: argparse.Namespace
) -> tuple[Any, str]:
    fields |= {
        "noise": _noise_law(fields["noise"], args),
        "rows": args.rows,
        "cols": args.cols,
        "spikes": args.spikes,
        "seed": args.seed,
        "trials": args.trials,
        "top": args.top,
        "vectors": args.vectors or None,
    }
    bar = _Progress(args.quiet or args.json)
    if not isinstance(client, Client):
        r = client.rectangular_simulate(**fields, progress=bar)
    else:
        if not bar.quiet:
            sys.stderr.write(f"simulating {args.trials} trial(s) on {args.url} ...\n")
        r = client.rectangular_simulate(**fields)
    lines = [f"seed {r.seed}, {r.rows} x {r.cols}"]
    for k, sv in enumerate(r.singular_values):
        head = ", ".join(f"{v:.6g}" for v in sv[:8] if v is not None)
        lines.append(f"trial {k}: {len(sv)} singular values, largest {head}")
    if r.outliers:
        rows = [
            (
                o.spike,
                o.predicted,
                o.observed,
                o.difference,
                o.left_overlap_observed,
                o.right_overlap_observed,
            )
            for o in r.outliers
        ]
        names = ["spike", "predicted", "observed", "difference", "left overlap", "right overlap"]
        lines += ["", _table(names, rows)]
    c = r.comparison
    if c is not None and c.kolmogorov is not None:
        ks = ", ".join(f"{v:.3g}" for v in c.kolmogorov if v is not None)
        lines.append(f"\nKolmogorov distance to the limit: {ks}")
    return r, "\n".join(lines)


def _add_noise(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--noise",
        default="gaussian",
        choices=list(NOISE_LAWS),
    )
    p.add_argument("--df", type=float, help="student_t degrees of freedom (> 4)")
    p.add_argument("--density", type=float, help="sparse noise: fraction of non-zeros")


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, bool):
            return "yes" if v else "no"
        if isinstance(v, float):
            return f"{v:.10g}"
        return str(v)

    text = [[cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[j]) for r in text]) for j, h in enumerate(headers)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in text]
    return "\n".join(lines)


class _Progress:
    """A one-line progress bar on stderr, drawn only on a terminal (a log or a pipe would
    get every frame)."""

    def __init__(self, quiet: bool, label: str = "simulating") -> None:
        self.quiet = quiet
        self.label = label
        self.start = time.monotonic()
        self.drawn = not quiet and sys.stderr.isatty()

    def __call__(self, done: int, total: int) -> None:
        if not self.drawn:
            return
        width = 30
        fill = int(width * done / total)
        sys.stderr.write(
            f"\r{self.label} [{'#' * fill}{'.' * (width - fill)}] {done}/{total} "
            f"{time.monotonic() - self.start:.1f}s"
        )
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def _run(args: argparse.Namespace) -> str:
    if args.command == "fit":
        return fit_cli.run(args, InputError)
    if args.command in ("sweep-status", "sweep-cancel"):
        with Client(args.url) as remote:
            if args.command == "sweep-cancel":
                r = remote.cancel_sweep(args.id)
            else:
                r = remote.sweep_status(args.id)
        return r.model_dump_json(indent=2) if args.json else _sweep_text(r)
    fields: dict[str, Any] = {"measure": _measure(args), "noise": {"sigma2": args.sigma2}}
    if args.command == "sweep":
        client: Any = (
            Client(args.url)
            if args.url
            else _local(dask_scheduler=args.scheduler, dask_workers=args.workers)
        )
    else:
        client = Client(args.url) if args.url else _local()
    with client:
        if args.command.startswith("rect-"):
            r, text = _rectangular(client, fields, args)
        elif args.command == "density":
            if args.x is not None:
                fields["x"] = args.x
            elif args.grid is not None:
                fields["grid"] = {
                    "start": args.grid[0],
                    "stop": args.grid[1],
                    "num": int(args.grid[2]),
                }
            elif args.num is not None:
                fields["num"] = args.num
            r = client.density(**fields)
            text = _table(["x", "density"], list(zip(r.x, r.density, strict=True)))
            sup = _table(
                ["lower", "upper", "mass"], [(c.lower, c.upper, c.mass) for c in r.support]
            )
            text += f"\n\nsupport\n{sup}\nmean {r.mean:.12g}  variance {r.variance:.12g}"
        elif args.command == "support":
            r = client.support(**fields)
            text = _table(
                ["lower", "upper", "mass"], [(c.lower, c.upper, c.mass) for c in r.support]
            )
        elif args.command == "outliers":
            r = client.outliers(**fields, spikes=args.spikes)
            text = _table(
                ["spike", "separated", "location", "slope", "overlap"],
                [(o.spike, o.separated, o.location, o.slope, o.overlap) for o in r.outliers],
            )
            text += f"\n\nthresholds: lower {r.thresholds.lower}, upper {r.thresholds.upper}"
        elif args.command == "plot":
            if args.out is None:
                raise InputError("plot needs -o/--out FILE (.png or .svg)")
            fmt = "svg" if str(args.out).lower().endswith(".svg") else "png"
            extra: dict[str, Any] = {"spikes": args.spikes, "format": fmt}
            if args.simulate is not None:
                extra["simulate"] = {"n": args.simulate, "seed": args.seed, "trials": args.trials}
            image = client.plot(**fields, **extra)
            try:
                Path(args.out).write_bytes(image)
            except OSError as exc:
                raise InputError(f"-o/--out: cannot write {args.out}: {exc.strerror}") from exc
            return f"wrote {args.out} ({len(image)} bytes, {fmt})"
        elif args.command == "inverse":
            r = client.inverse(**fields, observed=args.observed)
            text = _table(["observed", "spike"], [(s.observed, s.spike) for s in r.spikes])
        elif args.command == "sweep":
            r = _sweep(client, fields, args)
            # detached: the id alone on stdout, for ID=$(rmtservice sweep ... --detach)
            text = r.id if args.detach else _sweep_text(r)
        else:
            r = _simulate(client, fields, args)
            text = _simulation_text(r)
    return r.model_dump_json(indent=2) if args.json else text


def _noise_law(noise: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """The request's noise with the simulation's law (``--noise``, ``--df``, ``--density``)."""
    law = noise | {"distribution": args.noise}
    if args.df is not None:
        law["df"] = args.df
    if args.density is not None:
        law["density"] = args.density
    return law


def _simulate(client: Any, fields: dict[str, Any], args: argparse.Namespace) -> Any:
    fields |= {
        "noise": _noise_law(fields["noise"], args),
        "n": args.n,
        "spikes": args.spikes,
        "seed": args.seed,
        "trials": args.trials,
        "top": args.top,
    }
    bar = _Progress(args.quiet or args.json)
    if not isinstance(client, Client):
        return client.simulate(**fields, progress=bar)
    if not bar.quiet:
        sys.stderr.write(f"simulating {args.trials} trial(s) on {args.url} ...\n")
    return client.simulate(**fields)


def _sweep(client: Any, fields: dict[str, Any], args: argparse.Namespace) -> Any:
    fields["noise"] |= {"distribution": args.noise, "df": args.df, "density": args.density}
    fields |= {"sizes": args.sizes, "trials": args.trials, "spikes": args.spikes, "seed": args.seed}
    started = client.sweep(**fields)
    if args.detach:
        if not args.url:
            raise InputError("--detach needs --url (a local sweep ends with this command)")
        if not args.json:
            sys.stderr.write(
                f"sweep started; follow it with: rmtservice sweep-status ID --url {args.url}\n"
            )
        return started
    bar = _Progress(args.quiet or args.json, "sweeping")
    if not bar.quiet:
        sys.stderr.write(f"sweep {started.id}: {started.progress.total} tasks\n")
    try:
        r = client.wait_sweep(started.id, progress=bar, poll=0.5)
    except KeyboardInterrupt:
        client.cancel_sweep(started.id)
        sys.stderr.write(f"\ncancelled sweep {started.id}\n")
        raise
    if args.out:
        fmt = "svg" if str(args.out).lower().endswith(".svg") else "png"
        try:
            Path(args.out).write_bytes(client.sweep_plot(started.id, format=fmt))
        except OSError as exc:
            raise InputError(f"-o/--out: cannot write {args.out}: {exc.strerror}") from exc
    return r


def _sweep_text(r: Any) -> str:
    lines = [f"sweep {r.id}: {r.state}, {r.progress.done}/{r.progress.total} tasks, seed {r.seed}"]
    if r.error:
        lines.append(f"error: {r.error}")

    def mean(m: Any) -> Any:
        return None if m is None else m.mean

    rows = [
        (z.n, z.trials, mean(z.outlier_error), mean(z.edge_error), mean(z.kolmogorov))
        for z in r.sizes
    ]
    if rows:
        lines += ["", _table(["n", "trials", "outlier error", "edge error", "kolmogorov"], rows)]
    fits = [
        (name, f.rate, f.rate_stderr, f.reference)
        for name, f in (
            ("outlier error", r.fits.outlier_error),
            ("edge error", r.fits.edge_error),
            ("kolmogorov", r.fits.kolmogorov),
        )
        if f is not None
    ]
    if fits:
        lines += [
            "",
            "rates: log error = a + rate log n",
            _table(["metric", "rate", "stderr", "reference"], fits),
        ]
    return "\n".join(lines)


def _simulation_text(r: Any) -> str:
    lines = [f"seed {r.seed}"]
    for k, ev in enumerate(r.eigenvalues):
        head = ", ".join(f"{v:.6g}" for v in ev[:8] if v is not None)
        lines.append(f"trial {k}: {len(ev)} eigenvalues, largest {head}")
    if r.outliers:
        lines.append("")
        lines.append(
            _table(
                ["spike", "predicted", "observed", "difference"],
                [(o.spike, o.predicted, o.observed, o.difference) for o in r.outliers],
            )
        )
    c = r.comparison
    if c is not None and c.kolmogorov is not None:
        ks = ", ".join(f"{v:.3g}" for v in c.kolmogorov if v is not None)
        lines.append(f"\nKolmogorov distance to the limit: {ks}")
        lines.append(
            f"eigenvalues outside the support: {c.outside_support} "
            f"(separated spikes: {c.separated_spikes})"
        )
    return "\n".join(lines)


#: uvicorn's HTTP protocol for ``rmtservice serve`` (as ``make serve`` and the image)
SERVER_PROTOCOL = "app.http.server:HeadDeadlineProtocol"


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    # the same server as `make serve` and the image: a deadline on each request's head
    # (named by path: the SDK never imports the web layer)
    uvicorn.run(
        "app.main:app",
        http=SERVER_PROTOCOL,
        host=args.host,
        port=args.port,
        workers=args.workers,
    )
    return 0


def _problem_text(err: ServiceError) -> str:
    lines = [f"error: {err.detail or err.title} ({err.status})"]
    for e in err.errors:
        where = e.get("path") or ".".join(map(str, e.get("loc", [])))
        lines.append(f"  {where}: {e.get('message', '')}")
    return "\n".join(lines)


def _local(**options: Any) -> LocalClient:
    """The local core as a client (imported here: building the parser, and every command
    sent to a server, must not load numpy and scipy)."""
    from rmtservice.client.local import LocalClient

    return LocalClient(**options)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``rmtservice``; returns the exit code.

    2: bad input, 1: service unreachable, 141: output closed early (``| head``).
    """
    try:
        return _main(argv)
    except BrokenPipeError:
        # the reader went away (``| head``): no traceback, and none at exit either, when
        # Python flushes stdout again (it goes to /dev/null from here)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 141


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    if args.command == "analyze":
        return _analyze_cli.run(args)
    if args.command == "denoise":
        return _denoise_cli.run(args)
    try:
        print(_run(args), flush=True)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ServiceError as exc:
        print(_problem_text(exc), file=sys.stderr)
        return 2 if 400 <= exc.status < 500 else 1
    except httpx.HTTPError as exc:
        print(f"error: cannot reach {args.url}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
