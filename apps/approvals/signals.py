"""What the request workflow tells listeners (notifications), sent inside the change's transaction.

Receivers that do work outside the database must defer it with
``transaction.on_commit`` (a rolled-back decision then tells nobody).
Every signal carries ``request`` (the Request).
"""

from django.dispatch import Signal

# A request was recorded (before any auto-approval rule looked at it).
request_submitted = Signal()
# A person or an auto-approval rule approved or rejected it.
request_decided = Signal()
