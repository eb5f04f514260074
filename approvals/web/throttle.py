"""Failed console logins, counted per user name and per client address, so a password cannot be guessed
at the speed of the network.

After ``max_failures`` failures inside ``window_seconds`` for one key, that key is refused for
``lockout_seconds`` (HTTP 429 with ``Retry-After``), whatever the password; a successful login clears
the user name's count. The counts live in the serving process: behind several console processes the
limit applies per process (an authenticating proxy, the trusted-proxy mode, is the place for a global
one).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class LoginThrottle:
    clock: Callable[[], float]
    max_failures: int = 5
    window_seconds: float = 300.0
    lockout_seconds: float = 300.0
    _failures: dict[str, deque[float]] = field(default_factory=dict)
    _locked_until: dict[str, float] = field(default_factory=dict)

    @staticmethod
    def keys(username: str, client: str | None) -> list[str]:
        return [f"user:{username}", *([f"client:{client}"] if client else [])]

    def retry_after(self, keys: list[str]) -> int:
        """Seconds until these keys may try again; 0 when they may now."""
        now = self.clock()
        waits = [until - now for key in keys if (until := self._locked_until.get(key, 0.0)) > now]
        return int(max(waits)) + 1 if waits else 0

    def failed(self, keys: list[str]) -> None:
        now = self.clock()
        for key in keys:
            recent = self._failures.setdefault(key, deque())
            recent.append(now)
            while recent and recent[0] <= now - self.window_seconds:
                recent.popleft()
            if len(recent) >= self.max_failures:
                self._locked_until[key] = now + self.lockout_seconds
                recent.clear()

    def succeeded(self, username: str) -> None:
        self._failures.pop(f"user:{username}", None)
