"""`python manage.py regenerate_thumbnails`: make the renditions every image is still waiting for.

Catches up after the broker was down at upload time. Runs the work in this process (no broker
needed); `--queue` sends it to the workers instead. `--include-failed` retries images whose
source was missing or unreadable.
"""

from django.core.management.base import BaseCommand

from app import services
from app.tasks import make_thumbnails


class Command(BaseCommand):
    help = "Make the thumbnails of every image that has none yet."

    def add_arguments(self, parser):
        parser.add_argument("--queue", action="store_true", help="Queue tasks for the workers instead.")
        parser.add_argument("--include-failed", action="store_true", help="Also retry images that failed.")

    def handle(self, *args, queue=False, include_failed=False, **options):
        pending = services.images_missing_thumbnails(include_failed=include_failed).values_list("pk", flat=True)
        made = failed = 0
        for image_id in pending.iterator():
            if queue:
                make_thumbnails.delay(str(image_id))
                made += 1
                continue
            try:
                made += services.image_renditions_make(image_id=image_id)
            except services.ThumbnailSourceError as exc:
                failed += 1
                self.stderr.write(f"image {image_id}: {exc}")
        verb = "queued" if queue else "made"
        self.stdout.write(f"Thumbnails {verb} for {made} image(s); {failed} could not be made.")
