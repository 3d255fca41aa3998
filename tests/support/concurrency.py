"""Races: calls that really overlap, to test what concurrent requests and jobs do."""

import threading
import time


def at_once(calls, timeout=120):
    """Run each of ``calls`` (functions of no arguments) in a thread of its own, all released
    together by one barrier, and return their results in the order of ``calls``.

    When a call raises, the exception is raised here once every thread has ended (the first
    one, in the order of ``calls``), so a failure inside a thread fails the test.
    """
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)
    errors = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout)
            results[index] = call()
        except BaseException as exc:  # raised in the test's thread below
            errors[index] = exc

    threads = [
        threading.Thread(target=run, args=(index, call), daemon=True)
        for index, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    if any(thread.is_alive() for thread in threads):
        raise AssertionError(f"calls still running after {timeout}s")
    for error in errors:
        if error is not None:
            raise error
    return results
