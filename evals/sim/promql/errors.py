"""The PromQL subset's errors, array types and the series source the evaluator reads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
LabelKey = tuple[tuple[str, str], ...]

LOOKBACK_SECONDS = 300.0
MAX_POINTS = 11_000


class PromQLError(Exception):
    """A query that cannot be answered; `error_type` is Prometheus' ``errorType``."""

    error_type: Literal["bad_data", "execution"] = "bad_data"
    http_status = 400


class PromQLParseError(PromQLError):
    """The query is not valid (or not in the supported subset): ``bad_data``, HTTP 400."""


class PromQLExecutionError(PromQLError):
    """The query parsed but cannot be evaluated (e.g. many-to-many matching): ``execution``, HTTP 422."""

    error_type = "execution"
    http_status = 422


class SeriesSource(Protocol):
    """Where samples come from. Label sets are static; samples are produced on demand."""

    def label_sets(self) -> Sequence[Mapping[str, str]]: ...

    def samples(self, index: int, start: float, end: float) -> tuple[FloatArray, FloatArray]:
        """Times (unix seconds, ascending) and values of series ``index`` within [start, end]."""
        ...
