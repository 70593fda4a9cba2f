"""The crm domain's refusals."""

from django.db import models

from beils.lib.errors import DomainError


class CrmError(DomainError):
    """A refusal of the crm domain, worded for the staff member who caused it."""


class ClientHasHistory(models.ProtectedError, CrmError):
    """Deleting a client with sales, bookings or debts would destroy business history."""
