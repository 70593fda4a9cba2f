"""Template tags for Beils' admin (``{% load beils_admin %}``)."""

from django import template
from django.contrib.admin.templatetags.admin_list import date_hierarchy as django_date_hierarchy
from django.contrib.admin.templatetags.base import InclusionAdminNode

from beils.lib.changelists import date_hierarchy_choices
from beils.lib.money import format_money

register = template.Library()


def date_hierarchy(cl):
    """Django's date drill-down, except that a big list's years and months come from the first
    and last dates instead of a DISTINCT over every row (``date_hierarchy_choices``)."""
    return date_hierarchy_choices(cl) or django_date_hierarchy(cl)


@register.tag(name="date_hierarchy")
def date_hierarchy_tag(parser, token):
    return InclusionAdminNode(
        parser, token, func=date_hierarchy, template_name="date_hierarchy.html", takes_context=False
    )


@register.filter
def money(amount):
    """``{{ sale.total|money }}`` → ``59,90 €``: two decimals and the currency, in the user's
    language (``beils.lib.money.format_money``)."""
    return format_money(amount)
