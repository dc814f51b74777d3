"""Fitting an observed spectrum: noise level, bulk edge, outliers and their spikes."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request

from app.api.examples import ok
from app.api.openapi import COMPUTE_PROBLEMS
from app.http.body import StrictJSONRoute
from app.runtime.compute import job
from rmtservice.wire.fit import FitRequest, FitResponse
from rmtservice.wire.fit import fit as run_fit

router = APIRouter(route_class=StrictJSONRoute)

#: a 40 x 40 GOE draw (sigma2 = 1) whose largest eigenvalue was set to 3.1
EIGENVALUES = [
    -1.999, -1.7483, -1.5411, -1.4192, -1.364, -1.2361, -1.1258, -1.0293, -0.9165, -0.8893,
    -0.8346, -0.7431, -0.6238, -0.5632, -0.4545, -0.4072, -0.3236, -0.3156, -0.2322, -0.1065,
    -0.0048, 0.0502, 0.2289, 0.3812, 0.47, 0.5186, 0.5488, 0.6224, 0.704, 0.7474,
    0.9067, 0.9396, 1.0319, 1.1359, 1.222, 1.3323, 1.4527, 1.6246, 1.7361, 3.1,
]  # fmt: skip
#: a 60 x 20 Gaussian draw (sigma2 = 1) whose largest singular value was set to 2.6
SINGULAR_VALUES = [
    2.6, 1.5307, 1.3715, 1.2758, 1.1661, 1.1488, 1.1288, 1.0437, 1.0169, 1.0014,
    0.918, 0.8533, 0.8149, 0.7794, 0.745, 0.6947, 0.6246, 0.585, 0.5161, 0.4909,
]  # fmt: skip

#: a 12 x 12 GOE draw (sigma2 = 1, two decimals) plus 3 at its corner
MATRIX = [
    [3.05, -0.5, 0.32, -0.11, 0.26, -0.02, 0.47, -0.07, -0.11, -0.72, 0.03, 0.08],
    [-0.5, -0.09, -0.24, -0.18, 0.16, -0.3, -0.04, 0.34, -0.15, 0.36, 0.04, 0.34],
    [0.32, -0.24, -0.3, -0.03, -0.02, 0.4, 0.17, 0.08, -0.31, -0.01, 0.06, 0.07],
    [-0.11, -0.18, -0.03, 0.61, -0.5, 0.21, 0.01, 0.42, -0.23, -0.04, 0.01, 0.61],
    [0.26, 0.16, -0.02, -0.5, -0.0, 0.2, -0.4, -0.07, 0.19, 0.13, -0.27, 0.15],
    [-0.02, -0.3, 0.4, 0.21, 0.2, -0.11, 0.51, 0.61, 0.33, -0.41, -0.15, 0.37],
    [0.47, -0.04, 0.17, 0.01, -0.4, 0.51, 0.02, 0.35, 0.0, 0.01, -0.37, -0.71],
    [-0.07, 0.34, 0.08, 0.42, -0.07, 0.61, 0.35, 0.64, -0.31, -0.3, 0.1, 0.46],
    [-0.11, -0.15, -0.31, -0.23, 0.19, 0.33, 0.0, -0.31, 0.36, 0.03, -0.26, 0.2],
    [-0.72, 0.36, -0.01, -0.04, 0.13, -0.41, 0.01, -0.3, 0.03, 0.3, -0.04, 0.32],
    [0.03, 0.04, 0.06, 0.01, -0.27, -0.15, -0.37, 0.1, -0.26, -0.04, -0.43, 0.13],
    [0.08, 0.34, 0.07, 0.61, 0.15, 0.37, -0.71, 0.46, 0.2, 0.32, 0.13, 0.16],
]  # fmt: skip

FIT_REQUESTS: dict[str, Any] = {
    "eigenvalues": {
        "summary": "Eigenvalues of a symmetric matrix (noise plus one spike)",
        "value": {"eigenvalues": EIGENVALUES, "seed": 7, "bootstrap": 20},
    },
    "singular_values": {
        "summary": "Singular values of a 60 x 20 matrix",
        "value": {
            "singular_values": SINGULAR_VALUES,
            "shape": {"rows": 60, "cols": 20},
            "alpha": 0.05,
            "seed": 7,
        },
    },
    "known_noise": {
        "summary": "Known noise level: the signal's law by deconvolution",
        "value": {"eigenvalues": EIGENVALUES, "sigma2": 1.0, "bootstrap": 0},
    },
    "matrix": {
        "summary": "The matrix itself (symmetric: wigner)",
        "value": {"matrix": {"entries": MATRIX}, "bootstrap": 0},
    },
}
FIT_RESPONSES = ok(
    (
        "eigenvalues",
        "One outlier: its spike, overlap and p-value",
        {
            "model": "wigner",
            "shape": {"rows": 40, "cols": 40},
            "sigma2": 1.0112354499237033,
            "sigma2_interval": [0.8763772790078648, 1.126865146064415],
            "sigma2_interval_method": "bootstrap",
            "confidence": 0.95,
            "center": -0.043511343490731005,
            "bulk": {"lower": -2.054715410634295, "upper": 1.9676927236528328},
            "spike_threshold": 1.005602033571782,
            "edge_threshold": 2.1390981062999375,
            "lower_edge_threshold": -2.2261207932813996,
            "alpha": 0.01,
            "outliers": [
                {
                    "index": 39,
                    "value": 3.1,
                    "p_value": 3.760219466367495e-16,
                    "spike": 2.7466290490994565,
                    "spike_limit": 2.7362097423870186,
                    "overlap": 0.8733501182094652,
                    "left_overlap": None,
                    "right_overlap": None,
                    "finite_n": True,
                }
            ],
            "rank": 1,
            "goodness_of_fit": {
                "ks": 0.05041670508864615,
                "p_value": 0.1370825709907181,
                "replicates": 20,
                "bulk_values": 39,
            },
            "verdict": {
                "noise_plus_spikes": True,
                "message": "Noise plus 1 spike: the 39 bulk values follow the semicircle law "
                "of the fitted noise level (Kolmogorov distance 0.0504, p = 0.14 by "
                "simulation).",
            },
            "tail": {
                "exponent": 2.960408005742818,
                "x_min": 1.601518960503715,
                "count": 11,
                "ks": 0.11774131665492138,
            },
            "deconvolved": None,
            "bootstrap": 20,
            "seed": 7,
        },
    )
)


@router.post(
    "/v1/fit",
    tags=["fit"],
    summary="Fit an observed spectrum: noise, edge, outliers, spikes",
    description=(
        "Fits noise plus spikes to an observed spectrum (docs/theory/fit.md): the "
        "eigenvalues of a symmetric matrix (`wigner`), the singular values of a "
        "`rows x cols` matrix with its `shape` (`rectangular`), or the `matrix` itself. "
        "Noise level `sigma2` by a quantile fit of the bulk iterated with the outlier "
        "tests (or given), its interval by a parametric bootstrap of Gaussian noise "
        "(or the CLT when `bootstrap` is 0); the bulk edges; the finite-n threshold at "
        "level `alpha` from the Tracy-Widom law and a step-down p-value per outlier; "
        "each outlier's spike by the finite-n inverse map and its predicted overlaps; "
        "the Kolmogorov distance of the bulk to the fitted law with its p-value by the "
        "same replicates; a verdict in words; the tail exponent of the top of the "
        "spectrum; and, with `sigma2` given, the signal's law by free deconvolution as an "
        "`atoms` measure that `/v1/density` accepts. Left out, `bootstrap` is 50 or the "
        "most that `max_fit_bootstrap_work` allows (`/v1/info`); without a `seed` one is "
        "drawn and returned."
    ),
    responses={**FIT_RESPONSES, **COMPUTE_PROBLEMS},
)
async def fit(
    request: Request,
    body: Annotated[FitRequest, Body(openapi_examples=FIT_REQUESTS)],
    run: job,
) -> FitResponse:
    work = request.app.state.settings.max_fit_bootstrap_work
    return await run(partial(run_fit, max_work=work), body)
