"""Draws demo/images/taurus-illustration.jpg, the sample story's lead image: an abstract
illustration made for the demo (no photograph, nothing copyrighted). Run it again to redraw:
`.venv/bin/python demo/images/make_illustration.py`."""

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 1600, 900
OUT = Path(__file__).with_name("taurus-illustration.jpg")

picture = Image.new("RGB", (WIDTH, HEIGHT))
draw = ImageDraw.Draw(picture)
for y in range(HEIGHT):  # a dusk sky, dark blue to pale orange
    t = y / HEIGHT
    draw.line([(0, y), (WIDTH, y)], fill=(int(20 + 200 * t), int(30 + 110 * t), int(70 + 40 * t)))
# Hills, and a stylised missile's trail crossing the sky.
draw.polygon(
    [(0, 700), (400, 620), (800, 690), (1200, 600), (1600, 680), (1600, 900), (0, 900)],
    fill=(35, 40, 45),
)
draw.line([(150, 560), (700, 330), (1250, 210)], fill=(240, 240, 235), width=6, joint="curve")
draw.polygon([(1250, 195), (1330, 190), (1250, 225)], fill=(200, 205, 210))
font = ImageFont.load_default(size=44)
draw.text((60, 780), "Illustration generated for the demo", font=font, fill=(235, 235, 230))
picture.save(OUT, "JPEG", quality=85, optimize=True, progressive=True)
