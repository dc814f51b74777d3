"""The exception tree of rmtservice.

::

    RMTError                      (Exception)       slug "rmt-error"
    +-- InvalidParameter          (ValueError)      slug "invalid-parameter"
    +-- LimitExceeded             (ValueError)      slug "limit-exceeded"
    +-- NoConvergence             (ArithmeticError) slug "no-convergence"
    +-- DeadlineExceeded          (TimeoutError)    slug "deadline-exceeded"

Each class is also a builtin exception, so library users can ``except ValueError``.
Layers above the core add their own subclasses (the sweeps' ``SweepNotFound``, slug
"not-found", and ``SweepsBusy``, slug "overloaded").

This module also holds the one vocabulary of problems (RFC 9457) that the web layer
(:mod:`app.problems`) and the SDK's ``LocalClient`` share: :data:`PROBLEM_TYPES`, the
table slug -> status, title and description, and the mapping of a core error's
``field`` and of a validation error's ``loc`` to the problem's field paths, so the
same bad input gets the same ``type``, ``title``, ``status``, ``detail`` and
``errors`` from the server and from the local client.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


class RMTError(Exception):
    """Base class of every error raised by rmtservice."""

    slug = "rmt-error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidParameter(RMTError, ValueError):
    """An input is outside the mathematical domain (e.g. ``sigma2 <= 0``)."""

    slug = "invalid-parameter"


class LimitExceeded(RMTError, ValueError):
    """An input is valid but larger than a configured limit."""

    slug = "limit-exceeded"


class NoConvergence(RMTError, ArithmeticError):
    """An iterative solver did not reach a residual at rounding level."""

    slug = "no-convergence"


class DeadlineExceeded(RMTError, TimeoutError):
    """A computation ran past its deadline."""

    slug = "deadline-exceeded"


# --------------------------------------------------------------- problem types


@dataclass(frozen=True)
class ProblemType:
    status: int
    title: str
    description: str


#: slug -> status, title and description of each problem ``type`` (``/problems/{slug}``)
PROBLEM_TYPES: dict[str, ProblemType] = {
    "malformed-json": ProblemType(
        400,
        "Malformed JSON",
        "The body is not valid JSON (RFC 8259). NaN and Infinity are not JSON and are refused.",
    ),
    "unauthorized": ProblemType(
        401,
        "Unauthorized",
        "This deployment requires an API key: send it in X-API-Key or as "
        "Authorization: Bearer <key>.",
    ),
    "request-timeout": ProblemType(
        408,
        "Request timeout",
        "The request did not arrive in time: its line and headers within "
        "header_timeout_seconds, or its body within body_timeout_seconds.",
    ),
    "headers-too-large": ProblemType(
        431,
        "Request header fields too large",
        "The request line and headers are larger than the configured max_header_bytes.",
    ),
    "body-too-large": ProblemType(
        413,
        "Request body too large",
        "The body is larger than the configured max_body_bytes (a weight file uploaded to "
        "/v1/denoise or /v1/analyze: max_upload_bytes).",
    ),
    "unsupported-media-type": ProblemType(
        415,
        "Unsupported media type",
        "Request bodies must be sent as application/json (/v1/denoise and /v1/analyze also "
        "take a weight file: application/octet-stream or application/vnd.safetensors).",
    ),
    "validation-error": ProblemType(
        422,
        "Invalid request",
        "The JSON does not match the request schema: `errors` lists each offending field.",
    ),
    "invalid-parameter": ProblemType(
        422, "Invalid parameter", "A value is outside the mathematical domain of the model."
    ),
    "limit-exceeded": ProblemType(
        422, "Limit exceeded", "A size is over a limit configured for this service (/v1/info)."
    ),
    "no-convergence": ProblemType(
        422,
        "No convergence",
        "A solver did not reach a residual at rounding level for this input.",
    ),
    "rmt-error": ProblemType(422, "Computation error", "The computation refused the input."),
    "deadline-exceeded": ProblemType(
        503,
        "Deadline exceeded",
        "The computation ran past the per-request deadline; retry later or ask for less.",
    ),
    "overloaded": ProblemType(
        503,
        "Service overloaded",
        "Too many computations are waiting, or the simulations in flight hold the memory "
        "budget; retry later.",
    ),
    "not-ready": ProblemType(503, "Not ready", "The service is starting or overloaded."),
    "scheduler-unavailable": ProblemType(
        503,
        "Scheduler unavailable",
        "The Dask scheduler that runs sweeps cannot be reached; retry later.",
    ),
    "not-found": ProblemType(404, "Not found", "No resource at this path."),
    "method-not-allowed": ProblemType(
        405, "Method not allowed", "The path exists but not with this method (see Allow)."
    ),
    "internal-error": ProblemType(
        500, "Internal server error", "An unexpected error; it was logged with the request id."
    ),
}

#: the most field errors one problem lists
MAX_FIELD_ERRORS = 50
#: characters of an input value (a string, a key, a path) echoed in a problem, at most
MAX_ECHO = 100

#: the core's errors by precedence (a subclass of two is reported as the first)
_RMT_SLUGS: tuple[tuple[type[RMTError], str], ...] = (
    (DeadlineExceeded, "deadline-exceeded"),
    (LimitExceeded, "limit-exceeded"),
    (NoConvergence, "no-convergence"),
    (InvalidParameter, "invalid-parameter"),
)
#: core field names that live below the request's top level
_CORE_FIELDS = {
    "sigma2": "noise.sigma2",
    "distribution": "noise.distribution",
    "df": "noise.df",
    "density": "noise.density",
}


def type_uri(slug: str) -> str:
    """The ``type`` member: a relative URI that ``GET`` resolves to the description."""
    return f"/problems/{slug}"


def clip(text: str, limit: int = MAX_ECHO) -> str:
    """``text`` cut to ``limit`` characters, an ellipsis marking the cut: input echoed in
    a problem (a tag, a key, a path) must not grow the answer with the request."""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def slug_of(exc: RMTError) -> str:
    """The problem type of a core error (``rmt-error`` for an unknown slug)."""
    slug = next((s for cls, s in _RMT_SLUGS if isinstance(exc, cls)), exc.slug)
    return slug if slug in PROBLEM_TYPES else "rmt-error"


# ----------------------------------------------------------------- field paths


def pointer(loc: Sequence[str | int]) -> str:
    """JSON Pointer (RFC 6901) into the body for a ``loc`` that starts with ``body``."""
    parts = list(loc[1:]) if loc and loc[0] == "body" else list(loc)
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def field_loc(field: str) -> list[str | int]:
    """The ``loc`` of a core error's dotted ``field`` in the request body (a field
    that starts with ``body.`` is one already: a top-level ``sigma2``, as in /v1/fit)."""
    field = field[5:] if field.startswith("body.") else _CORE_FIELDS.get(field, field)
    return ["body", *(int(p) if p.isdigit() else p for p in field.split("."))]


#: fields whose value is a measure (a union tagged by ``kind``)
_MEASURE_FIELDS = ("measure", "spike_law")


def clean_loc(loc: Sequence[Any], tags: Collection[str] = ()) -> list[str | int]:
    """A validation error's ``loc`` without the union's discriminator ``tags`` after a
    measure field (``measure.atoms.values`` -> ``measure.values``, ``spike_law.uniform``
    -> ``spike_law``); long keys clipped (an unknown field's name is input)."""
    out: list[str | int] = []
    for part in loc:
        if part in tags and out and out[-1] in _MEASURE_FIELDS:
            continue
        out.append(part if isinstance(part, int) else clip(str(part)))
    return out


def field_error(loc: Sequence[Any], message: str, kind: str) -> dict[str, Any]:
    """One member of a problem's ``errors``: ``loc``, its ``path``, message and type."""
    clean = list(loc)
    return {"loc": clean, "path": pointer(clean), "message": message, "type": kind}


def _clip_echoes(message: str, error: Mapping[str, Any]) -> str:
    """Pydantic's message with the long input strings it quotes (the input itself, or a
    value of its context, e.g. an unknown ``kind``) clipped."""
    values = [error.get("input"), *(error.get("ctx") or {}).values()]
    for value in values:
        if isinstance(value, str) and len(value) > MAX_ECHO:
            message = message.replace(value, clip(value))
    return message


def _describe(errors: list[dict[str, Any]], total: int) -> str:
    shown = "; ".join(f"{e['path'] or '(body)'}: {e['message']}" for e in errors[:3])
    more = f" (and {total - 3} more)" if total > 3 else ""
    noun = "error" if total == 1 else "errors"
    return f"{total} validation {noun}: {shown}{more}"


# -------------------------------------------------------------------- problems


def problem(slug: str, detail: str, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """``type``, ``title``, ``status`` and ``detail`` (and ``errors``) of a problem."""
    kind = PROBLEM_TYPES[slug]
    body: dict[str, Any] = {
        "type": type_uri(slug),
        "title": kind.title,
        "status": kind.status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    return body


def core_problem(exc: RMTError) -> dict[str, Any]:
    """The problem of a core error: its field, if any, as the one member of ``errors``."""
    slug = slug_of(exc)
    errors = None
    if exc.field is not None and slug != "deadline-exceeded":
        errors = [field_error(field_loc(exc.field), exc.message, slug)]
    return problem(slug, exc.message, errors)


def validation_problem(
    raw: Sequence[Mapping[str, Any]], tags: Collection[str] = ()
) -> dict[str, Any]:
    """The problem of pydantic's validation errors (``loc``, ``msg``, ``type`` each;
    ``loc`` starting with ``body``); ``tags``: the measure union's discriminators."""
    errors = [
        field_error(
            clean_loc(e.get("loc", ()), tags),
            _clip_echoes(str(e.get("msg", "")), e),
            str(e.get("type")),
        )
        for e in raw
    ]
    return problem("validation-error", _describe(errors, len(errors)), errors[:MAX_FIELD_ERRORS])
