"""Image upload checks and re-encoding: type by decoding, bounded size and pixels, no metadata, thumbnails."""

import struct
import warnings
from dataclasses import dataclass
from io import BytesIO

from django.core.files.base import ContentFile
from PIL import Image, ImageOps, ImageSequence

from app.utils import ApplicationError

ALLOWED_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}

# Pillow names a JPEG carrying an MP (multi-picture) index "MPO"; many phone cameras write them.
# It is re-encoded as a plain JPEG of its first (primary) picture.
_FORMAT_ALIASES = {"MPO": "JPEG"}

# What Pillow raises for bytes it cannot identify or decode (UnidentifiedImageError is an OSError).
_UNREADABLE = (OSError, SyntaxError, ValueError, EOFError, struct.error)
_BOMB = (Image.DecompressionBombError, Image.DecompressionBombWarning)

# The only `info` entries carried into the re-encoded file: rendering state, not metadata.
_KEPT_INFO = ("transparency", "background")

_ALLOWED_NAMES = "JPEG, PNG, WebP or GIF"


class PayloadTooLarge(ApplicationError):
    status_code = 413
    default_code = "PAYLOAD_TOO_LARGE"
    default_detail = "The upload is too large"


@dataclass(frozen=True)
class CleanImage:
    content: ContentFile  # the re-encoded bytes, .name = f"upload.{extension}"
    extension: str  # "jpg" | "png" | "webp" | "gif"
    width: int
    height: int


def clean_upload(upload, *, field: str = "images", max_bytes: int, max_pixels: int) -> CleanImage:
    """Validate one uploaded file (a Django UploadedFile or any file-like with .size/.read/.seek) and re-encode it."""
    if upload.size > max_bytes:
        limit = _human_size(max_bytes)
        raise PayloadTooLarge(
            f"The upload is too large: at most {limit}",
            details={field: [f"File is too large: at most {limit}."]},
        )

    upload.seek(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(upload)  # lazy: reads the header only
        except _BOMB:
            raise _too_many_pixels(field, max_pixels) from None
        except _UNREADABLE:
            raise _invalid_image(field) from None

        with img:
            image_format = _FORMAT_ALIASES.get(img.format, img.format)
            if image_format not in ALLOWED_FORMATS:
                raise ApplicationError(
                    "Unsupported image format",
                    details={field: [f"Unsupported image format ({img.format}): upload a {_ALLOWED_NAMES} image."]},
                )
            if img.width * img.height > max_pixels:
                raise _too_many_pixels(field, max_pixels)
            try:
                data, (width, height) = _reencode(img, image_format, field=field, max_pixels=max_pixels)
            except _BOMB:
                raise _too_many_pixels(field, max_pixels) from None
            except _UNREADABLE:
                raise _invalid_image(field) from None

    extension = ALLOWED_FORMATS[image_format]
    return CleanImage(
        content=ContentFile(data, name=f"upload.{extension}"),
        extension=extension,
        width=width,
        height=height,
    )


def make_thumbnail(source, *, long_side: int = 320) -> ContentFile:
    """A WebP rendition, long side at most `long_side` px (never upscaled), EXIF orientation applied; "thumb.webp"."""
    if hasattr(source, "seek"):
        source.seek(0)
    with Image.open(source) as img:
        # A square box bounds the long side whatever the orientation, so shrinking first (which lets
        # Pillow decode a JPEG at reduced scale) and rotating after gives the same result, cheaper.
        img.thumbnail((long_side, long_side))
        thumb = ImageOps.exif_transpose(img)
    if thumb.mode not in ("RGB", "RGBA"):
        thumb = thumb.convert("RGBA" if thumb.has_transparency_data else "RGB")
    buffer = BytesIO()
    thumb.save(buffer, "WEBP", quality=80)
    return ContentFile(buffer.getvalue(), name="thumb.webp")


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def _reencode(img: Image.Image, image_format: str, *, field: str, max_pixels: int) -> tuple[bytes, tuple[int, int]]:
    """The image saved afresh in its own format, with no metadata; and its final size."""
    img.load()  # the full decode: a truncated or corrupt body fails here
    buffer = BytesIO()

    if image_format == "GIF" and getattr(img, "is_animated", False):
        # exif_transpose would only turn the first frame; GIFs carry no EXIF orientation anyway.
        loop = img.info.get("loop")  # read before seeking: later frames replace `info`
        frames, durations = _gif_frames(img, field=field, max_pixels=max_pixels)
        options = {"save_all": True, "append_images": frames[1:], "duration": durations}
        if loop is not None:
            options["loop"] = loop
        frames[0].save(buffer, "GIF", **options)
        return buffer.getvalue(), frames[0].size

    # Animated PNG/WebP and MPO keep their first (primary) frame only.
    out = _without_metadata(ImageOps.exif_transpose(img))
    if image_format == "JPEG":
        if out.mode not in ("RGB", "L"):
            out = out.convert("RGB")
        out.save(buffer, "JPEG", quality=90, optimize=True)
    elif image_format == "PNG":
        out.save(buffer, "PNG", optimize=True)
    elif image_format == "WEBP":
        out.save(buffer, "WEBP", quality=90)
    else:
        out.save(buffer, "GIF")
    return buffer.getvalue(), out.size


def _gif_frames(img: Image.Image, *, field: str, max_pixels: int) -> tuple[list[Image.Image], list[int]]:
    """Every frame as a metadata-free copy, with its duration; all frames together count against `max_pixels`."""
    frames, durations, total = [], [], 0
    for frame in ImageSequence.Iterator(img):
        total += frame.width * frame.height
        if total > max_pixels:
            raise _too_many_pixels(field, max_pixels, across_frames=True)
        durations.append(frame.info.get("duration", 0))
        frames.append(_without_metadata(frame.copy()))
    return frames, durations


def _without_metadata(image: Image.Image) -> Image.Image:
    """`image` (a copy the caller owns) with `info` cut to what rendering needs: Pillow's writers
    fall back on `info` for comments (JPEG, GIF) and ICC profiles (PNG)."""
    image.info = {key: image.info[key] for key in _KEPT_INFO if key in image.info}
    return image


def _invalid_image(field: str) -> ApplicationError:
    return ApplicationError("Invalid image", details={field: [f"Upload a valid {_ALLOWED_NAMES} image."]})


def _too_many_pixels(field: str, max_pixels: int, *, across_frames: bool = False) -> ApplicationError:
    if across_frames:
        return ApplicationError(
            "Animation is too large",
            details={field: [f"Animation is too large: at most {max_pixels} pixels across all frames."]},
        )
    return ApplicationError(
        "Image is too large", details={field: [f"Image is too large: at most {max_pixels} pixels."]}
    )


def _human_size(n_bytes: int) -> str:
    """5242880 -> "5 MB"; limits under a megabyte in KB or bytes so the message never says "0 MB"."""
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if n_bytes >= scale:
            return f"{round(n_bytes / scale, 1):g} {unit}"
    return f"{n_bytes} bytes"
