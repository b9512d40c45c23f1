"""Signal handlers: an image's files leave storage when its row is deleted, however it was deleted
(the API, a product's cascade, Django admin), and only once the deletion has committed."""

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from app.models import ProductImage


@receiver(post_delete, sender=ProductImage)
def delete_image_files(sender, instance, **kwargs):
    files = [f for f in (instance.image, instance.thumbnail, instance.medium) if f]
    storage_names = [(f.storage, f.name) for f in files]

    def delete():
        for storage, name in storage_names:
            storage.delete(name)

    transaction.on_commit(delete)
