"""Reads for organizations, events and gates. Every user-facing read goes through a scope."""

from django.db.models import QuerySet

from events.models import Event, Gate, Membership, Organization

ADMIN_ROLES = (Membership.Role.OWNER, Membership.Role.ORGANIZER)


def organization_ids_for_user(user, roles=ADMIN_ROLES) -> list[int]:
    if not user.is_authenticated:
        return []
    return list(
        Membership.objects.filter(user=user, role__in=roles).values_list(
            "organization_id", flat=True
        )
    )


def organizations_for_user(user) -> QuerySet[Organization]:
    if user.is_superuser:
        return Organization.objects.all()
    return Organization.objects.filter(id__in=organization_ids_for_user(user))


def events_for_user(user) -> QuerySet[Event]:
    qs = Event.objects.select_related("organization")
    if user.is_superuser:
        return qs
    return qs.filter(organization_id__in=organization_ids_for_user(user))


def user_is_organizer(user) -> bool:
    return user.is_active and (user.is_superuser or bool(organization_ids_for_user(user)))


def gates_for_staff(user, active_only: bool = True) -> QuerySet[Gate]:
    """Gates a user may operate: any role in the gate's organization."""
    qs = Gate.objects.select_related("event", "event__organization")
    if active_only:
        qs = qs.filter(is_active=True)
    if user.is_superuser:
        return qs
    org_ids = organization_ids_for_user(user, roles=tuple(Membership.Role))
    return qs.filter(event__organization_id__in=org_ids)
