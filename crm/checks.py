"""System checks of the crm app."""

from django.core.checks import Error, Tags, register


@register(Tags.models)
def check_personal_data_registry(app_configs, **kwargs):
    """Every field that looks personal, and every link to a client's records, is classified in
    crm/personal_data.py, so GDPR export and erasure cannot silently miss a new one."""
    from crm.personal_data import unregistered

    ids = {"looks personal": "beils.E003", "no such model": "beils.E005", "no such field": "beils.E005"}
    return [
        Error(
            f"{label}.{name}: {why}, and crm/personal_data.py does not classify it." if name else f"{label}: {why}.",
            hint="Add the field to its model's Holder in crm.personal_data.REGISTRY (with its level), or to "
            "NOT_PERSONAL with why; register a new model that links to a client's records as a Holder.",
            obj=label,
            id=ids.get(why, "beils.E004"),
        )
        for label, name, why in unregistered()
    ]
