"""The admin home's event table: {% admin_home_events as rows %} in templates/admin/index.html
(the stock AdminSite.index has no hook for extra context, and the site stays Django's own)."""

from django import template

from pages.admin_dashboard import home_events

register = template.Library()


@register.simple_tag(takes_context=True)
def admin_home_events(context) -> list[dict]:
    return home_events(context["request"].user)
