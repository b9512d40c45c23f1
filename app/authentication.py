"""JWT authentication with revocation: a logged-out access token stops working at once."""

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db.models import Exists
from rest_framework_simplejwt.authentication import JWTAuthentication as SimpleJWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.utils import get_md5_hash_password

from app.caching import cache_is_separate_store
from app.models import RevokedAccessToken


def revoked_cache_key(jti: str) -> str:
    return f"jwt:revoked:{jti}"


class JWTAuthentication(SimpleJWTAuthentication):
    """simplejwt's Bearer authentication, also refusing access tokens revoked at logout.

    A revoked jti is looked up in the shared Redis cache first (a replayed token costs no
    database work), then in the database within the same query that loads the user: no extra
    query, and the check still holds when the cache is down or was flushed (it fails closed).
    simplejwt has already checked the signature, expiry and token type; `get_user` keeps its
    checks of an active user and of a password unchanged since the token was issued.
    """

    www_authenticate_realm = "api"

    def get_validated_token(self, raw_token):
        token = super().get_validated_token(raw_token)
        # With the database cache, asking it would only ask the database a second time.
        if cache_is_separate_store() and cache.get(revoked_cache_key(token[api_settings.JTI_CLAIM])):
            raise AuthenticationFailed("Token has been revoked", code="token_revoked")
        return token

    def get_user(self, validated_token):
        try:
            user_id = validated_token[api_settings.USER_ID_CLAIM]
        except KeyError:
            raise InvalidToken("Token contained no recognizable user identification") from None

        revoked = RevokedAccessToken.objects.filter(jti=validated_token[api_settings.JTI_CLAIM])
        try:
            user = (
                self.user_model._default_manager.annotate(token_revoked=Exists(revoked))
                .filter(**{api_settings.USER_ID_FIELD: user_id})
                .first()
            )
        except (ValueError, ValidationError):
            user = None
        if user is None:
            raise AuthenticationFailed("User not found", code="user_not_found")
        if user.token_revoked:
            raise AuthenticationFailed("Token has been revoked", code="token_revoked")
        if not user.is_active:
            raise AuthenticationFailed("User is inactive", code="user_inactive")
        if validated_token.get(api_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(user.password):
            raise AuthenticationFailed("The user's password has been changed", code="password_changed")
        return user
