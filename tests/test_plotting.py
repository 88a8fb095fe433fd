"""The shared plotting style draws Chinese labels (zh catalogues) with the bundled CJK font."""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from contentlab import plotting  # noqa: E402


def test_cjk_font_is_bundled_and_used_as_fallback():
    assert plotting.cjk_font_path() is not None
    plotting.set_style()
    assert plotting.can_render(["新款轻薄羽绒服", "Down Jackets", "保暖"])
    fig, ax = plt.subplots()
    ax.bar(["羽绒服", "连衣裙", "Jeans"], [3, 2, 1])
    ax.set_title("品类 category")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph ... missing from font(s)" would raise here
        fig.canvas.draw()
    plt.close(fig)


def test_can_render_detects_missing_glyphs():
    plt.rcParams["font.family"] = ["sans-serif"]
    plt.rcParams["font.sans-serif"] = ["DejaVu Sans"]
    try:
        assert plotting.can_render(["Jeans"])
        assert not plotting.can_render(["羽绒服"])
    finally:
        plotting.set_style()
