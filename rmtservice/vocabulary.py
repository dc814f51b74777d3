"""The words every layer shares, each defined once: noise laws, sweep states and
metrics, the seed bound and the media types.

Plain constants (no numpy, no pydantic): the numeric core, the wire types, the SDK and
the web layer all import them from here. The measure kinds are the tags of the wire
union and are defined there (:data:`rmtservice.wire.schemas.MEASURE_KINDS`).
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "FINAL_STATES",
    "IMAGE_MEDIA_TYPES",
    "JSON_MEDIA_TYPE",
    "MAX_SEED",
    "NOISE_LAWS",
    "PROBLEM_MEDIA_TYPE",
    "SWEEP_METRICS",
    "SWEEP_STATES",
    "NoiseDistribution",
    "SweepState",
]

#: the laws of the entries of W (``noise.distribution``)
NoiseDistribution = Literal["gaussian", "rademacher", "uniform", "student_t", "sparse"]
NOISE_LAWS: tuple[NoiseDistribution, ...] = get_args(NoiseDistribution)

#: the life of a sweep; the last three are final
SweepState = Literal["queued", "running", "done", "failed", "cancelled"]
SWEEP_STATES: tuple[SweepState, ...] = get_args(SweepState)
FINAL_STATES: tuple[SweepState, ...] = ("done", "failed", "cancelled")

#: what a sweep measures per trial, and fits a rate to
SWEEP_METRICS = ("outlier_error", "edge_error", "kolmogorov")

#: the largest seed: 2^53 - 1, which every JSON reader (JavaScript's too) keeps exactly
MAX_SEED = 2**53 - 1

JSON_MEDIA_TYPE = "application/json"
PROBLEM_MEDIA_TYPE = "application/problem+json"
#: picture format -> its media type
IMAGE_MEDIA_TYPES = {"png": "image/png", "svg": "image/svg+xml"}
