"""The thumbnails task (run eagerly here; tests against a real worker are in worker_tests/)."""

import io
import logging
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import OperationalError
from django.urls import reverse
from PIL import Image

from app import services, tasks
from app.models import ProductImage
from app.tests.factories import make_product
from ecommerce_backend.celery import app as celery_app

pytestmark = pytest.mark.django_db


def png(size=(1200, 600)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def image():
    image = ProductImage(product=make_product(), alt_text="front")
    image.image.save("upload.png", ContentFile(png()), save=True)
    return image


def thumbs(image) -> list[str]:
    folder = Path(image.image.path).parent / "thumbs"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_task_makes_both_renditions(image):
    tasks.make_thumbnails.apply(args=[str(image.pk)])

    image.refresh_from_db()
    assert image.thumbnail_status == "ready"
    assert thumbs(image) == [f"{image.pk}-320.webp", f"{image.pk}-800.webp"]
    with Image.open(image.medium.path) as medium:
        assert medium.size == (800, 400)


def test_task_is_idempotent(image):
    tasks.make_thumbnails.apply(args=[str(image.pk)])
    image.refresh_from_db()
    first = (image.thumbnail.name, image.medium.name)

    tasks.make_thumbnails.apply(args=[str(image.pk)])

    image.refresh_from_db()
    assert (image.thumbnail.name, image.medium.name) == first
    assert thumbs(image) == [f"{image.pk}-320.webp", f"{image.pk}-800.webp"]


@pytest.mark.parametrize("damage", ["corrupt", "vanished"])
def test_unusable_source_fails_once_with_a_logged_error(image, caplog, monkeypatch, damage):
    calls = []
    real = services.image_renditions_make
    monkeypatch.setattr(services, "image_renditions_make", lambda **kw: calls.append(kw) or real(**kw))
    path = Path(image.image.path)
    if damage == "corrupt":
        path.write_bytes(b"\x89PNG\r\n\x1a\n this is not really a png")
    else:
        path.unlink()

    with caplog.at_level(logging.ERROR, logger="app.tasks"):
        result = tasks.make_thumbnails.apply(args=[str(image.pk)])

    assert result.successful()  # ended, not retried
    assert len(calls) == 1
    image.refresh_from_db()
    assert image.thumbnail_status == "failed"
    assert not image.thumbnail
    assert thumbs(image) == []
    assert any("cannot be made" in r.getMessage() for r in caplog.records)


def test_image_deleted_while_queued_is_skipped_without_files(image, django_capture_on_commit_callbacks):
    image_id, folder = str(image.pk), Path(image.image.path).parent
    with django_capture_on_commit_callbacks(execute=True):
        image.delete()

    result = tasks.make_thumbnails.apply(args=[image_id])

    assert result.successful()
    assert not ProductImage.objects.filter(pk=image_id).exists()
    assert not any(folder.rglob("*.webp"))


def test_transient_errors_are_retried_with_backoff(image, monkeypatch, caplog):
    real, calls = services.image_renditions_make, []

    def flaky(**kwargs):
        calls.append(kwargs)
        if len(calls) <= 2:
            raise OperationalError("server closed the connection unexpectedly")
        return real(**kwargs)

    monkeypatch.setattr(services, "image_renditions_make", flaky)

    with caplog.at_level(logging.WARNING, logger="app.tasks"):
        tasks.make_thumbnails.apply(args=[str(image.pk)])

    assert len(calls) == 3
    image.refresh_from_db()
    assert image.thumbnail_status == "ready"
    retries = [r.getMessage() for r in caplog.records if "retry in" in r.getMessage()]
    assert [m.split("retry in ")[1].split("s:")[0] for m in retries] == ["1", "2"]


def test_retries_stop_at_the_limit(image, monkeypatch):
    calls = []

    def always_down(**kwargs):
        calls.append(kwargs)
        raise OperationalError("database is down")

    monkeypatch.setattr(services, "image_renditions_make", always_down)

    result = tasks.make_thumbnails.apply(args=[str(image.pk)])

    assert result.failed()
    assert len(calls) == tasks.make_thumbnails.max_retries + 1
    image.refresh_from_db()
    assert image.thumbnail_status == "pending"  # left for regenerate_thumbnails


def test_upload_succeeds_when_the_broker_is_down(
    seller_client, seller, caplog, monkeypatch, django_capture_on_commit_callbacks
):
    product = make_product(seller=seller)
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
    monkeypatch.setitem(celery_app.conf, "broker_url", "redis://127.0.0.1:1/0")  # nothing listens there
    celery_app.pool.force_close_all()

    with caplog.at_level(logging.WARNING, logger="app.services"), django_capture_on_commit_callbacks(execute=True):
        file = SimpleUploadedFile("photo.png", png(), content_type="image/png")
        url = reverse("api:product-images", args=[product.pk])
        response = seller_client.post(url, {"image": file}, format="multipart")

    celery_app.pool.force_close_all()
    assert response.status_code == 201
    image = ProductImage.objects.get(product=product)
    assert image.thumbnail_status == "pending"
    assert not image.thumbnail
    assert Path(image.image.path).exists()
    assert any("Could not queue thumbnails" in r.getMessage() for r in caplog.records)


def test_regenerate_thumbnails_catches_up(image, capsys):
    ready = ProductImage(product=image.product)
    ready.image.save("upload.png", ContentFile(png()), save=True)
    tasks.make_thumbnails.apply(args=[str(ready.pk)])

    call_command("regenerate_thumbnails")

    image.refresh_from_db()
    assert image.thumbnail_status == "ready"
    assert thumbs(image) == sorted(
        [f"{image.pk}-320.webp", f"{image.pk}-800.webp", f"{ready.pk}-320.webp", f"{ready.pk}-800.webp"]
    )
    assert "Thumbnails made for 1 image(s)" in capsys.readouterr().out


def test_beat_task_catches_up_too(image):
    assert tasks.regenerate_missing_thumbnails.apply().get() == 1

    image.refresh_from_db()
    assert image.thumbnail_status == "ready"
