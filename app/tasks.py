"""Celery tasks: thin wrappers that decide what to retry; the work itself is in services."""

import logging

from celery import shared_task
from django.db import DatabaseError

from app import services

logger = logging.getLogger(__name__)

# Worth another try: the database or the storage had a hiccup.
TRANSIENT = (DatabaseError, OSError)


@shared_task(bind=True, max_retries=5, acks_late=True)
def make_thumbnails(self, image_id: str) -> None:
    """Make an image's WebP renditions; retried with exponential backoff on transient errors."""
    try:
        services.image_renditions_make(image_id=image_id)
    except services.ThumbnailSourceError:
        logger.error("Thumbnails for image %s cannot be made", image_id, exc_info=True)
    except TRANSIENT as exc:
        countdown = min(2**self.request.retries, 300)
        logger.warning("Thumbnails for image %s failed, retry in %ss: %s", image_id, countdown, exc)
        raise self.retry(exc=exc, countdown=countdown) from exc


@shared_task
def regenerate_missing_thumbnails() -> int:
    """Periodic (beat): make the renditions of every image still waiting for them."""
    done = 0
    for image_id in services.images_missing_thumbnails().values_list("pk", flat=True).iterator():
        try:
            done += services.image_renditions_make(image_id=image_id)
        except services.ThumbnailSourceError:
            logger.error("Thumbnails for image %s cannot be made", image_id, exc_info=True)
    return done
