"""Cover art per listener and episode, drawn with Pillow from the profile: no network, no stock art.

A square (1400 px, the smallest Apple Podcasts accepts) in a palette chosen by the episode's mood,
with grooves like a record's, the show's name, the listener's first name and the date.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

SIZE_PX = 1400
# (background top, background bottom, accent) per mood family; unknown moods hash into the list.
PALETTES = {
    "calm": ((16, 32, 64), (48, 92, 140), (240, 200, 120)),
    "reflective": ((24, 20, 48), (70, 54, 110), (236, 180, 200)),
    "mellow": ((40, 24, 32), (120, 70, 70), (250, 210, 150)),
    "happy": ((250, 150, 60), (240, 90, 100), (255, 245, 200)),
    "energetic": ((200, 30, 60), (250, 130, 40), (255, 240, 120)),
    "focused": ((10, 40, 40), (30, 110, 100), (200, 250, 220)),
    "dreamy": ((60, 30, 90), (150, 90, 170), (250, 220, 250)),
}
MOOD_WORDS = {
    "calm": ("calm", "chill", "relaxed", "easy", "quiet", "peaceful"),
    "reflective": ("reflective", "thoughtful", "nostalgic", "melancholy", "wistful"),
    "mellow": ("mellow", "warm", "cozy", "soft", "smooth"),
    "happy": ("happy", "bright", "playful", "sunny", "cheerful", "upbeat"),
    "energetic": ("energetic", "pumped", "hyped", "driving", "motivated"),
    "focused": ("focused", "productive", "steady"),
    "dreamy": ("dreamy", "hazy", "romantic", "late"),
}


def palette_for(mood: str) -> tuple[tuple[int, int, int], ...]:
    lowered = mood.lower()
    for family, words in MOOD_WORDS.items():
        if any(word in lowered for word in words):
            return PALETTES[family]
    names = sorted(PALETTES)
    return PALETTES[names[int(hashlib.sha256(lowered.encode()).hexdigest(), 16) % len(names)]]


def _fitting_font(draw: ImageDraw.ImageDraw, text: str, size: int, width_px: int) -> ImageFont.FreeTypeFont:
    """The bundled font at `size`, or smaller until the text fits the width."""
    while size > 24 and draw.textlength(text, font=ImageFont.load_default(size=size)) > width_px:
        size -= 6
    return ImageFont.load_default(size=size)


def make_cover(path: Path, *, show: str, listener_first_name: str, date: dt.date, mood: str) -> Path:
    """Write the cover as a PNG (atomically) and return its path."""
    top, bottom, accent = palette_for(mood)
    image = Image.new("RGB", (SIZE_PX, SIZE_PX))
    draw = ImageDraw.Draw(image)
    for y in range(SIZE_PX):  # vertical gradient
        t = y / (SIZE_PX - 1)
        draw.line([(0, y), (SIZE_PX, y)], fill=tuple(round(a + (b - a) * t) for a, b in zip(top, bottom)))
    centre, radius = (SIZE_PX * 0.68, SIZE_PX * 0.36), SIZE_PX * 0.42
    for ring in range(22):  # record grooves
        r = radius * (1 - ring / 26)
        draw.ellipse([centre[0] - r, centre[1] - r, centre[0] + r, centre[1] + r], outline=accent,
                     width=3 if ring % 5 else 6)
    draw.ellipse([centre[0] - 90, centre[1] - 90, centre[0] + 90, centre[1] + 90], fill=accent)
    margin = round(SIZE_PX * 0.07)
    draw.text((margin, SIZE_PX - margin - 330), show, font=_fitting_font(draw, show, 110, SIZE_PX - 2 * margin),
              fill=accent)
    draw.text((margin, SIZE_PX - margin - 190), f"for {listener_first_name}", font=ImageFont.load_default(size=96),
              fill=(255, 255, 255))
    draw.text((margin, SIZE_PX - margin - 70), f"{date:%A, %B} {date.day}, {date.year}",
              font=ImageFont.load_default(size=60), fill=(255, 255, 255))
    draw.text((margin, margin), "nightcast", font=ImageFont.load_default(size=64), fill=accent)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    image.save(tmp, format="PNG", optimize=True)
    tmp.replace(path)
    return path

