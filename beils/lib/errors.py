"""The one base of every app's domain error."""


class DomainError(Exception):
    """A refusal worded for the person who caused it (an overlapping booking, an exhausted bono,
    a file that cannot be imported). Each app has its own subclass; the admin shows the message
    with ``message_user`` and the API answers it as a 400 (``beils.lib.api``)."""
