"""Thumbnails: made once per stored image (decoded through core's safe gates), kept in the use
case's own store next to the images, served with an ETag so browsers revalidate for free."""

from __future__ import annotations

import io

from PIL import Image
from sqlalchemy.orm import Session

from dda.core.safe_image import decode_image
from dda.portal.context import Portal
from dda.portal.db import DataObject
from dda.portal.repositories import usecases as usecases_repo
from dda.portal.services.data import object_key, usecase_store

THUMBNAIL_SIDE = 256
THUMBNAIL_QUALITY = 80


def thumbnail_key(sha256: str) -> str:
    return f"thumbnails/sha256/{sha256[:2]}/{sha256}.jpg"


def etag(sha256: str) -> str:
    """The thumbnail's bytes depend only on the image's content and the thumbnail settings."""
    return f'"t{THUMBNAIL_SIDE}-{sha256[:32]}"'


def render(image_bytes: bytes, max_pixels: int) -> bytes:
    array = decode_image(image_bytes, max_pixels=max_pixels)
    image = Image.fromarray(array)
    image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.BILINEAR)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=THUMBNAIL_QUALITY)
    return out.getvalue()


def thumbnail(session: Session, portal: Portal, obj: DataObject) -> bytes:
    """The stored thumbnail, made and stored first if this image has none yet."""
    usecase = usecases_repo.by_id(session, obj.usecase_id)
    assert usecase is not None
    store = usecase_store(portal, usecase)
    key = thumbnail_key(obj.sha256)
    if obj.has_thumbnail and store.exists(key):
        return store.get_bytes(key)
    data = render(store.get_bytes(object_key(obj.sha256)), portal.settings.portal.max_image_pixels)
    store.put_bytes(key, data, "image/jpeg")
    obj.has_thumbnail = True
    return data
