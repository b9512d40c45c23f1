"""app.images: uploads are typed by decoding, bounded in bytes and pixels, re-encoded without metadata; thumbnails."""

import struct
import warnings
import zlib
from io import BytesIO

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageCms, PngImagePlugin

from app.images import ALLOWED_FORMATS, CleanImage, PayloadTooLarge, clean_upload, make_thumbnail
from app.utils import ApplicationError

MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 25_000_000
INVALID = ["Upload a valid JPEG, PNG, WebP or GIF image."]
SECRET = "SECRET-MARKER"
RED, BLUE = (255, 0, 0), (0, 0, 255)


def encode(img: Image.Image, fmt: str, **options) -> bytes:
    buffer = BytesIO()
    img.save(buffer, fmt, **options)
    return buffer.getvalue()


def upload(data: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type)


def clean(data: bytes, **overrides) -> CleanImage:
    limits = {"max_bytes": MAX_BYTES, "max_pixels": MAX_PIXELS, **overrides}
    return clean_upload(upload(data), **limits)


def rejected(data: bytes, **overrides) -> ApplicationError:
    with pytest.raises(ApplicationError) as caught:
        clean(data, **overrides)
    return caught.value


def reopen(content: ContentFile) -> Image.Image:
    content.seek(0)
    return Image.open(BytesIO(content.read()))


def two_colour(size=(40, 20)) -> Image.Image:
    """Left half red, right half blue: shows which way a rotation went."""
    img = Image.new("RGB", size, RED)
    img.paste(BLUE, (size[0] // 2, 0, size[0], size[1]))
    return img


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height but whose pixel data is one pixel's worth."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def exif_with_gps(orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = SECRET  # Make
    if orientation is not None:
        exif[0x0112] = orientation
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"  # GPSLatitudeRef
    gps[2] = (1.0, 2.0, 3.0)  # GPSLatitude
    return exif


def assert_error(error: ApplicationError, status: int, code: str, details: dict) -> None:
    assert error.status_code == status
    assert error.error_code == code
    assert error.details == details


# ---------------------------------------------------------------------------
# clean_upload: accepted formats
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "extension"), list(ALLOWED_FORMATS.items()))
def test_each_allowed_format_round_trips(fmt, extension):
    result = clean(encode(two_colour(), fmt))

    assert result.extension == extension
    assert (result.width, result.height) == (40, 20)
    assert result.content.name == f"upload.{extension}"
    with reopen(result.content) as out:
        assert out.format == fmt
        assert out.size == (40, 20)


def test_type_comes_from_the_bytes_not_the_name_or_content_type():
    result = clean_upload(
        upload(encode(two_colour(), "PNG"), name="photo.jpg", content_type="image/jpeg"),
        max_bytes=MAX_BYTES,
        max_pixels=MAX_PIXELS,
    )

    assert result.extension == "png"
    assert result.content.name == "upload.png"


def test_any_file_like_with_size_read_and_seek_is_accepted():
    source = ContentFile(encode(two_colour(), "WEBP"))
    source.read()  # left at the end: clean_upload rewinds

    result = clean_upload(source, max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS)

    assert (result.extension, result.width, result.height) == ("webp", 40, 20)


def test_mpo_from_a_phone_camera_is_stored_as_a_plain_jpeg():
    data = encode(two_colour(), "MPO", save_all=True, append_images=[Image.new("RGB", (40, 20), BLUE)])
    with Image.open(BytesIO(data)) as original:
        assert original.format == "MPO"

    result = clean(data)

    assert result.extension == "jpg"
    with reopen(result.content) as out:
        assert out.format == "JPEG"
        assert out.size == (40, 20)


# ---------------------------------------------------------------------------
# clean_upload: metadata
# ---------------------------------------------------------------------------


def test_jpeg_exif_with_gps_is_stripped_and_orientation_applied():
    data = encode(two_colour((40, 20)), "JPEG", exif=exif_with_gps(orientation=6))
    with Image.open(BytesIO(data)) as original:
        assert original.getexif().get_ifd(0x8825) == {1: "N", 2: (1.0, 2.0, 3.0)}
        assert original.getexif()[0x0112] == 6

    result = clean(data)

    assert (result.width, result.height) == (20, 40)
    assert SECRET.encode() not in result.content.read()
    with reopen(result.content) as out:
        assert out.size == (20, 40)
        assert dict(out.getexif()) == {}
        assert "exif" not in out.info
        top, bottom = out.convert("RGB").getpixel((10, 5)), out.convert("RGB").getpixel((10, 35))
    # Orientation 6 is "turn 90 degrees clockwise to display": the left (red) edge ends on top.
    assert top[0] > 200 > top[2]
    assert bottom[2] > 200 > bottom[0]


@pytest.mark.parametrize(
    ("fmt", "options"),
    [
        ("JPEG", {"exif": exif_with_gps(), "comment": SECRET, "xmp": SECRET.encode(), "icc_profile": srgb_profile()}),
        ("WEBP", {"exif": exif_with_gps(), "xmp": SECRET.encode(), "icc_profile": srgb_profile()}),
        ("PNG", {"exif": exif_with_gps(), "icc_profile": srgb_profile()}),
        ("GIF", {"comment": SECRET}),
    ],
)
def test_every_kind_of_metadata_is_dropped(fmt, options):
    data = encode(two_colour(), fmt, **options)
    assert SECRET.encode() in data

    result = clean(data)

    assert SECRET.encode() not in result.content.read()
    with reopen(result.content) as out:
        assert out.format == fmt
        assert dict(out.getexif()) == {}
        assert not {"exif", "xmp", "icc_profile", "comment"} & set(out.info)


def test_png_text_chunks_are_dropped():
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", SECRET)
    text.add_text("Author", SECRET, zip=True)
    text.add_itxt("Description", SECRET)

    result = clean(encode(two_colour(), "PNG", pnginfo=text))

    assert SECRET.encode() not in result.content.read()
    with reopen(result.content) as out:
        assert out.text == {}


def test_png_polyglot_is_accepted_and_the_trailing_script_is_gone():
    data = encode(two_colour(), "PNG") + b"<html><script>alert(1)</script></html>"

    result = clean(data)

    assert result.extension == "png"
    assert b"<script>" not in result.content.read()
    with reopen(result.content) as out:
        assert out.size == (40, 20)


def test_png_transparency_survives_re_encoding():
    img = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    img.putpixel((0, 0), (255, 0, 0, 255))

    result = clean(encode(img, "PNG"))

    with reopen(result.content) as out:
        assert out.convert("RGBA").getpixel((0, 0)) == (255, 0, 0, 255)
        assert out.convert("RGBA").getpixel((3, 3))[3] == 0


# ---------------------------------------------------------------------------
# clean_upload: animated GIF
# ---------------------------------------------------------------------------


def animated_gif(size=(30, 30), colours=(RED, (0, 255, 0), BLUE), durations=(100, 200, 300)) -> bytes:
    frames = [Image.new("RGB", size, colour).convert("P") for colour in colours]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=list(durations), loop=0)


def test_animated_gif_keeps_its_frames_durations_and_loop():
    result = clean(animated_gif())

    assert (result.extension, result.width, result.height) == ("gif", 30, 30)
    with reopen(result.content) as out:
        assert out.n_frames == 3
        assert out.info["loop"] == 0
        durations, colours = [], []
        for index in range(out.n_frames):
            out.seek(index)
            durations.append(out.info["duration"])
            colours.append(out.convert("RGB").getpixel((15, 15)))
    assert durations == [100, 200, 300]
    assert colours == [RED, (0, 255, 0), BLUE]


def test_animated_gif_counts_every_frame_against_the_pixel_limit():
    data = animated_gif(size=(100, 100))  # 3 frames of 10,000 pixels

    error = rejected(data, max_pixels=29_999)

    assert_error(
        error, 400, "VALIDATION_ERROR", {"images": ["Animation is too large: at most 29999 pixels across all frames."]}
    )
    assert clean(data, max_pixels=30_000).extension == "gif"


# ---------------------------------------------------------------------------
# clean_upload: rejected uploads
# ---------------------------------------------------------------------------


def test_php_script_named_jpg_is_rejected():
    error = rejected(b"<?php system($_GET['cmd']); ?>\n")

    assert_error(error, 400, "VALIDATION_ERROR", {"images": INVALID})
    assert str(error.detail) == "Invalid image"


def test_svg_is_rejected():
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>'

    error = rejected(svg)

    assert_error(error, 400, "VALIDATION_ERROR", {"images": INVALID})


def test_empty_file_is_rejected():
    assert_error(rejected(b""), 400, "VALIDATION_ERROR", {"images": INVALID})


@pytest.mark.parametrize("fmt", ["BMP", "TIFF", "ICO", "PPM"])
def test_formats_outside_the_allowed_four_are_rejected(fmt):
    error = rejected(encode(two_colour(), fmt))

    message = f"Unsupported image format ({fmt}): upload a JPEG, PNG, WebP or GIF image."
    assert_error(error, 400, "VALIDATION_ERROR", {"images": [message]})
    assert str(error.detail) == "Unsupported image format"


@pytest.mark.parametrize("fmt", list(ALLOWED_FORMATS))
def test_truncated_body_is_a_400_not_a_crash(fmt):
    data = encode(Image.effect_noise((200, 200), 60).convert("RGB"), fmt)

    error = rejected(data[: len(data) // 2])

    assert_error(error, 400, "VALIDATION_ERROR", {"images": INVALID})


def test_too_many_pixels_is_rejected():
    data = encode(Image.new("RGB", (3000, 3000), RED), "PNG")
    assert len(data) < 100_000  # small on disk: only the pixel count gives it away

    error = rejected(data, max_pixels=1_000_000)

    assert_error(error, 400, "VALIDATION_ERROR", {"images": ["Image is too large: at most 1000000 pixels."]})
    assert str(error.detail) == "Image is too large"


def test_pixel_limit_is_inclusive():
    data = encode(Image.new("RGB", (1000, 1000), RED), "PNG")

    assert clean(data, max_pixels=1_000_000).width == 1000


def test_pixel_limit_is_checked_from_the_header_before_decoding():
    # The body holds one pixel: decoding it as 3000x3000 would fail as "Invalid image".
    data = png_claiming(3000, 3000)
    assert_error(rejected(data, max_pixels=10_000_000), 400, "VALIDATION_ERROR", {"images": INVALID})

    error = rejected(data, max_pixels=1_000_000)

    assert_error(error, 400, "VALIDATION_ERROR", {"images": ["Image is too large: at most 1000000 pixels."]})


@pytest.mark.parametrize(
    "size",
    [
        (10_000, 10_000),  # over Image.MAX_IMAGE_PIXELS: Pillow warns
        (20_000, 20_000),  # over twice that: Pillow raises DecompressionBombError
    ],
)
def test_pillow_decompression_bomb_guard_is_a_400(size):
    assert size[0] * size[1] > Image.MAX_IMAGE_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the caller's filters must not matter

        error = rejected(png_claiming(*size), max_pixels=10**12)

    assert_error(error, 400, "VALIDATION_ERROR", {"images": [f"Image is too large: at most {10**12} pixels."]})


def test_too_many_bytes_is_a_413():
    data = encode(two_colour(), "PNG")

    with pytest.raises(PayloadTooLarge) as caught:
        clean(data, max_bytes=len(data) - 1)

    message = f"File is too large: at most {len(data) - 1} bytes."
    assert_error(caught.value, 413, "PAYLOAD_TOO_LARGE", {"images": [message]})
    assert isinstance(caught.value, ApplicationError)
    assert clean(data, max_bytes=len(data)).extension == "png"


def test_byte_limit_message_is_in_megabytes_and_names_the_field():
    big = upload(b"x" * 10)
    big.size = 6 * 1024 * 1024

    with pytest.raises(PayloadTooLarge) as caught:
        clean_upload(big, field="image", max_bytes=5 * 1024 * 1024, max_pixels=MAX_PIXELS)

    assert_error(caught.value, 413, "PAYLOAD_TOO_LARGE", {"image": ["File is too large: at most 5 MB."]})
    assert str(caught.value.detail) == "The upload is too large: at most 5 MB"


def test_byte_limit_is_checked_before_reading():
    class Unreadable:
        size = MAX_BYTES + 1

        def read(self, *args):
            raise AssertionError("read before the size check")

        def seek(self, *args):
            raise AssertionError("seek before the size check")

    with pytest.raises(PayloadTooLarge):
        clean_upload(Unreadable(), max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS)


def test_errors_name_the_given_field():
    error = rejected(b"not an image", field="image")

    assert error.details == {"image": INVALID}


# ---------------------------------------------------------------------------
# make_thumbnail
# ---------------------------------------------------------------------------


def test_thumbnail_bounds_the_long_side():
    thumb = make_thumbnail(BytesIO(encode(Image.new("RGB", (1000, 500), RED), "JPEG")))

    assert thumb.name == "thumb.webp"
    with reopen(thumb) as out:
        assert out.format == "WEBP"
        assert out.size == (320, 160)


def test_thumbnail_long_side_is_configurable_and_portrait_works():
    thumb = make_thumbnail(BytesIO(encode(Image.new("RGB", (500, 1000), RED), "PNG")), long_side=100)

    with reopen(thumb) as out:
        assert out.size == (50, 100)


def test_thumbnail_never_upscales():
    thumb = make_thumbnail(BytesIO(encode(Image.new("RGB", (100, 50), RED), "PNG")))

    with reopen(thumb) as out:
        assert out.size == (100, 50)


def test_thumbnail_applies_exif_orientation():
    data = encode(two_colour((1000, 500)), "JPEG", exif=exif_with_gps(orientation=6))

    thumb = make_thumbnail(BytesIO(data))

    with reopen(thumb) as out:
        assert out.size == (160, 320)
        assert dict(out.getexif()) == {}
        top = out.convert("RGB").getpixel((80, 20))
    assert top[0] > 200 > top[2]


def transparent_p() -> Image.Image:
    img = Image.new("P", (100, 50), 0)
    img.info["transparency"] = 0
    return img


@pytest.mark.parametrize(
    ("source", "fmt", "mode"),
    [
        (lambda: Image.new("RGBA", (100, 50), (255, 0, 0, 128)), "PNG", "RGBA"),
        (lambda: Image.new("LA", (100, 50), (128, 100)), "PNG", "RGBA"),
        (transparent_p, "PNG", "RGBA"),
        (lambda: Image.new("P", (100, 50), 3), "GIF", "RGB"),
        (lambda: Image.new("L", (100, 50), 128), "PNG", "RGB"),
        (lambda: Image.new("1", (100, 50), 1), "PNG", "RGB"),
        (lambda: Image.new("CMYK", (100, 50), (0, 255, 255, 0)), "JPEG", "RGB"),
        (lambda: Image.new("I;16", (100, 50), 30000), "PNG", "RGB"),
    ],
)
def test_thumbnail_handles_every_input_mode(source, fmt, mode):
    thumb = make_thumbnail(BytesIO(encode(source(), fmt)))

    with reopen(thumb) as out:
        assert out.format == "WEBP"
        assert out.mode == mode
        assert out.size == (100, 50)


def test_thumbnail_of_transparent_png_keeps_alpha():
    thumb = make_thumbnail(BytesIO(encode(transparent_p(), "PNG")))

    with reopen(thumb) as out:
        assert out.getpixel((10, 10))[3] == 0


def test_thumbnail_accepts_a_path_and_a_cleaned_upload(tmp_path):
    path = tmp_path / "source.png"
    Image.new("RGB", (640, 480), RED).save(path)
    cleaned = clean(path.read_bytes())
    cleaned.content.read()  # at the end, as after storage saved it

    from_path = make_thumbnail(path)
    from_clean = make_thumbnail(cleaned.content)

    for thumb in (from_path, from_clean):
        with reopen(thumb) as out:
            assert out.size == (320, 240)
