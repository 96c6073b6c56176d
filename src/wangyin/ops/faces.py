"""Drawn portraits for the face-verification sandbox (``authn.face``): a demo customer's
"ID photo" for the sandbox register, and a camera file that plays the same face moving a
little, for Chromium's fake camera (``--use-file-for-fake-video-capture``). They are
drawings, not photographs of anybody; the sandbox compares pictures, so they match."""

from __future__ import annotations

import hashlib
import io
import random
from pathlib import Path

from PIL import Image, ImageDraw

WIDTH, HEIGHT = 320, 240
# Where the face sits in each camera frame: a slow circle of a few pixels, like a head that
# cannot keep perfectly still.
_SWAY = [(0, 0), (2, 1), (3, 3), (1, 4), (-2, 3), (-3, 1), (-2, -2), (1, -3)]


def portrait(who: str, *, dx: int = 0, dy: int = 0, quality: int = 90) -> bytes:
    """A JPEG face drawn from ``who`` (the same name always gives the same face)."""
    rng = random.Random(hashlib.sha256(who.encode()).digest())  # noqa: S311 - a drawing
    image = Image.new("RGB", (WIDTH, HEIGHT), (rng.randint(150, 230),) * 3)
    draw = ImageDraw.Draw(image)
    cx, cy = WIDTH // 2 + dx, HEIGHT // 2 + dy
    fw, fh = rng.randint(70, 95), rng.randint(90, 110)
    skin = (rng.randint(180, 240), rng.randint(140, 200), rng.randint(110, 170))
    draw.ellipse([cx - fw, cy - fh, cx + fw, cy + fh], fill=skin)
    eye_y, eye_x = cy - rng.randint(15, 40), rng.randint(25, 45)
    for side in (-1, 1):
        x = cx + side * eye_x
        draw.ellipse([x - 12, eye_y - 7, x + 12, eye_y + 7], fill="white")
        draw.ellipse([x - 5, eye_y - 5, x + 5, eye_y + 5], fill=(40, 30, 20))
        draw.line([x - 15, eye_y - 18 - rng.randint(0, 8), x + 15, eye_y - 20],
                  fill=(60, 40, 30), width=4)
    draw.polygon([(cx, cy - 10), (cx - 10, cy + 20), (cx + 10, cy + 20)],
                 fill=(200, 140, 120))
    mouth_y, mouth_w = cy + rng.randint(40, 60), rng.randint(20, 40)
    draw.arc([cx - mouth_w, mouth_y - 15, cx + mouth_w, mouth_y + 15], 20, 160,
             fill=(150, 50, 50), width=4)
    draw.chord([cx - fw - 5, cy - fh - 10, cx + fw + 5, cy - fh // 3], 180, 360,
               fill=(rng.randint(20, 80),) * 3)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def camera_file(who: str, path: Path, *, seconds: int = 4, fps: int = 10) -> Path:
    """An MJPEG file (concatenated JPEG frames) of ``who``'s face swaying a little."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = [portrait(who, dx=dx, dy=dy, quality=85) for dx, dy in _SWAY]
    with path.open("wb") as out:
        for i in range(seconds * fps):
            out.write(frames[i % len(frames)])
    return path
