"""The Celery application both ends of the queue use: its broker, its settings, its errors.

The broker is Redis, and the same Redis server keeps the answers (Celery's result
backend). Why Redis rather than RabbitMQ:

- one server is the queue *and* the store of answers, so a coordinator killed and started
  again finds the answers that came while it was away, on any machine; RabbitMQ would
  need a second store for them (its ``rpc://`` answers go to the coordinator's own
  connection and die with it);
- one server loses or keeps everything together: the queue, the answers and the record of
  what the coordinator sent (``queuebatch``). A Redis that lost its memory lost the record
  too, so the coordinator sends again what it cannot find;
- it is one small binary (``redis-server``), up in milliseconds on any free port, which
  the tests start on their own; RabbitMQ brings an Erlang runtime, a node name and
  cookie, and ports of its own.

What it costs: RabbitMQ gives an unacknowledged task to another consumer the moment the
worker's connection drops; Redis only once the task's *visibility timeout* has passed. So
a worker SIGKILLed mid-grade delays its tasks by up to that timeout, and the timeout must
be longer than the longest grade (two attempts of ``--timeout``), or a grade still running
is given to a second worker too (graded twice, recorded once: no harm but the time).
Hence ``DEFAULT_VISIBILITY_TIMEOUT`` and ``grader worker --visibility-timeout``. Every
consumer sweeps for tasks past their timeout (``unacked_restore_interval``).

Acknowledgement is late (``task_acks_late``): a task leaves the queue only once its answer
is stored, so nothing a worker took is lost when it dies. ``task_reject_on_worker_lost``
puts back a task whose pool process died; the worker runs its gradings in threads, so it
is the whole worker that dies, and the visibility timeout brings the task back. A task
delivered again after its answer was stored is not graded again
(``worker_deduplicate_successful_tasks``).

Rule: settings live here, once. Nothing here grades, and nothing here writes results.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from .batch import ATTEMPTS
from .runners import SESSION_TIMEOUT

TASK_NAME = "tcp-grader.grade"
QUEUE = "tcp-grader"
# Two attempts of the longest session, and room for the runner around them.
DEFAULT_VISIBILITY_TIMEOUT = ATTEMPTS * SESSION_TIMEOUT + 600
RESULT_EXPIRES = 7 * 24 * 3600  # answers wait a week for a coordinator started again
SCHEMES = ("redis", "rediss")


class QueueUnavailable(Exception):
    """The queue cannot be used (no Celery installed, a URL that is not Redis's...)."""


def check_url(url: str) -> str:
    if urlsplit(url).scheme not in SCHEMES:
        raise QueueUnavailable(
            f"--broker {url!r}: the queue needs a Redis URL (redis://HOST:PORT/DB): the "
            f"same Redis is the queue and the store of answers")
    return url


def safe_url(url: str) -> str:
    """The URL without its password, to print."""
    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username or ''}:***@{parts.hostname}" + (
            f":{parts.port}" if parts.port else "")
        return parts._replace(netloc=netloc).geturl()
    return url


def _celery():
    try:
        import celery
    except ImportError as error:
        raise QueueUnavailable(
            f"the queue needs Celery with Redis ({error}): pip install 'tcp-grader[queue]'"
        ) from error
    return celery


def make_app(url: str, *, worker: bool = False,
             visibility_timeout: float = DEFAULT_VISIBILITY_TIMEOUT):
    """The Celery application for the queue at ``url``. ``worker``: the settings of a
    consumer (it stores answers however long the broker is away) rather than of the
    coordinator (which must hear at once that the broker is away, to say so)."""
    celery = _celery()
    check_url(url)
    app = celery.Celery("tcp-grader", broker=url, backend=url, set_as_current=False)
    # A sweep for abandoned tasks every tenth of the timeout (at most 10 s): cheap, one
    # sorted-set range; without it a SIGKILLed worker's task waits minutes more.
    sweep = max(1, min(10, int(visibility_timeout // 10)))
    app.conf.update(
        # Tasks cross machines: JSON only, never pickle.
        task_serializer="json", result_serializer="json", accept_content=["json"],
        result_accept_content=["json"],
        task_default_queue=QUEUE,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_deduplicate_successful_tasks=True,
        # One task per free thread: a task waiting in a busy worker's hands would wait
        # for nothing while another worker is idle, and its visibility clock would run.
        worker_prefetch_multiplier=1,
        # The worker stores STARTED itself, after it checked the task was not revoked.
        task_track_started=False,
        broker_transport_options={"visibility_timeout": int(visibility_timeout),
                                  "unacked_restore_interval": sweep,
                                  "unacked_restore_throttle": 1,
                                  # A worker killed in the middle of a sweep holds its
                                  # lock until this expires; no sweep lasts a second.
                                  "unacked_mutex_expire": int(min(60, visibility_timeout))},
        result_expires=RESULT_EXPIRES,
        result_extended=False,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # a worker waits for its broker forever
        worker_cancel_long_running_tasks_on_connection_loss=False,
        redis_socket_connect_timeout=5,
        redis_socket_timeout=30 if worker else 10,
        # A worker keeps trying to store an answer until the broker is back; the
        # coordinator fails at once, to tell the teacher the batch is stalled.
        result_backend_always_retry=worker,
        result_backend_max_retries=float("inf") if worker else 0,
        worker_hijack_root_logger=True,
        worker_redirect_stdouts=False,
    )
    return app


def broker_errors() -> tuple[type[BaseException], ...]:
    """What the client libraries raise when the broker is away."""
    import kombu.exceptions
    import redis.exceptions
    from celery.exceptions import BackendError
    return (OSError, redis.exceptions.RedisError, kombu.exceptions.OperationalError,
            BackendError)
