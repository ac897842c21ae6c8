"""The style picker's example images: drawings, not photos, made from shapes in code.

An example must never be a person's photo or a render of one, so each is an SVG drawn here:
a faceless figure in the style's clothes, background and colours. They are written once into
``portrait/static/portrait/styles/`` and kept in the repository; run this again after changing
a drawing (``python -m portrait.style_examples``). A style without a drawing (an operator's
own) shows ``generic.svg``.
"""

import functools
from pathlib import Path

OUT = Path(__file__).resolve().parent / "static" / "portrait" / "styles"
WIDTH, HEIGHT = 240, 300
SKIN = "#e9c4a6"

# slug: (background top, background bottom, clothes, hair, extra shapes drawn on top)
DRAWINGS = {
    "business": (
        "#d9dce1",
        "#9aa1ab",
        "#26303d",
        "#3b2a20",
        [
            '<path d="M104 212 L120 262 L136 212 Z" fill="#ffffff"/>',
            '<path d="M116 222 L124 222 L127 258 L120 268 L113 258 Z" fill="#8c1d2b"/>',
        ],
    ),
    "id_photo": (
        "#438edb",
        "#438edb",
        "#1f2630",
        "#20170f",
        [
            '<path d="M30 40 H50 M30 40 V60 M210 40 H190 M210 40 V60" stroke="#ffffff" '
            'stroke-width="3" fill="none" opacity=".7"/>',
        ],
    ),
    "graduation": (
        "#e8e2d0",
        "#b9ae8c",
        "#111111",
        "#2a1d14",
        [
            '<path d="M70 72 L120 52 L170 72 L120 92 Z" fill="#111111"/>',
            '<rect x="96" y="76" width="48" height="14" fill="#111111"/>',
            '<path d="M166 74 V112" stroke="#d4a017" stroke-width="4"/>',
            '<path d="M100 214 L120 250 L140 214" fill="none" stroke="#7a1f3d" stroke-width="10"/>',
        ],
    ),
    "wedding": (
        "#fbeff2",
        "#e8c7cf",
        "#fafafa",
        "#4a3020",
        [
            '<path d="M84 70 Q120 40 156 70 L196 300 H44 Z" fill="#ffffff" opacity=".55"/>',
            '<circle cx="92" cy="84" r="7" fill="#f2b5c4"/><circle cx="104" cy="76" r="6" '
            'fill="#ffffff"/><circle cx="80" cy="94" r="5" fill="#f7d3dc"/>',
        ],
    ),
    "hanfu": (
        "#f3e6cf",
        "#d9b98a",
        "#b3262e",
        "#14100c",
        [
            '<path d="M96 206 L138 262" stroke="#f5efe2" stroke-width="10"/>',
            '<path d="M144 206 L112 246" stroke="#f5efe2" stroke-width="10"/>',
            '<circle cx="120" cy="58" r="18" fill="#14100c"/>',
            '<path d="M104 54 L146 44" stroke="#c9a227" stroke-width="3"/>',
        ],
    ),
    "qipao": (
        "#1f4e5f",
        "#0f2a33",
        "#0f7a6c",
        "#14100c",
        [
            '<rect x="104" y="196" width="32" height="18" rx="4" fill="#0f7a6c" '
            'stroke="#e8c35a" stroke-width="2"/>',
            '<path d="M136 222 L150 236 M142 232 L156 246" stroke="#e8c35a" stroke-width="3"/>',
            '<circle cx="88" cy="250" r="6" fill="#f2c1cf"/><circle cx="160" cy="272" r="7" '
            'fill="#f2c1cf"/><circle cx="100" cy="282" r="5" fill="#f7e08a"/>',
        ],
    ),
    "tang_court": (
        "#f6dcc2",
        "#d89a6a",
        "#c0392b",
        "#14100c",
        [
            '<ellipse cx="120" cy="52" rx="34" ry="22" fill="#14100c"/>',
            '<circle cx="96" cy="50" r="6" fill="#e8b923"/><circle cx="144" cy="50" r="6" '
            'fill="#e8b923"/><circle cx="120" cy="36" r="7" fill="#e25d7a"/>',
            '<path d="M60 230 Q120 200 180 230" stroke="#2e7d5b" stroke-width="10" fill="none"/>',
        ],
    ),
    "oil_painting": (
        "#5b4632",
        "#2e2118",
        "#3e2a4f",
        "#2a1a10",
        [
            '<rect x="6" y="6" width="228" height="288" fill="none" stroke="#b8892f" '
            'stroke-width="12"/>',
            '<path d="M30 60 Q60 40 90 70 M170 40 Q200 60 210 90" stroke="#7a6045" '
            'stroke-width="6" fill="none" opacity=".6"/>',
        ],
    ),
    "watercolour": (
        "#eaf4fb",
        "#cfe6f3",
        "#7fb3d5",
        "#6b4f3a",
        [
            '<circle cx="60" cy="70" r="40" fill="#f6c9d0" opacity=".45"/>',
            '<circle cx="190" cy="110" r="46" fill="#c9e7c3" opacity=".45"/>',
            '<circle cx="170" cy="250" r="50" fill="#f9e3a3" opacity=".4"/>',
        ],
    ),
    "bw_film": (
        "#d0d0d0",
        "#6e6e6e",
        "#2b2b2b",
        "#1a1a1a",
        [
            '<rect x="0" y="0" width="240" height="14" fill="#111111"/>',
            '<rect x="0" y="286" width="240" height="14" fill="#111111"/>',
            '<path d="M10 4 h8 M40 4 h8 M70 4 h8 M100 4 h8 M130 4 h8 M160 4 h8 M190 4 h8 '
            'M220 4 h8" stroke="#d0d0d0" stroke-width="5"/>',
        ],
    ),
}
GENERIC = ("#eceff3", "#c4cad3", "#6b7685", "#3b3b3b", [])


def draw(top, bottom, clothes, hair, extras, skin=SKIN):
    """One example as SVG text: background, shoulders, neck, a featureless head, hair."""
    if top == "#d0d0d0":  # black and white film
        skin = "#b5b5b5"
    shapes = "\n  ".join(extras)
    return f"""<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" \
width="{WIDTH}" height="{HEIGHT}">
  <defs><linearGradient id="bg" x1="0" y1="0" x2="0" y2="1">
    <stop offset="0" stop-color="{top}"/><stop offset="1" stop-color="{bottom}"/>
  </linearGradient></defs>
  <rect width="{WIDTH}" height="{HEIGHT}" fill="url(#bg)"/>
  <path d="M40 300 Q44 214 120 200 Q196 214 200 300 Z" fill="{clothes}"/>
  <rect x="106" y="160" width="28" height="46" rx="10" fill="{skin}"/>
  <ellipse cx="120" cy="128" rx="40" ry="50" fill="{skin}"/>
  <path d="M80 124 Q78 70 120 70 Q162 70 160 124 Q150 92 120 92 Q90 92 80 124 Z" \
fill="{hair}"/>
  {shapes}
</svg>
"""


def write_all(out=OUT):
    out.mkdir(parents=True, exist_ok=True)
    for slug, drawing in {**DRAWINGS, "generic": GENERIC}.items():
        (out / f"{slug}.svg").write_text(draw(*drawing), encoding="utf-8")
    return sorted(out.glob("*.svg"))


@functools.cache
def example_slugs():
    """The styles that have a drawing of their own."""
    return frozenset(path.stem for path in OUT.glob("*.svg")) - {"generic"}


def example_for(slug):
    """The static path of a style's example image."""
    return f"portrait/styles/{slug if slug in example_slugs() else 'generic'}.svg"


if __name__ == "__main__":
    for path in write_all():
        print(path)
