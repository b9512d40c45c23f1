"""Signal handlers, so every write path (API, admin, shell) keeps two promises:

- an image's files leave storage when its row is deleted, once the deletion has committed;
- the catalog version is bumped after any write a catalog read can show (caching.py).
"""

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from app.caching import catalog_changed
from app.models import Category, Product, ProductImage, User

# Saves of these fields only never change what the catalog shows.
PRIVATE_USER_FIELDS = {"password", "last_login"}


@receiver([post_save, post_delete], sender=Product)
@receiver([post_save, post_delete], sender=Category)
@receiver([post_save, post_delete], sender=ProductImage)
@receiver(post_delete, sender=User)  # a `?seller=` naming them no longer resolves
def catalog_row_changed(sender, **kwargs):
    catalog_changed()


@receiver(post_save, sender=User)
def seller_changed(sender, instance, created, update_fields=None, **kwargs):
    # A new user sells nothing yet; a deactivated seller's products leave the listings.
    if not created and not (update_fields and set(update_fields) <= PRIVATE_USER_FIELDS):
        catalog_changed()


@receiver(post_delete, sender=ProductImage)
def delete_image_files(sender, instance, **kwargs):
    files = [f for f in (instance.image, instance.thumbnail, instance.medium) if f]
    storage_names = [(f.storage, f.name) for f in files]

    def delete():
        for storage, name in storage_names:
            storage.delete(name)

    transaction.on_commit(delete)
