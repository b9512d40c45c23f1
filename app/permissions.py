"""
One permission class per rule of the contract, composed in views with `&` and `|`.

Roles come from `User.role`; a deactivated user is never an admin or a seller here.
"""

from rest_framework.permissions import SAFE_METHODS, BasePermission


class ReadOnly(BasePermission):
    """GET, HEAD and OPTIONS, for anyone."""

    def has_permission(self, request, view):
        return request.method in SAFE_METHODS


class IsAdmin(BasePermission):
    """Users with the admin role."""

    message = "Only administrators may do this."
    code = "PERMISSION_DENIED"

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and request.user.is_admin)


class IsSellerOrAdmin(BasePermission):
    """Users who sell (role seller) or administer (role admin)."""

    message = "Only sellers and administrators may do this."
    code = "PERMISSION_DENIED"

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and (user.is_seller or user.is_admin))


class IsSelfOrAdmin(BasePermission):
    """The user object is the caller themself, or the caller is an admin."""

    message = "You may only see or change your own account."
    code = "PERMISSION_DENIED"

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated)

    def has_object_permission(self, request, view, obj):
        return obj.pk == request.user.pk or request.user.is_admin


class IsOwnerOrAdmin(BasePermission):
    """The object's `seller` is the caller, or the caller is an admin."""

    message = "You may only change your own products."
    code = "PERMISSION_DENIED"

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated)

    def has_object_permission(self, request, view, obj):
        return obj.seller_id == request.user.pk or request.user.is_admin
