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


# ----------------------------------------------------------- the rectangular model
# (pure noise, sigma2 = 1, c = 1/2: Marchenko-Pastur singular values on
# [1 - 1/sqrt 2, 1 + 1/sqrt 2], threshold c^(1/4), Phi(4) = (4 + 1)(4 + 1/2)/4)

RECT = {"measure": POINT, "noise": NOISE, "aspect_ratio": 0.5}
MP_SUPPORT = [{"lower": 0.2928932188134525, "upper": 1.7071067811865475, "mass": 1.0}]
MP_FACTS = {
    "support": MP_SUPPORT,
    "aspect_ratio": 0.5,
    "zero_gap": True,
    "atom_at_zero": 0.0,
    "companion_atom_at_zero": 0.5,
    "mean_square": 1.0,
}
RECT_MATRIX = {"kind": "matrix", "entries": [[3.0, 0.0, 0.0], [0.0, 1.0, 0.0]]}

RECT_STIELTJES_REQUESTS = {
    "marchenko_pastur": request(
        "Pure noise: m(1 + i), the boundary value m(1 + i0), m(4) and m(0)",
        RECT | {"z": {"re": [1.0, 1.0, 4.0, 0.0], "im": [1.0, 0.0, 0.0, 0.0]}},
    ),
}
RECT_STIELTJES_RESPONSES = ok(
    (
        "marchenko_pastur",
        "The Marchenko-Pastur transforms of Y^T Y and Y Y^T, and the subordination; at "
        "z = 0 (n > p) m(0) = 1/(sigma2 (1 - c)) and the companion's pole is null",
        {
            "m": {
                "re": [-0.05606646973937295, -0.4999999999999999, -0.3596117967977925, 2.0],
                "im": [0.7407288955208569, 1.3228756555322954, 0.0, 0.0],
            },
            "m_companion": {
                "re": [-0.2780332348696865, -0.75, -0.30480589839889627, None],
                "im": [0.6203644477604284, 0.6614378277661477, 0.0, None],
            },
            "w": {
                "re": [-0.39839768263011494, -0.24999999999999997, 2.280776406404415, -1.0],
                "im": [1.3423312128907419, 0.6614378277661476, 0.0, 0.0],
            },
            "poles_at_zero": {
                "m": None,
                "m_companion": "the law of Y Y^T has an atom 1 - p/n at 0",
            },
        },
    )
)
RECT_DENSITY_REQUESTS = {
    "grid": request(
        "Pure noise on an equally spaced grid of singular values",
        RECT | {"grid": {"start": 0.0, "stop": 2.0, "num": 5}},
    ),
    "matrix": request(
        "A 2 x 3 signal S (its shape gives aspect_ratio 3/2), automatic grid",
        {"measure": RECT_MATRIX, "noise": {"sigma2": 0.5}, "num": 64},
    ),
}
RECT_DENSITY_RESPONSES = ok(
    (
        "grid",
        "Marchenko-Pastur singular values on five points",
        MP_FACTS
        | {
            "x": [0.0, 0.5, 1.0, 1.5, 2.0],
            "density": [0.0, 0.8421687986955847, 0.8421687986955848, 0.5088535287807694, 0.0],
        },
    )
)
RECT_SUPPORT_REQUESTS = {
    "matrix": request(
        "A 2 x 3 signal S with singular values 3 and 1: two components",
        {"measure": RECT_MATRIX, "noise": {"sigma2": 0.5}},
    ),
}
RECT_SUPPORT_RESPONSES = ok(
    (
        "matrix",
        "Two components of mass 1/2; Y^T Y has an atom 1/3 at 0",
        {
            "support": [
                {"lower": 0.5172348710583081, "upper": 1.8011482945620012, "mass": 0.5},
                {"lower": 2.4725665753187145, "upper": 3.8455292170912094, "mass": 0.5},
            ],
            "aspect_ratio": 1.5,
            "zero_gap": True,
            "atom_at_zero": 0.33333333333333337,
            "companion_atom_at_zero": 0.0,
            "mean_square": 5.75,
            "thresholds": {"lower": 0.5730505989806178, "upper": 3.3614151916145265},
        },
    )
)
RECT_OUTLIERS_REQUESTS = {
    "benaych_georges": request(
        "Pure noise: spike 2 separates, spike 0.5 does not", RECT | {"spikes": [2.0, 0.5]}
    ),
}
RECT_OUTLIERS_RESPONSES = ok(
    (
        "benaych_georges",
        "sqrt(Phi(4)) = sqrt(5.625); overlaps (x^4 - c)/(x^2 (x^2 + 1)) and /(x^2 (x^2 + c))",
        {
            "support": MP_SUPPORT,
            "threshold": 0.8408964152537145,
            "thresholds": {"lower": None, "upper": 0.8408964152537145},
            "outliers": [
                {
                    "spike": 2.0,
                    "separated": True,
                    "location": 2.3717082451262845,
                    "slope": 0.96875,
                    "left_overlap": 0.775,
                    "right_overlap": 0.8611111111111112,
                },
                {
                    "spike": 0.5,
                    "separated": False,
                    "location": None,
                    "slope": -7.0,
                    "left_overlap": None,
                    "right_overlap": None,
                },
            ],
        },
    )
)
RECT_INVERSE_REQUESTS = {
    "benaych_georges": request(
        "An outlier at 2.5 and a value inside the bulk", RECT | {"observed": [2.5, 1.0]}
    ),
}
RECT_INVERSE_RESPONSES = ok(
    (
        "benaych_georges",
        "2.5 comes from the singular value 2.1546 of S; 1.0 is inside the support",
        {
            "spikes": [
                {"observed": 2.5, "spike": 2.1545984877471094},
                {"observed": 1.0, "spike": None},
            ]
        },
    )
)
RECT_SIMULATE_REQUESTS = {
    "spiked": request(
        "A 6 x 3 matrix, pure noise plus one spike",
        {"measure": POINT, "noise": NOISE, "rows": 6, "cols": 3, "spikes": [3.0], "seed": 42},
    ),
    "heavy_tails": request(
        "Student-t noise, 2000 x 1000, a uniform bulk, 2 trials, top 5 singular values",
        {
            "measure": {"kind": "uniform", "low": 0.0, "high": 1.0},
            "noise": {"sigma2": 0.5, "distribution": "student_t", "df": 6.0},
            "rows": 2000,
            "cols": 1000,
            "spikes": [3.0, 2.0],
            "trials": 2,
            "top": 5,
            "seed": 7,
        },
    ),
}
RECT_SIMULATE_RESPONSES = ok(
    (
        "spiked",
        "Singular values, the seed, the spike's prediction sqrt(Phi(9)) and the comparison",
        {
            "singular_values": [[3.2801834016165907, 1.3512634097879113, 0.5318728918904017]],
            "seed": 42,
            "rows": 6,
            "cols": 3,
            "trials": 1,
            "top": None,
            "spikes": [3.0],
            "outliers": [
                {
                    "spike": 3.0,
                    "predicted": 3.248931448269655,
                    "observed": 3.2801834016165907,
                    "difference": 0.03125195334693576,
                    "observed_std": 0.0,
                    "left_overlap_predicted": 0.8944444444444445,
                    "right_overlap_predicted": 0.9415204678362573,
                    "left_overlap_observed": None,
                    "right_overlap_observed": None,
                }
            ],
            "comparison": {
                "outside_support": [1],
                "separated_spikes": 1,
                "kolmogorov": [0.5086679609462728],
            },
        },
    )
)
