#!/usr/bin/env bash
# Regenerates the watermark font: Noto Sans CJK SC Bold (SIL Open Font License 1.1, see OFL.txt),
# subset to printable ASCII, common CJK punctuation and the 3,755 level-1 GB2312 hanzi, which cover
# service item names in practice. Needs Debian's fonts-noto-cjk and fonttools (pip).
set -euo pipefail
cd "$(dirname "$0")"
python3 - > chars.txt <<'PY'
chars = [chr(c) for c in range(0x20, 0x7f)] + list("，。、：；（）《》“”‘’—…·年月日")
for hi in range(0xB0, 0xD8):
    for lo in range(0xA1, 0xFF):
        try:
            chars.append(bytes([hi, lo]).decode("gb2312"))
        except UnicodeDecodeError:
            pass
print("".join(chars), end="")
PY
pyftsubset /usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc --font-number=2 --text-file=chars.txt \
  --output-file=NotoSansSC-Bold-subset.otf --layout-features='' --no-hinting --desubroutinize
rm chars.txt
