"""Errors raised by services; views and the API turn them into messages."""


class ServiceError(Exception):
    """A request that cannot be carried out as asked (e.g. deciding a decided request)."""


class ClusterError(Exception):
    """A Kubernetes API call failed.

    ``retryable`` says whether trying again later can help (cluster down, 5xx,
    429) as opposed to a request the cluster refuses (4xx).
    """

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = True):
        super().__init__(message)
        self.status = status
        self.retryable = retryable


class IdempotencyKeyReused(ServiceError):
    """An ``Idempotency-Key`` names an earlier submit whose body differs from this one's.

    ``field`` is the first body field that differs (``"kind"`` for another
    kind of request); the API answers 422 naming it.
    """

    def __init__(self, message: str, *, field: str):
        super().__init__(message)
        self.field = field
