"""Every resource of Beils, one module per app, and ``RESOURCES``: which resource imports and
exports each model (the admin's buttons, background jobs and the API's exports use it)."""

from transfer.resources import bookings, catalog, crm, marketing, sales

_MODULES = (crm, catalog, marketing, sales, bookings)

#: {model class: its resource class}, in the order the apps depend on each other.
RESOURCES = {
    resource._meta.model: resource
    for module in _MODULES
    for name, resource in vars(module).items()
    if name.endswith("Resource") and getattr(resource, "__module__", None) == module.__name__
}
