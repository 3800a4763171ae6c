"""Who may do what. A user's role lives on their Profile; Django staff are operators."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission

OPERATOR = "operator"


def role_of(user) -> str | None:
    if user is None or isinstance(user, AnonymousUser) or not user.is_authenticated:
        return None
    if user.is_staff:
        return OPERATOR
    profile = getattr(user, "profile", None)
    return profile.role if profile else None


def is_reviewer(user) -> bool:
    return role_of(user) in ("reviewer", OPERATOR)


def is_customer(user) -> bool:
    return role_of(user) == "customer"


def is_ingest(user) -> bool:
    return role_of(user) in ("ingest", OPERATOR)


def customer_of(user):
    return user.profile.customer if is_customer(user) else None


class _RolePermission(BasePermission):
    check = staticmethod(lambda user: False)

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and self.check(request.user))


class IsReviewer(_RolePermission):
    check = staticmethod(is_reviewer)


class IsCustomer(_RolePermission):
    check = staticmethod(is_customer)


class IsIngest(_RolePermission):
    check = staticmethod(is_ingest)


def role_required(check):
    """A page decorator: logged in (else the login page), and `check(user)` true (else 403)."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapper(request, *args, **kwargs):
            if not check(request.user):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
