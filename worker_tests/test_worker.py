"""A real Celery worker on a real Redis broker makes the thumbnails of an upload made through the API.

Run by `make worker-test` (scripts/live_server.py --worker redis://...), which provides API_URL,
SELLER_TOKEN and PRODUCT_ID.
"""

import io
import json
import os
import time
import urllib.request
import uuid

from PIL import Image

API = os.environ["API_URL"] + "/api/v1"
TOKEN = os.environ["SELLER_TOKEN"]
PRODUCT = os.environ["PRODUCT_ID"]


def _request(method, path, body=None, content_type=None):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    if content_type:
        headers["Content-Type"] = content_type
    request = urllib.request.Request(API + path, data=body, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read() or b"null")


def _multipart_png(size=(1600, 900)) -> tuple[bytes, str]:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 80, 20)).save(buffer, "PNG")
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + buffer.getvalue()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def _wait_for(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.25)
    raise AssertionError(f"not true within {timeout}s")


def test_worker_makes_thumbnails_for_an_upload():
    status, body = _request("POST", f"/products/{PRODUCT}/images/", *_multipart_png())
    assert status == 201
    [uploaded] = body["data"]
    assert uploaded["thumbnail_url"] is None

    def rendered():
        _, detail = _request("GET", f"/products/{PRODUCT}/")
        image = next(i for i in detail["data"]["images"] if i["id"] == uploaded["id"])
        return image if image["thumbnail_url"] else None

    image = _wait_for(rendered)
    for url, long_side in ((image["thumbnail_url"], 320), (image["medium_url"], 800)):
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.headers["Content-Type"] == "image/webp"
            with Image.open(io.BytesIO(response.read())) as rendition:
                assert max(rendition.size) == long_side


def test_image_deleted_right_after_upload_leaves_the_worker_alive():
    _, body = _request("POST", f"/products/{PRODUCT}/images/", *_multipart_png())
    doomed = body["data"][0]["id"]
    status, _ = _request("DELETE", f"/products/{PRODUCT}/images/{doomed}/")
    assert status == 204

    # The worker went on: a later upload still gets its thumbnails.
    test_worker_makes_thumbnails_for_an_upload()
