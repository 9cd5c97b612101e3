"""The API toolkit every app's ``api`` package uses, so every endpoint speaks the same JSON.

``serializers``  strict input: unknown fields and wrong JSON types are 400s
``errors``       the exception handler (service errors → JSON) and the error shapes for the schema
``idempotency``  the ``Idempotency-Key`` header: reading it, documenting it
``pagination``   strict ``?limit=&offset=``
``schema``       OpenAPI post-processing: the answers every operation can give
"""
