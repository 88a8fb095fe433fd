"""The shared plotting style draws Chinese labels (zh catalogues) with the bundled CJK font."""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from contentlab import plotting


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


def test_emoji_in_a_category_draws_without_a_missing_glyph():
    import pandas as pd
    import pytest
    from matplotlib.text import Text

    plotting.set_style()
    if not plotting.can_render(["🧥"]):  # control: unguarded, matplotlib warns for this character with these fonts
        fig, ax = plt.subplots()
        Text.set_text.__wrapped__(ax.text(0.5, 0.5, ""), "Coats 🧥")
        with pytest.warns(UserWarning, match=r"Glyph 129509 \(\\N\{COAT\}\) missing"):
            fig.canvas.draw()
        plt.close(fig)
    df = pd.DataFrame({"category": ["Coats 🧥", "Dresses 👗", "🧣"], "gmv": [3.0, 2.0, 1.0],
                       "view_to_cart": [0.3, 0.2, 0.1]})
    figs = [
        plotting.hbar(df, "category", "gmv", title="GMV by category", xlabel="GMV"),
        plotting.share_bars(df, "category", ["view_to_cart"], title="Funnel 🧥", xlabel="category"),
        plotting.heatmap_pct(pd.DataFrame([[0.1, 0.2]], index=["Coats 🧥"], columns=["🧣", "week 1"]), title="t",
                             xlabel="x", ylabel="y"),
    ]
    fig, ax = plt.subplots()  # labels set outside the helpers are guarded too
    ax.bar(df["category"], df["gmv"], label="🧥 coats")
    ax.set_title("GMV 🧥 by category")
    ax.legend()
    figs.append(fig)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph ... missing from font(s)" would raise here
        for f in figs:
            f.canvas.draw()
    assert [t.get_text() for t in figs[0].axes[0].get_yticklabels()] == ["Coats", "Dresses", "[scarf]"]
    assert ax.get_title() == "GMV by category" and ax.get_legend().get_texts()[0].get_text() == "coats"
    assert plotting.safe_label("羽绒服 ★ Jeans\n(n=3)") == "羽绒服 ★ Jeans\n(n=3)"  # drawable text is left alone
    for f in figs:
        plt.close(f)
