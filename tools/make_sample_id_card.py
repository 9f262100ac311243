#!/usr/bin/env python3
"""Draws docs/samples/id-card-sample.jpg: a synthetic ID card for trying the document steps.

Every field is made up and the card is marked 样例 / SAMPLE all over, so it can never pass for a
real document. Needs Pillow (`pip install pillow`) and a CJK font (Debian: fonts-wqy-microhei).
"""
import pathlib

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
OUT = pathlib.Path(__file__).resolve().parent.parent / "docs" / "samples" / "id-card-sample.jpg"


def font(size):
    return ImageFont.truetype(FONT, size)


def main():
    # An ID card is 85.6 × 54 mm; at about 15 px/mm a phone-camera-like 1284 × 810.
    w, h = 1284, 810
    card = Image.new("RGB", (w, h), (228, 236, 243))
    d = ImageDraw.Draw(card)
    d.rounded_rectangle((8, 8, w - 8, h - 8), radius=40, outline=(120, 150, 180), width=6)
    for y in range(0, h, 18):  # a faint guilloche-like background
        d.line((0, y, w, y + 60), fill=(214, 226, 236), width=2)
    label, value = (60, 90, 120), (20, 20, 20)
    rows = [
        ("姓名", "张样例"),
        ("性别", "男      民族  汉"),
        ("出生", "1950 年 1 月 1 日"),
        ("住址", "山东省东营市河口区孤岛镇\n样例村 1 号"),
    ]
    y = 90
    for k, v in rows:
        d.text((70, y), k, font=font(40), fill=label)
        d.multiline_text((190, y - 4), v, font=font(48), fill=value, spacing=14)
        y += 150 if "\n" in v else 100
    d.text((70, h - 130), "公民身份号码", font=font(40), fill=label)
    d.text((340, h - 138), "000000 19500101 000X", font=font(54), fill=value)
    # The photo area: a plain silhouette.
    px, py = w - 380, 110
    d.rectangle((px, py, px + 300, py + 380), fill=(200, 212, 222))
    d.ellipse((px + 90, py + 60, px + 210, py + 190), fill=(150, 165, 180))
    d.rounded_rectangle((px + 45, py + 210, px + 255, py + 380), radius=60, fill=(150, 165, 180))
    # 样例 / SAMPLE, large and across the card, so nobody mistakes it for a real one.
    stamp = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    s = ImageDraw.Draw(stamp)
    s.text((w // 2, h // 2), "样例 SAMPLE", font=font(190), fill=(200, 30, 30, 120), anchor="mm")
    stamp = stamp.rotate(18, resample=Image.BICUBIC)
    card = Image.alpha_composite(card.convert("RGBA"), stamp).convert("RGB")
    d = ImageDraw.Draw(card)
    d.text((w - 40, 40), "样例 · 非真实证件 / SAMPLE · NOT A REAL DOCUMENT", font=font(30), fill=(200, 30, 30), anchor="ra")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    card.save(OUT, quality=88)
    print(OUT)


if __name__ == "__main__":
    main()
