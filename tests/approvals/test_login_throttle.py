"""Failed sign-ins are limited per user name and per client address, on an injected clock."""

from __future__ import annotations

from approvals.web.throttle import LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_five_failures_lock_the_user_name_and_the_address_for_the_lockout() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock=clock, max_failures=5, window_seconds=300, lockout_seconds=300)
    keys = throttle.keys("alice", "10.0.0.7")
    for _ in range(4):
        throttle.failed(keys)
        clock.now += 10
    assert throttle.retry_after(keys) == 0  # four failures: still allowed
    throttle.failed(keys)
    assert throttle.retry_after(keys) == 301
    # Another user from the same address is locked out too, and the same user from elsewhere.
    assert throttle.retry_after(throttle.keys("bob", "10.0.0.7")) > 0
    assert throttle.retry_after(throttle.keys("alice", "10.9.9.9")) > 0
    clock.now += 301
    assert throttle.retry_after(keys) == 0


def test_failures_outside_the_window_do_not_add_up_and_a_success_clears_the_user() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock=clock, max_failures=3, window_seconds=60, lockout_seconds=120)
    keys = throttle.keys("alice", None)
    for _ in range(5):
        throttle.failed(keys)
        clock.now += 31  # never three inside one minute
    assert throttle.retry_after(keys) == 0
    throttle.failed(keys)
    throttle.succeeded("alice")
    throttle.failed(keys)
    throttle.failed(keys)
    assert throttle.retry_after(keys) == 0  # the count restarted at the success
