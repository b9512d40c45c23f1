"""Operations that touch several rows or outside systems; views call these, never the reverse."""

import io
import logging
import uuid
from datetime import UTC, datetime

from django.conf import settings
from django.contrib.auth import authenticate
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Max
from django.utils import timezone
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from app import images
from app.authentication import revoked_cache_key
from app.caching import catalog_changed
from app.models import Category, Product, ProductImage, RevokedAccessToken, User, equal_ignoring_case, unique_slug
from app.utils import ApplicationError, ConflictError, UnprocessableError

logger = logging.getLogger(__name__)


def check_health() -> dict[str, str]:
    """Probe the database and the cache; each is "ok" or "failing", never raising."""
    report = {"database": "ok", "cache": "ok"}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        logger.warning("Health check: database unreachable", exc_info=True)
        report["database"] = "failing"
    try:
        # A round trip: a cache that swallows errors (django-redis IGNORE_EXCEPTIONS) reads None.
        probe = uuid.uuid4().hex
        cache.set("health-probe", probe, timeout=10)
        if cache.get("health-probe") != probe:
            raise ConnectionError("cache did not return the value it was given")
    except Exception:
        logger.warning("Health check: cache unreachable", exc_info=True)
        report["cache"] = "failing"
    return report


# ---------------------------------------------------------------------------
# Accounts and tokens
# ---------------------------------------------------------------------------


def _conflicts(*, email: str | None = None, username: str | None = None, exclude_pk=None) -> dict:
    """Which of `email` / `username` another account already uses (case-insensitively)."""
    others = User.objects.exclude(pk=exclude_pk) if exclude_pk else User.objects.all()
    details = {}
    if email is not None and others.filter(equal_ignoring_case("email", email)).exists():
        details["email"] = ["A user with this email already exists."]
    if username is not None and others.filter(equal_ignoring_case("username", username)).exists():
        details["username"] = ["A user with this username already exists."]
    return details


def _save_unique(user: User, *, conflict_fields: dict) -> None:
    """Save `user`; a duplicate email or username is a 409, also when a concurrent write wins the race."""
    details = _conflicts(**conflict_fields, exclude_pk=user.pk if not user._state.adding else None)
    if details:
        raise ConflictError("Email or username already taken", details=details)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        details = _conflicts(**conflict_fields, exclude_pk=user.pk if not user._state.adding else None)
        raise ConflictError("Email or username already taken", details=details) from None


def token_pair(user: User) -> dict[str, str]:
    """A new refresh token (recorded as outstanding, so it can be blacklisted) and its access token."""
    refresh = RefreshToken.for_user(user)
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def user_register(*, email: str, username: str, password: str, **fields) -> User:
    """Create a customer or seller account. The password is already validated."""
    user = User(email=User.objects.normalize_email(email), username=username, **fields)
    user.set_password(password)
    _save_unique(user, conflict_fields={"email": user.email, "username": username})
    return user


def user_login(*, request, email: str, password: str) -> User:
    """The active user with these credentials; one answer for every kind of failure."""
    user = authenticate(request, email=email, password=password)
    if user is None:
        # Same message for unknown email, wrong password and deactivated account.
        raise AuthenticationFailed("Invalid email or password.")
    return user


def user_update(*, user: User, data: dict, actor: User | None = None) -> User:
    """Apply validated profile or admin changes; a duplicate email or username is a 409.

    An admin cannot lock themself out (deactivate or demote their own account): 422.
    """
    locks_out = data.get("is_active") is False or data.get("role", User.Role.ADMIN) != User.Role.ADMIN
    if actor is not None and actor.pk == user.pk and actor.is_admin and locks_out:
        raise UnprocessableError(
            "Administrators cannot deactivate or demote their own account",
            details={"role": ["Ask another administrator; this keeps at least one admin able to sign in."]},
        )
    if "email" in data:
        data["email"] = User.objects.normalize_email(data["email"])
    for field, value in data.items():
        setattr(user, field, value)
    _save_unique(user, conflict_fields={"email": data.get("email"), "username": data.get("username")})
    if data.get("is_active") is False:
        blacklist_refresh_tokens(user=user)
    return user


def blacklist_refresh_tokens(*, user: User) -> int:
    """End every session of `user`: blacklist all their refresh tokens that are still alive."""
    alive = OutstandingToken.objects.filter(user=user, expires_at__gt=timezone.now()).exclude(
        blacklistedtoken__isnull=False
    )
    tokens = [BlacklistedToken(token=token) for token in alive]
    BlacklistedToken.objects.bulk_create(tokens, ignore_conflicts=True)
    return len(tokens)


def token_refresh(*, raw_refresh: str) -> dict[str, str]:
    """Exchange a refresh token for a new pair; the old one is blacklisted and never works again.

    Race-safe: of several concurrent refreshes with one token, only the one that creates its
    blacklist row wins (a unique row), the others are refused.
    """
    try:
        refresh = RefreshToken(raw_refresh)  # signature, expiry, type and blacklist
    except TokenError as exc:
        raise InvalidToken(str(exc)) from None
    user = User.objects.filter(pk=refresh.get(api_settings.USER_ID_CLAIM), is_active=True).first()
    if user is None:
        raise AuthenticationFailed("No active account found for the given token.", code="no_active_account")
    with transaction.atomic():
        # order_by(): the model's default ordering joins users, which FOR UPDATE refuses.
        outstanding = (
            OutstandingToken.objects.filter(jti=refresh[api_settings.JTI_CLAIM]).order_by().select_for_update().first()
        )
        if outstanding is None:
            raise InvalidToken("Token is not recognised")
        _, created = BlacklistedToken.objects.get_or_create(token=outstanding)
        if not created:
            raise InvalidToken("Token is blacklisted")
        # In the same transaction: if issuing fails, the old token is not burnt either.
        return token_pair(user)


def logout(*, user: User, raw_refresh: str, access_token) -> None:
    """Blacklist the refresh token and revoke the access token used for the call, until it expires."""
    try:
        refresh = RefreshToken(raw_refresh)
    except TokenError as exc:
        raise InvalidToken(str(exc)) from None
    if str(refresh.get(api_settings.USER_ID_CLAIM)) != str(user.pk):
        raise ApplicationError("Invalid refresh token", details={"refresh": ["Token belongs to another user."]})
    refresh.blacklist()
    if access_token is not None:
        revoke_access_token(access_token)


def revoke_access_token(token) -> None:
    jti = token[api_settings.JTI_CLAIM]
    expires_at = datetime.fromtimestamp(token["exp"], tz=UTC)
    RevokedAccessToken.objects.expired().delete()
    RevokedAccessToken.objects.update_or_create(jti=jti, defaults={"expires_at": expires_at})
    leeway = api_settings.LEEWAY
    leeway = leeway.total_seconds() if hasattr(leeway, "total_seconds") else leeway
    remaining = (expires_at - timezone.now()).total_seconds() + leeway
    cache.set(revoked_cache_key(jti), True, timeout=max(int(remaining) + 1, 1))


def password_change(*, user: User, old_password: str, new_password: str) -> dict[str, str]:
    """Check the old password, set the new one, end every other session; return a fresh token pair."""
    if not user.check_password(old_password):
        raise ApplicationError(
            "Invalid input data", details={"old_password": ["Your old password was entered incorrectly."]}
        )
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        blacklist_refresh_tokens(user=user)
    # Access tokens carry a hash of the old password (CHECK_REVOKE_TOKEN), so they die too.
    return token_pair(user)


def user_deactivate(*, actor: User, user: User) -> None:
    """End an account without erasing it: its tokens stop working, its products leave listings."""
    if actor.pk == user.pk:
        raise UnprocessableError(
            "Administrators cannot deactivate their own account",
            details={"id": ["Ask another administrator; this keeps at least one admin able to sign in."]},
        )
    with transaction.atomic():
        user.is_active = False
        user.save(update_fields=["is_active"])
        blacklist_refresh_tokens(user=user)


# ---------------------------------------------------------------------------
# Categories
# ---------------------------------------------------------------------------


def _category_conflict(name: str, exclude_pk=None) -> dict:
    others = Category.objects.exclude(pk=exclude_pk) if exclude_pk else Category.objects.all()
    if others.filter(equal_ignoring_case("name", name)).exists():
        return {"name": ["A category with this name already exists."]}
    return {}


def _check_no_cycle(category: Category, parent: Category | None) -> None:
    """A category may not sit under itself or one of its descendants (read under row locks)."""
    if parent is None or category.pk is None:
        return
    # Lock both rows so two concurrent moves cannot each see no cycle and together make one.
    list(Category.objects.select_for_update().filter(pk__in=[category.pk, parent.pk]).order_by("pk"))
    if parent.pk in Category.objects.tree().subtree(category.pk):
        raise UnprocessableError(
            "A category cannot be moved under itself or its descendants",
            details={"parent": ["This parent would make a cycle."]},
        )


def category_save(*, category: Category, data: dict) -> Category:
    """Create or update a category: 409 for a duplicate name, 422 for a cycle."""
    renamed = "name" in data and data["name"] != category.name
    for field, value in data.items():
        setattr(category, field, value)
    if renamed and (details := _category_conflict(category.name, exclude_pk=category.pk)):
        raise ConflictError("Category name already taken", details=details)
    if renamed and category.pk is not None:
        category.slug = unique_slug(Category, category.name, exclude_pk=category.pk)
    try:
        with transaction.atomic():
            if "parent" in data:
                _check_no_cycle(category, category.parent)
            category.save()
    except IntegrityError:
        details = _category_conflict(category.name, exclude_pk=category.pk)
        raise ConflictError("Category name already taken", details=details) from None
    return category


def category_delete(*, category: Category) -> None:
    """Delete an empty leaf; a category with products or children is kept (409)."""
    details = {}
    if category.products.exists():
        details["products"] = ["The category still has products."]
    if category.children.exists():
        details["children"] = ["The category still has subcategories."]
    if details:
        raise ConflictError("The category is not empty", details=details)
    category.delete()  # PROTECT still guards a concurrent insert: ProtectedError → 409


# ---------------------------------------------------------------------------
# Products
# ---------------------------------------------------------------------------


def _product_conflicts(product: Product) -> dict:
    details = {}
    same_name = Product.objects.filter(equal_ignoring_case("name", product.name), seller_id=product.seller_id)
    if same_name.exclude(pk=product.pk).exists():
        details["name"] = ["You already sell a product with this name."]
    if product.sku and Product.objects.filter(sku=product.sku).exclude(pk=product.pk).exists():
        details["sku"] = ["A product with this SKU already exists."]
    return details


def product_save(*, product: Product, data: dict, actor: User) -> Product:
    """Create or update a product for `actor`. Only admins set `is_featured`; `stock_delta` is atomic."""
    data = dict(data)
    if not actor.is_admin:
        data.pop("is_featured", None)
    stock_delta = data.pop("stock_delta", None)
    for field, value in data.items():
        setattr(product, field, value)
    if details := _product_conflicts(product):
        raise ConflictError("Product already exists", details=details)
    try:
        with transaction.atomic():
            if product._state.adding:
                product.save()
            elif data:
                # Only the fields sent: a full save would write back a stock read before a
                # concurrent stock_delta, and lose it.
                product.save(update_fields=[*data, "updated_at"])
            if stock_delta is not None:
                _apply_stock_delta(product, stock_delta)
    except IntegrityError:
        raise ConflictError("Product already exists", details=_product_conflicts(product)) from None
    return product


def _apply_stock_delta(product: Product, delta: int) -> None:
    """One UPDATE ... SET stock = stock + delta WHERE stock + delta >= 0: concurrent changes never lose one."""
    changed = Product.objects.filter(pk=product.pk, stock__gte=-delta).update(
        stock=F("stock") + delta, updated_at=timezone.now()
    )
    catalog_changed()  # update() sends no signal
    if not changed:
        raise UnprocessableError("Not enough stock", details={"stock_delta": ["The stock would go below zero."]})
    product.refresh_from_db(fields=["stock", "updated_at"])


def product_touch(*, product: Product) -> None:
    """Mark the product changed (its images changed), so its ETag changes too."""
    Product.objects.filter(pk=product.pk).update(updated_at=timezone.now())
    catalog_changed()


def product_images_add(*, product: Product, files: list, alt_text: str = "") -> list[ProductImage]:
    """Validate every file first (type by decoding, size, pixels), then store them all or none.

    Files are re-encoded (metadata such as GPS is dropped) and stored under generated names.
    The product row is locked so concurrent uploads cannot exceed the per-product limit.
    Renditions are queued for the background worker once the upload commits.
    """
    max_bytes = settings.MAX_UPLOAD_MB * 1024 * 1024
    cleaned = [
        images.clean_upload(f, field="images", max_bytes=max_bytes, max_pixels=settings.MAX_IMAGE_PIXELS) for f in files
    ]
    written: list[str] = []
    try:
        with transaction.atomic():
            locked = Product.objects.select_for_update().get(pk=product.pk)
            existing = locked.images.count()
            limit = settings.MAX_IMAGES_PER_PRODUCT
            if existing + len(cleaned) > limit:
                raise UnprocessableError(
                    f"A product may have at most {limit} images",
                    details={"images": [f"This product has {existing}; {limit - existing} more may be added."]},
                )
            position = (locked.images.aggregate(top=Max("position"))["top"] or 0) + (1 if existing else 0)
            created = []
            for offset, clean in enumerate(cleaned):
                image = ProductImage(product=locked, alt_text=alt_text, position=position + offset)
                image.image.save(clean.content.name, clean.content, save=False)
                written.append(image.image.name)
                image.save()
                created.append(image)
            product_touch(product=locked)
            thumbnails_enqueue(image_ids=[image.pk for image in created])
    except BaseException:
        for name in written:  # nothing half-written: no file without its row
            default_storage.delete(name)
        raise
    return created


# ---------------------------------------------------------------------------
# Image renditions (run by the background task in app/tasks.py)
# ---------------------------------------------------------------------------

RENDITIONS = {"thumbnail": 320, "medium": 800}


class ThumbnailSourceError(Exception):
    """The source image is gone or unreadable: retrying cannot help."""


def thumbnails_enqueue(*, image_ids: list) -> None:
    """Queue the renditions once the surrounding transaction commits (nothing for a rolled-back upload)."""
    transaction.on_commit(lambda: _publish_thumbnail_tasks(image_ids))


def _publish_thumbnail_tasks(image_ids: list) -> None:
    from app.tasks import make_thumbnails  # tasks import services

    for image_id in image_ids:
        try:
            make_thumbnails.delay(str(image_id))
        except Exception:
            # Broker down: the upload stands; `regenerate_thumbnails` (also run by beat) catches up.
            logger.warning("Could not queue thumbnails for image %s", image_id, exc_info=True)


def image_renditions_make(*, image_id) -> bool:
    """Make the image's WebP renditions and record them. Idempotent: each rendition has a fixed
    name, replaced when made again. False when the image no longer exists (deleted while queued).
    Raises ThumbnailSourceError for a missing or corrupt source (after marking the image failed),
    and lets database and storage errors through so the task retries them."""
    written: list[str] = []
    try:
        with transaction.atomic():
            # The row lock makes a concurrent delete wait until the renditions are recorded, so the
            # delete's own clean-up (signals.py) removes them: no orphan files either way.
            image = ProductImage.objects.select_for_update().filter(pk=image_id).first()
            if image is None:
                logger.info("Image %s was deleted before its thumbnails were made", image_id)
                return False
            source = _read_source(image)
            for field, long_side in RENDITIONS.items():
                content = _render(image, source, long_side)
                name = f"{image.pk}-{long_side}.webp"
                target = getattr(image, field)
                target.storage.delete(target.field.generate_filename(image, name))
                target.save(name, content, save=False)
                written.append(target.name)
            image.thumbnail_status = ProductImage.ThumbnailStatus.READY
            image.save(update_fields=[*RENDITIONS, "thumbnail_status"])
    except ThumbnailSourceError:
        ProductImage.objects.filter(pk=image_id).update(thumbnail_status=ProductImage.ThumbnailStatus.FAILED)
        raise
    except BaseException:
        for name in written:
            default_storage.delete(name)
        raise
    return True


def _read_source(image: ProductImage) -> bytes:
    """The stored upload's bytes. A missing file is final; other storage errors are retried."""
    try:
        with image.image.open("rb") as source:
            return source.read()
    except FileNotFoundError as exc:
        raise ThumbnailSourceError(f"source file {image.image.name!r} is missing") from exc


def _render(image: ProductImage, source: bytes, long_side: int):
    try:
        return images.make_thumbnail(io.BytesIO(source), long_side=long_side)
    except (OSError, SyntaxError, ValueError, EOFError) as exc:  # what Pillow raises for bad bytes
        raise ThumbnailSourceError(f"source file {image.image.name!r} is unreadable: {exc}") from exc


def images_missing_thumbnails(*, include_failed: bool = False):
    statuses = [ProductImage.ThumbnailStatus.PENDING]
    if include_failed:
        statuses.append(ProductImage.ThumbnailStatus.FAILED)
    return ProductImage.objects.filter(thumbnail_status__in=statuses).order_by("created_at")


def product_image_delete(*, image: ProductImage) -> None:
    """Delete the image row; its files go once the deletion commits (signals.py)."""
    with transaction.atomic():
        image.delete()
        product_touch(product=image.product)
