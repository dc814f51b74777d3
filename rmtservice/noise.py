"""The law of the entries of W: one frozen value, validated once where it is made.

The simulations (symmetric and rectangular), a sweep's trials and the Dask plan take
a :class:`Noise` and trust it; the public functions still accept the law's name with
``df``/``density`` and build the value once (:meth:`Noise.of`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from rmtservice.errors import InvalidParameter
from rmtservice.vocabulary import NOISE_LAWS, NoiseDistribution

__all__ = ["GAUSSIAN", "Noise"]


@dataclass(frozen=True)
class Noise:
    """I.i.d. unit-variance entries of law ``distribution``: Student's t with ``df``
    degrees of freedom (``df > 4``, a finite fourth moment), or a sparse Gaussian with
    a fraction ``density`` of non-zero entries."""

    distribution: NoiseDistribution = "gaussian"
    df: float | None = None
    density: float | None = None

    def __post_init__(self) -> None:
        law, df, density = self.distribution, self.df, self.density
        if law not in NOISE_LAWS:
            raise InvalidParameter(
                f"noise distribution must be one of {', '.join(NOISE_LAWS)}, got {law!r}",
                field="distribution",
            )
        if law == "student_t" and not (df is not None and math.isfinite(df) and df > 4):
            raise InvalidParameter(
                "student_t noise needs df > 4 (finite fourth moment)", field="df"
            )
        if law == "sparse" and not (density is not None and 0 < density <= 1):
            raise InvalidParameter("sparse noise needs density in (0, 1]", field="density")

    @classmethod
    def of(
        cls, noise: str | Noise = "gaussian", df: float | None = None, density: float | None = None
    ) -> Noise:
        """``noise`` itself if it is a :class:`Noise`, else the law of that name."""
        if isinstance(noise, Noise):
            if df is not None or density is not None:
                raise InvalidParameter("df and density belong to the Noise given", field="df")
            return noise
        return cls(noise, df, density)  # type: ignore[arg-type]  # checked in __post_init__

    def fill(self, block: NDArray[np.float64], rng: np.random.Generator) -> None:
        """Fill a float64 block with i.i.d. draws of this law, in place."""
        law = self.distribution
        if law == "gaussian":
            rng.standard_normal(out=block)
        elif law == "uniform":
            rng.random(out=block)
            block -= 0.5
            block *= 2.0 * math.sqrt(3.0)
        elif law == "rademacher":
            rng.random(out=block)
            np.less(block, 0.5, out=block)
            block *= 2.0
            block -= 1.0
        elif law == "student_t":
            assert self.df is not None
            block[:] = rng.standard_t(self.df, size=block.shape)
            block /= math.sqrt(self.df / (self.df - 2.0))
        else:
            assert self.density is not None
            rng.standard_normal(out=block)
            block *= rng.random(size=block.shape) < self.density
            block /= math.sqrt(self.density)


#: the default law
GAUSSIAN = Noise()
