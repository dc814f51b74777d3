"""Request, response and problem examples for the OpenAPI spec.

The numbers are real answers of the service (point mass at 0 with ``sigma2 = 1``:
the semicircle law on [-2, 2], ``f(i) = i (sqrt 5 - 1)/2``, Peche's ``phi(2) = 2.5``).
"""

from __future__ import annotations

from typing import Any

from rmtservice.vocabulary import JSON_MEDIA_TYPE

POINT = {"kind": "point", "at": 0.0}
NOISE = {"sigma2": 1.0}
TWO_ATOMS = {"kind": "atoms", "values": [-2.0, 2.0]}
MIXTURE = {
    "kind": "mixture",
    "components": [
        {"weight": 0.7, "measure": {"kind": "uniform", "low": -1.0, "high": 1.0}},
        {"weight": 0.3, "measure": {"kind": "point", "at": 3.0}},
    ],
}
SEMICIRCLE_SUPPORT = [{"lower": -2.0, "upper": 2.0, "mass": 1.0}]


def request(summary: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"summary": summary, "value": value}


def ok(*examples: tuple[str, str, Any]) -> dict[int | str, dict[str, Any]]:
    """A 200 response with named examples ``(name, summary, value)``."""
    named = {name: {"summary": summary, "value": value} for name, summary, value in examples}
    return {200: {"content": {JSON_MEDIA_TYPE: {"examples": named}}}}


STIELTJES_REQUESTS = {
    "semicircle": request(
        "Point mass: the semicircle law",
        {"measure": POINT, "noise": NOISE, "z": {"re": [0.0, 0.0, 3.0], "im": [1.0, 0.0, 0.0]}},
    ),
    "mixture": request(
        "Mixture of a uniform law and a point mass",
        {"measure": MIXTURE, "noise": {"sigma2": 0.25}, "z": {"re": [0.5], "im": [0.1]}},
    ),
}
STIELTJES_RESPONSES = ok(
    (
        "semicircle",
        "f(i), the boundary value f(0 + i0) and f(3)",
        {
            "f": {"re": [0.0, 0.0, -0.3819660112501052], "im": [0.6180339887498956, 1.0, 0.0]},
            "omega": {"re": [0.0, 0.0, 2.618033988749895], "im": [1.618033988749893, 1.0, 0.0]},
        },
    )
)

DENSITY_REQUESTS = {
    "points": request("At given points", {"measure": POINT, "noise": NOISE, "x": [0.0, 1.0]}),
    "grid": request(
        "On an equally spaced grid",
        {"measure": POINT, "noise": NOISE, "grid": {"start": -2.5, "stop": 2.5, "num": 5}},
    ),
    "automatic": request(
        "On an automatic grid over the support (edges included)",
        {"measure": TWO_ATOMS, "noise": {"sigma2": 0.5}, "num": 64},
    ),
}
DENSITY_RESPONSES = ok(
    (
        "grid",
        "The semicircle density on five points",
        {
            "x": [-2.5, -1.25, 0.0, 1.25, 2.5],
            "density": [0.0, 0.24848057526102424, 0.3183098861837905, 0.24848057526102424, 0.0],
            "support": SEMICIRCLE_SUPPORT,
            "mean": 0.0,
            "variance": 1.0,
        },
    )
)

SUPPORT_REQUESTS = {
    "two_atoms": request(
        "Two atoms, small noise: two components",
        {"measure": TWO_ATOMS, "noise": {"sigma2": 0.5}},
    ),
}
SUPPORT_RESPONSES = ok(
    (
        "two_atoms",
        "Two components of mass 1/2",
        {
            "support": [
                {"lower": -3.0555364, "upper": -1.0714813, "mass": 0.5},
                {"lower": 1.0714813, "upper": 3.0555364, "mass": 0.5},
            ],
            "mean": 0.0,
            "variance": 4.5,
        },
    )
)

OUTLIERS_REQUESTS = {
    "peche": request(
        "Semicircle: spike 2 separates, spike 0.5 does not",
        {"measure": POINT, "noise": NOISE, "spikes": [2.0, 0.5]},
    ),
}
OUTLIERS_RESPONSES = ok(
    (
        "peche",
        "phi(2) = 2 + 1/2, overlap 1 - 1/4",
        {
            "support": SEMICIRCLE_SUPPORT,
            "thresholds": {"lower": -1.0, "upper": 1.0},
            "outliers": [
                {"spike": 2.0, "separated": True, "location": 2.5, "slope": 0.75, "overlap": 0.75},
                {
                    "spike": 0.5,
                    "separated": False,
                    "location": None,
                    "slope": -3.0,
                    "overlap": None,
                },
            ],
        },
    )
)

INVERSE_REQUESTS = {
    "peche": request(
        "An outlier at 2.5 and a value inside the bulk",
        {"measure": POINT, "noise": NOISE, "observed": [2.5, 1.0]},
    ),
}
INVERSE_RESPONSES = ok(
    (
        "peche",
        "2.5 comes from the spike 2; 1.0 is inside the support",
        {"spikes": [{"observed": 2.5, "spike": 2.0}, {"observed": 1.0, "spike": None}]},
    )
)

SIMULATE_REQUESTS = {
    "spiked": request(
        "A 4 x 4 matrix with one spike",
        {"measure": POINT, "noise": NOISE, "n": 4, "spikes": [3.0], "seed": 42},
    ),
    "theorem_2_1": request(
        "20 spikes from a uniform law on [3, 4]: histograms of the spectrum and the outliers",
        {
            "measure": {"kind": "uniform", "low": -1.0, "high": 1.0},
            "noise": {"sigma2": 0.25},
            "n": 400,
            "spike_law": {"kind": "uniform", "low": 3.0, "high": 4.0},
            "spike_count": 20,
            "output": "histogram",
            "bins": 8,
            "seed": 3,
        },
    ),
    "heavy_tails": request(
        "Student-t noise, 3 trials, top 5 eigenvalues",
        {
            "measure": {"kind": "uniform", "low": -1.0, "high": 1.0},
            "noise": {"sigma2": 0.25, "distribution": "student_t", "df": 6.0},
            "n": 200,
            "trials": 3,
            "top": 5,
            "seed": 7,
        },
    ),
}
SIMULATE_RESPONSES = ok(
    (
        "spiked",
        "Eigenvalues, the seed, the spike's prediction phi(3) = 3.33 and the comparison",
        {
            "eigenvalues": [
                [3.546572016530973, 0.1489079452426116, -0.053694419759587754, -1.4322760618699744]
            ],
            "bottom_eigenvalues": None,
            "histogram": None,
            "outlier_histogram": None,
            "seed": 42,
            "spikes": [3.0],
            "outliers": [
                {
                    "spike": 3.0,
                    "predicted": 3.3333333333333335,
                    "observed": 3.546572016530973,
                    "difference": 0.2132386831976394,
                    "observed_std": 0.0,
                    "overlap_predicted": 0.8888888888888888,
                    "overlap_observed": None,
                }
            ],
            "comparison": {"outside_support": [1], "separated_spikes": 1, "kolmogorov": [0.25]},
        },
    )
)


def _problem(slug: str, status: int, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": f"/problems/{slug}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": "/v1/density",
        "request_id": "3f2c9e0a7b1d4c59a8e6f0b2d4c6e8a0",
    } | extra


PROBLEMS: dict[int, tuple[str, dict[str, dict[str, Any]]]] = {
    400: (
        "Malformed JSON (NaN and Infinity are not JSON)",
        {
            "nan": {
                "summary": "A NaN literal",
                "value": _problem(
                    "malformed-json",
                    400,
                    "Malformed JSON",
                    "malformed JSON: NaN is not a JSON number (RFC 8259); send finite numbers only",
                ),
            }
        },
    ),
    404: (
        "No such resource",
        {
            "not_found": {
                "summary": "Unknown problem type",
                "value": _problem(
                    "not-found",
                    404,
                    "Not found",
                    "no problem type 'nope'",
                    instance="/problems/nope",
                ),
            }
        },
    ),
    413: (
        "The body is over max_body_bytes",
        {
            "too_large": {
                "summary": "Body too large",
                "value": _problem(
                    "body-too-large",
                    413,
                    "Request body too large",
                    "the request body is 5000000 bytes; the limit is 4194304 bytes",
                ),
            }
        },
    ),
    415: (
        "The body is not application/json",
        {
            "form": {
                "summary": "A form body",
                "value": _problem(
                    "unsupported-media-type",
                    415,
                    "Unsupported media type",
                    "send the body as JSON with the header Content-Type: application/json",
                ),
            }
        },
    ),
    422: (
        "Validation error, invalid parameter, limit exceeded or no convergence",
        {
            "validation": {
                "summary": 'Wrong type (strict: false and "1" are not numbers)',
                "value": _problem(
                    "validation-error",
                    422,
                    "Invalid request",
                    "1 validation error: /noise/sigma2: Input should be a valid number",
                    errors=[
                        {
                            "loc": ["body", "noise", "sigma2"],
                            "path": "/noise/sigma2",
                            "message": "Input should be a valid number",
                            "type": "float_type",
                        }
                    ],
                ),
            },
            "limit": {
                "summary": "Over a configured limit",
                "value": _problem(
                    "limit-exceeded",
                    422,
                    "Limit exceeded",
                    "x: point count 20000 is over the limit 10000 (max_grid_points in /v1/info)",
                    errors=[
                        {
                            "loc": ["body", "x"],
                            "path": "/x",
                            "message": "x: point count 20000 is over the limit 10000 "
                            "(max_grid_points in /v1/info)",
                            "type": "limit-exceeded",
                        }
                    ],
                ),
            },
            "domain": {
                "summary": "Outside the mathematical domain",
                "value": _problem(
                    "invalid-parameter",
                    422,
                    "Invalid parameter",
                    "matrix: must be symmetric (max |a_ij - a_ji| = 1)",
                    errors=[
                        {
                            "loc": ["body", "measure", "entries"],
                            "path": "/measure/entries",
                            "message": "matrix: must be symmetric (max |a_ij - a_ji| = 1)",
                            "type": "invalid-parameter",
                        }
                    ],
                ),
            },
        },
    ),
    503: (
        "The compute deadline was hit, or too many computations wait (see Retry-After)",
        {
            "deadline": {
                "summary": "Deadline exceeded",
                "value": _problem(
                    "deadline-exceeded",
                    503,
                    "Deadline exceeded",
                    "the computation exceeded its deadline",
                ),
            }
        },
    ),
}
