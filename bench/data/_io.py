"""Reading image and mask files, so every data set fails the same one-line way on a bad file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from bench.errors import DataError

_TIFF_SUFFIXES = {".tif", ".tiff"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".gif", ".bmp", ".ppm", ".pgm", ".webp"}


def image_size(path: Path) -> tuple[int, int]:
    """(height, width) from the file header only, so pairing checks never decode pixels."""
    try:
        if path.suffix.lower() in _TIFF_SUFFIXES:
            try:
                import tifffile

                with tifffile.TiffFile(path) as tif:
                    page = tif.pages[0]
                    return int(page.imagelength), int(page.imagewidth)
            except Exception:
                pass  # not a TIFF tifffile understands: let PIL try
        with Image.open(path) as im:
            width, height = im.size
            return int(height), int(width)
    except Exception as exc:
        raise DataError(f"{path}: cannot read as an image ({_reason(exc)})") from None


def image_channels(path: Path) -> int:
    """Channels the image tensor of a file will have (1 grey, 3 colour), from the header only."""
    try:
        if path.suffix.lower() in _TIFF_SUFFIXES:
            try:
                import tifffile

                with tifffile.TiffFile(path) as tif:
                    return 1 if int(tif.pages[0].samplesperpixel) < 3 else 3
            except Exception:
                pass
        with Image.open(path) as im:
            return 1 if im.mode in ("1", "L", "LA", "I", "F") or im.mode.startswith("I;") else 3
    except Exception as exc:
        raise DataError(f"{path}: cannot read as an image ({_reason(exc)})") from None


def read_array(path: Path, mode: str | None = None) -> np.ndarray:
    """Decode a whole file to HxW or HxWxC; `mode` ("L", "RGB", None = as stored) is a PIL mode."""
    try:
        if path.suffix.lower() in _TIFF_SUFFIXES:
            try:
                import tifffile

                return _as_mode(_squeeze_planar(np.asarray(tifffile.imread(path))), mode)
            except Exception:
                pass
        with Image.open(path) as im:
            if mode is not None and im.mode != mode:
                im = im.convert(mode)
            elif mode is None and im.mode in ("RGBA", "LA", "CMYK", "YCbCr", "HSV", "LAB"):
                im = im.convert("RGB" if im.mode != "LA" else "L")
            elif mode is None and im.mode == "P":
                im = im.convert("RGB")
            return np.asarray(im)
    except Exception as exc:
        raise DataError(f"{path}: cannot read as an image ({_reason(exc)})") from None


def read_raw(path: Path) -> np.ndarray:
    """Stored pixel values without any colour conversion (palette indices stay indices)."""
    try:
        if path.suffix.lower() in _TIFF_SUFFIXES:
            try:
                import tifffile

                return _squeeze_planar(np.asarray(tifffile.imread(path)))
            except Exception:
                pass
        with Image.open(path) as im:
            return np.asarray(im)
    except Exception as exc:
        raise DataError(f"{path}: cannot read as an image ({_reason(exc)})") from None


def to_image_tensor(array: np.ndarray, path: Path | str = "") -> torch.Tensor:
    """HxW / HxWxC integer pixels → float32 [C,H,W] in [0,1] (uint8/255, no normalisation)."""
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3:
        raise DataError(f"{path}: expected an HxW or HxWxC image, got shape {array.shape}")
    if array.shape[2] == 4:
        array = array[:, :, :3]
    if array.dtype == np.uint8 or array.dtype == np.bool_:
        scale = 255.0 if array.dtype == np.uint8 else 1.0
    elif array.dtype == np.uint16:
        scale = 65535.0
    elif np.issubdtype(array.dtype, np.floating):
        scale = 1.0
    else:
        raise DataError(f"{path}: expected 8- or 16-bit pixels, got {array.dtype}")
    chw = np.ascontiguousarray(array.transpose(2, 0, 1), dtype=np.float32)
    return torch.from_numpy(chw).div_(scale)


def _as_mode(array: np.ndarray, mode: str | None) -> np.ndarray:
    """Apply a PIL-like "L"/"RGB" conversion to an array tifffile decoded."""
    if mode == "L" and array.ndim == 3:
        rgb = array[:, :, :3].astype(np.float32)
        return (rgb @ np.array([0.299, 0.587, 0.114], np.float32)).round().astype(array.dtype)
    if mode == "RGB" and array.ndim == 2:
        return np.repeat(array[:, :, None], 3, axis=2)
    if mode == "RGB" and array.ndim == 3:
        return array[:, :, :3]
    return array


def _squeeze_planar(array: np.ndarray) -> np.ndarray:
    """Turn a planar 3xHxW TIFF into HxWx3 and drop singleton leading axes."""
    while array.ndim > 2 and array.shape[0] == 1:
        array = array[0]
    if array.ndim == 3 and array.shape[0] in (3, 4) and array.shape[2] not in (3, 4):
        array = array.transpose(1, 2, 0)
    return array


def _reason(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]
