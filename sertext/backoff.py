"""Retrying tracking calls: which errors are transient, and full-jitter exponential backoff.

Two layers could retry one MLflow call: MLflow's own HTTP layer (urllib3, ``MLFLOW_HTTP_REQUEST_MAX_RETRIES``
= 7 by default, backoff factor 2 s, it retries 408/429/500/502/503/504 and refused connections) and
sertext's :func:`retry` around it.  Stacked, they multiply: 6 sertext attempts × 8 HTTP attempts = 48
requests for one call, all of them against a server that is already overloaded.  So sertext keeps one
layer: :func:`quiet_http_retries` turns MLflow's HTTP retries off (unless the user set
``MLFLOW_HTTP_REQUEST_MAX_RETRIES`` themselves, then both apply) and :func:`retry` is the only one that
waits.  It is the better of the two under load:

- it also retries what MLflow never does: a ``400 BAD_REQUEST: QueuePool limit ... reached`` (the server's
  connection pool ran dry) or ``database is locked``, which are answers of a busy server, not bad calls;
- full jitter (sleep uniformly in ``[0, cap]``, the cap doubling per attempt) spreads the clients that
  failed together over the whole window instead of sending them back in a wave, as urllib3's backoff
  (the cap itself plus at most 1 s) does;
- its total wait is bounded (:class:`Backoff`), so a dead server fails the trial in minutes, not hours.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass

HTTP_RETRIES_VARIABLE = "MLFLOW_HTTP_REQUEST_MAX_RETRIES"

# Words in an error that mean "try again later": transport failures, a server restarting or
# overloaded, and the busy-database answers that MLflow's server sends back as 400 or 500.
TRANSIENT_WORDS = (
    "connection refused", "connection reset", "connection aborted", "remote end closed", "timed out",
    "max retries exceeded", "temporarily", "queuepool limit", "database is locked", "too many clients",
    "remaining connection slots", "could not connect to server", "server closed the connection",
    "too many 429 error", "too many 500 error", "too many 502 error", "too many 503 error",
    "too many 504 error", "error code 429", "error code 502", "error code 503", "error code 504",
    "service unavailable", "bad gateway", "gateway timeout", "too many requests",
)


@dataclass(frozen=True)
class Backoff:
    """How long :func:`retry` keeps trying.

    The defaults cover a tracking server restarting (about 5-10 s) or draining a burst of 256 trial
    starts (bench/tracking_load.py), and give up within 2 minutes of waiting on a server that stays
    down.  Between attempts k = 0, 1, ... it sleeps uniformly in [0, min(max_cap_s, first_cap_s·2^k)].
    """

    attempts: int = 12  # calls in all, the first one included
    first_cap_s: float = 0.5
    max_cap_s: float = 30.0  # a QueuePool wait times out after 30 s: no need to wait longer between tries
    total_wait_s: float = 120.0  # the sum of all sleeps never exceeds this

    def cap_s(self, attempt: int) -> float:
        """The largest sleep after failed attempt number ``attempt`` (0-based)."""
        return min(self.max_cap_s, self.first_cap_s * 2**attempt)


DEFAULT_BACKOFF = Backoff()


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` is worth retrying: a transport failure or a busy server's answer.

    A plain ``ConnectionError`` or ``TimeoutError`` always is; anything else is judged by its message,
    since MLflow wraps both transport and server errors in ``MlflowException``.  A 400 or 500 answer
    counts only when it names a busy database (a pool timeout, a lock): a bad parameter or a missing
    run fails the same way every time.  MLflow reports a 500 only as "too many 500 error responses"
    (the body is lost in urllib3), so those are retried within the same bounded wait.
    """
    if isinstance(error, (ConnectionError, TimeoutError)):
        return True
    message = str(error).lower()
    return any(word in message for word in TRANSIENT_WORDS)


def retry(call, *, backoff: Backoff = DEFAULT_BACKOFF, sleep=None, rng: random.Random | None = None):
    """Return ``call()``, retrying transient errors (:func:`is_transient`) with full jitter.

    Args:
        call: a function of no arguments; it must be safe to call again after a failure whose reply
            was lost (MLflow's writes are, and sertext's run creation checks first, see tracking.py).
        backoff: attempts, caps and the bound on the total wait.
        sleep: waits a number of seconds (default ``time.sleep``; tests pass a fake).
        rng: the source of jitter (default the ``random`` module; tests pass a seeded one).

    Raises:
        the last error, once it is not transient, or attempts or the total wait are used up.
    """
    sleep = time.sleep if sleep is None else sleep
    rng = random if rng is None else rng
    waited = 0.0
    for attempt in range(backoff.attempts):
        try:
            return call()
        except Exception as error:  # MLflow wraps transport errors in several exception types
            left = backoff.total_wait_s - waited
            if not is_transient(error) or attempt == backoff.attempts - 1 or left <= 0:
                raise
            pause = min(left, rng.uniform(0.0, backoff.cap_s(attempt)))
            sleep(pause)
            waited += pause
    raise AssertionError("unreachable: the last attempt returns or raises")


def quiet_http_retries() -> None:
    """Leave retrying to :func:`retry`: MLflow's HTTP layer sends each request once.

    MLflow reads ``MLFLOW_HTTP_REQUEST_MAX_RETRIES`` on every request, so setting it in this process
    (the driver, or a Ray trial's worker) before a client talks is enough.  A value the user set is
    kept; then the two layers multiply, as they would have.
    """
    os.environ.setdefault(HTTP_RETRIES_VARIABLE, "0")
