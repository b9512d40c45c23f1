"""`products/{id}/images/`: uploads checked by decoding, stored under generated names, served inert."""

import io
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from app.models import ProductImage
from app.tests.factories import make_product, make_user
from app.tests.helpers import assert_error, client_for

pytestmark = pytest.mark.django_db

IMAGE_FIELDS = {"id", "url", "thumbnail_url", "medium_url", "alt_text", "position"}


def image_bytes(fmt="JPEG", size=(640, 480), color=(200, 30, 30), exif=None) -> bytes:
    buffer = io.BytesIO()
    options = {"exif": exif} if exif is not None else {}
    Image.new("RGB", size, color).save(buffer, fmt, **options)
    return buffer.getvalue()


def upload(name="photo.jpg", content=None, content_type="image/jpeg"):
    return SimpleUploadedFile(name, image_bytes() if content is None else content, content_type=content_type)


def images_url(product):
    return reverse("api:product-images", args=[product.pk])


def stored_files(product) -> list[Path]:
    folder = Path(settings.MEDIA_ROOT) / "products" / str(product.pk)
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.fixture
def product(seller):
    return make_product(seller=seller)


def test_upload_one_image_under_image(seller_client, product):
    response = seller_client.post(images_url(product), {"image": upload(), "alt_text": "Front"}, format="multipart")

    assert response.status_code == 201
    body = response.json()
    assert body["message"] == "Images uploaded"
    [data] = body["data"]
    assert set(data) == IMAGE_FIELDS
    assert data["alt_text"] == "Front"
    assert data["url"].startswith(f"http://testserver/media/products/{product.pk}/")
    assert data["url"].endswith(".jpg")
    assert "photo" not in data["url"]
    assert data["thumbnail_url"] is None  # made by the worker once the upload has committed
    assert data["medium_url"] is None
    assert ProductImage.objects.filter(product=product).count() == 1
    assert len(stored_files(product)) == 1


def test_upload_several_images_under_images_in_order(seller_client, product):
    files = [upload("a.png", image_bytes("PNG"), "image/png"), upload("b.webp", image_bytes("WEBP"), "image/webp")]

    response = seller_client.post(images_url(product), {"images": files}, format="multipart")

    assert response.status_code == 201
    data = response.json()["data"]
    assert [d["position"] for d in data] == [0, 1]
    assert [d["url"].rsplit(".", 1)[1] for d in data] == ["png", "webp"]
    detail = seller_client.get(reverse("api:product-detail", args=[product.pk])).json()["data"]
    assert [i["id"] for i in detail["images"]] == [d["id"] for d in data]


def test_uploaded_image_is_served_inert(seller_client, anon_client, product):
    url = seller_client.post(images_url(product), {"image": upload()}, format="multipart").json()["data"][0]["url"]

    response = anon_client.get(url.replace("http://testserver", ""))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_renditions_are_made_after_the_upload_commits(seller_client, product, django_capture_on_commit_callbacks):
    big = upload(content=image_bytes(size=(1600, 800)))
    with django_capture_on_commit_callbacks(execute=True):  # no broker in tests: the task runs inline
        seller_client.post(images_url(product), {"image": big}, format="multipart")

    image = ProductImage.objects.get(product=product)
    assert image.thumbnail_status == "ready"
    for field, size in (("thumbnail", (320, 160)), ("medium", (800, 400))):
        with Image.open(getattr(image, field).path) as rendition:
            assert rendition.format == "WEBP"
            assert rendition.size == size
    data = seller_client.get(reverse("api:product-detail", args=[product.pk])).json()["data"]["images"][0]
    assert data["thumbnail_url"].endswith(f"/thumbs/{image.pk}-320.webp")
    assert data["medium_url"].endswith(f"/thumbs/{image.pk}-800.webp")


def test_gps_metadata_is_stripped(seller_client, product):
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0)}

    seller_client.post(images_url(product), {"image": upload(content=image_bytes(exif=exif))}, format="multipart")

    stored = ProductImage.objects.get(product=product).image
    with Image.open(stored.path) as image:
        assert dict(image.getexif()) == {}
    assert b"SpyCam" not in Path(stored.path).read_bytes()


@pytest.mark.parametrize(
    "name", ["../../app/settings.py.jpg", "a.jpg%00.php", "é" * 300 + ".jpg", "CON.jpg", "/etc/passwd"]
)
def test_client_file_names_never_reach_the_disk(seller_client, product, name):
    response = seller_client.post(images_url(product), {"image": upload(name=name)}, format="multipart")

    assert response.status_code == 201
    [path] = stored_files(product)
    assert path.parent == Path(settings.MEDIA_ROOT) / "products" / str(product.pk)
    assert len(path.stem) == 32
    assert path.suffix == ".jpg"


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [
        ("shell.jpg", b"<?php system($_GET['c']); ?>", "image/jpeg"),
        ("page.jpg", b"<html><script>alert(1)</script></html>", "image/jpeg"),
        ("x.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "image/svg+xml"),
        ("x.bmp", None, "image/bmp"),
        ("half.jpg", image_bytes()[:500], "image/jpeg"),
    ],
)
def test_non_images_and_other_formats_are_400_and_nothing_is_stored(
    seller_client, product, name, content, content_type
):
    if content is None:
        content = image_bytes("BMP")

    response = seller_client.post(
        images_url(product), {"image": upload(name, content, content_type)}, format="multipart"
    )

    assert "images" in assert_error(response, 400, "VALIDATION_ERROR")["error"]["details"]
    assert not ProductImage.objects.exists()
    assert stored_files(product) == []


def test_one_bad_file_refuses_the_whole_request(seller_client, product):
    files = [upload(), upload("bad.jpg", b"not an image")]

    response = seller_client.post(images_url(product), {"images": files}, format="multipart")

    assert_error(response, 400, "VALIDATION_ERROR")
    assert not ProductImage.objects.exists()
    assert stored_files(product) == []


def test_over_the_size_limit_is_413(seller_client, product, settings):
    settings.MAX_UPLOAD_MB = 1
    noisy = Image.effect_noise((1200, 1200), 100).convert("RGB")
    buffer = io.BytesIO()
    noisy.save(buffer, "PNG")
    assert len(buffer.getvalue()) > 1024 * 1024

    response = seller_client.post(
        images_url(product), {"image": upload("big.png", buffer.getvalue())}, format="multipart"
    )

    assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert not ProductImage.objects.exists()


def test_over_the_pixel_limit_is_400(seller_client, product, settings):
    settings.MAX_IMAGE_PIXELS = 1_000_000

    response = seller_client.post(
        images_url(product), {"image": upload("huge.png", image_bytes("PNG", size=(2000, 2000)))}, format="multipart"
    )

    assert "images" in assert_error(response, 400, "VALIDATION_ERROR")["error"]["details"]
    assert not ProductImage.objects.exists()


def test_more_images_than_a_product_may_hold_is_422(seller_client, product, settings):
    settings.MAX_IMAGES_PER_PRODUCT = 3
    assert (
        seller_client.post(images_url(product), {"images": [upload(), upload()]}, format="multipart").status_code == 201
    )

    response = seller_client.post(images_url(product), {"images": [upload(), upload()]}, format="multipart")

    assert "images" in assert_error(response, 422, "UNPROCESSABLE_ENTITY")["error"]["details"]
    assert ProductImage.objects.filter(product=product).count() == 2
    assert len(stored_files(product)) == 2


def test_too_many_files_in_one_request_is_400_in_the_envelope(seller_client, product):
    files = [upload(f"{i}.jpg") for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FILES + 1)]

    response = seller_client.post(images_url(product), {"images": files}, format="multipart")

    assert_error(response, 400, "VALIDATION_ERROR")
    assert not ProductImage.objects.exists()


def test_no_file_is_400(seller_client, product):
    response = seller_client.post(images_url(product), {"alt_text": "nothing"}, format="multipart")

    assert "images" in assert_error(response, 400, "VALIDATION_ERROR")["error"]["details"]


def test_json_body_is_415(seller_client, product):
    response = seller_client.post(
        images_url(product), {"image_url": "http://169.254.169.254/latest/meta-data/"}, format="json"
    )

    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert not ProductImage.objects.exists()


def test_upload_changes_the_product_etag(seller_client, product):
    detail_url = reverse("api:product-detail", args=[product.pk])
    etag = seller_client.get(detail_url)["ETag"]

    seller_client.post(images_url(product), {"image": upload()}, format="multipart")

    assert seller_client.get(detail_url, HTTP_IF_NONE_MATCH=etag).status_code == 200


# --- who may upload ------------------------------------------------------------------------


def test_other_seller_and_customer_get_403(customer_client, product):
    other = client_for(make_user(role="seller"))

    assert_error(other.post(images_url(product), {"image": upload()}, format="multipart"), 403, "PERMISSION_DENIED")
    assert_error(
        customer_client.post(images_url(product), {"image": upload()}, format="multipart"), 403, "PERMISSION_DENIED"
    )
    assert not ProductImage.objects.exists()


def test_anonymous_gets_401(anon_client, product):
    response = anon_client.post(images_url(product), {"image": upload()}, format="multipart")

    assert_error(response, 401, "NOT_AUTHENTICATED")


def test_admin_may_upload(admin_client_api, product):
    assert admin_client_api.post(images_url(product), {"image": upload()}, format="multipart").status_code == 201


def test_unknown_product_is_404(seller_client):
    url = "/api/v1/products/5b1c2d3e-0000-4000-8000-000000000000/images/"

    assert_error(seller_client.post(url, {"image": upload()}, format="multipart"), 404, "NOT_FOUND")


# --- deleting --------------------------------------------------------------------------------


def test_delete_image_removes_row_and_files(seller_client, product, django_capture_on_commit_callbacks):
    image_id = seller_client.post(images_url(product), {"image": upload()}, format="multipart").json()["data"][0]["id"]

    with django_capture_on_commit_callbacks(execute=True):
        response = seller_client.delete(reverse("api:product-delete-image", args=[product.pk, image_id]))

    assert response.status_code == 204
    assert not ProductImage.objects.filter(pk=image_id).exists()
    assert stored_files(product) == []


def test_image_of_another_product_is_404_through_this_product(seller_client, seller, product):
    other_product = make_product(seller=seller)
    image_id = seller_client.post(images_url(other_product), {"image": upload()}, format="multipart").json()["data"][0][
        "id"
    ]

    response = seller_client.delete(reverse("api:product-delete-image", args=[product.pk, image_id]))

    assert_error(response, 404, "NOT_FOUND")
    assert ProductImage.objects.filter(pk=image_id).exists()


@pytest.mark.parametrize("image_id", ["not-a-uuid", "5b1c2d3e-0000-4000-8000-000000000000"])
def test_unknown_image_is_404(seller_client, product, image_id):
    response = seller_client.delete(reverse("api:product-delete-image", args=[product.pk, image_id]))

    assert_error(response, 404, "NOT_FOUND")


def test_other_seller_cannot_delete_an_image(seller_client, product):
    image_id = seller_client.post(images_url(product), {"image": upload()}, format="multipart").json()["data"][0]["id"]
    other = client_for(make_user(role="seller"))

    response = other.delete(reverse("api:product-delete-image", args=[product.pk, image_id]))

    assert_error(response, 403, "PERMISSION_DENIED")
    assert ProductImage.objects.filter(pk=image_id).exists()


def test_deleting_a_product_removes_its_image_files(seller_client, product, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        seller_client.post(images_url(product), {"images": [upload(), upload()]}, format="multipart")
    assert len(stored_files(product)) == 6  # two uploads, each with two renditions

    with django_capture_on_commit_callbacks(execute=True):
        response = seller_client.delete(reverse("api:product-detail", args=[product.pk]))

    assert response.status_code == 204
    assert stored_files(product) == []
    assert not ProductImage.objects.exists()
