"""One delivery through intake: normalize (per source) then correlate. The code path of serve,
replay and bench alike; the server adds authentication and the durable inbox around it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from intake.correlation import CorrelationEngine, Outcome
from intake.events import AlertPayloadError, Normalized
from intake.settings import SOURCE_NAMES, IntakeSettings, IntakeSource
from intake.sources import NORMALIZERS
from intake.topology import Topology

_NO_HEADERS: Mapping[str, str] = {}


class UnknownSource(LookupError):
    """No receiver of that name; the message lists the known ones."""


@dataclass(slots=True)
class Fed:
    normalized: Normalized
    outcomes: list[Outcome]


class IntakePipeline:
    """normalize → dedup → flap → suppression → grouping for one delivery at a time."""

    def __init__(
        self, settings: IntakeSettings, topology: Topology | None = None, *, engine: CorrelationEngine | None = None
    ) -> None:
        self.settings = settings
        self.engine = engine or CorrelationEngine(settings, topology)
        self._defaults = IntakeSource()
        self._sources: dict[str, IntakeSource] = {str(name): value for name, value in settings.sources.items()}

    def source_settings(self, source: str) -> IntakeSource:
        """The source's settings; replay accepts sources the config does not enable, with defaults."""
        return self._sources.get(source, self._defaults)

    def normalize(
        self, source: str, payload: object, received_at: float, headers: Mapping[str, str] = _NO_HEADERS
    ) -> Normalized:
        """Validate and normalize one payload; `AlertPayloadError` names the bad field."""
        normalizer = NORMALIZERS.get(source)
        if normalizer is None:
            raise UnknownSource(f"source: unknown {source!r}; known: {', '.join(SOURCE_NAMES)}")
        try:
            return normalizer(payload, headers, received_at, self.source_settings(source))
        except AlertPayloadError:
            raise
        except RecursionError as exc:
            raise AlertPayloadError("payload: nested too deeply to read") from exc
        except (TypeError, AttributeError, KeyError, IndexError, ValueError, OverflowError) as exc:
            # A shape no normalizer check anticipated: refuse it (a sender retries a 5xx forever) and keep the
            # type of the failure, so the missing check can be added; the delivery is kept as a dead letter.
            raise AlertPayloadError(
                f"payload: unexpected shape for a {source} alert ({type(exc).__name__}: {exc})"[:300]
            ) from exc

    def correlate(self, normalized: Normalized) -> list[Outcome]:
        process = self.engine.process
        outcomes = [process(event) for event in normalized.events]
        if normalized.truncated:
            self.engine.note_truncated(outcomes, normalized.truncated)
        return outcomes

    def feed(self, source: str, payload: object, received_at: float, headers: Mapping[str, str] = _NO_HEADERS) -> Fed:
        normalized = self.normalize(source, payload, received_at, headers)
        return Fed(normalized, self.correlate(normalized))


__all__ = ["AlertPayloadError", "Fed", "IntakePipeline", "UnknownSource"]
