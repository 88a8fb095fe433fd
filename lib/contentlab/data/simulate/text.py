"""Product and review text for the demo simulator, in English (``en``) and Chinese (``zh``).

Every category has its own vocabulary of nouns, brands, colours, materials and style/feature
phrases; titles, descriptions and reviews are assembled from several interchangeable templates so
the text is varied but always *attribute-bearing*: a title or description names the product's real
colour, material, style and category, and a review mentions real attributes (colour, material, fit,
delivery, value) with wording whose polarity matches its star rating. That is what the generation
stage needs to learn copy from and what its faithfulness scorer checks against.

Category keys (``CATEGORY_KEYS``) are ASCII and locale independent; the ``category`` column of the
products table holds the locale's display name (``category_name(key, locale)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

CATEGORY_KEYS: tuple[str, ...] = (
    "down_jackets", "dresses", "sneakers", "tshirts", "jeans",
    "handbags", "skincare", "bedding", "headphones", "sportswear",
)


@dataclass(frozen=True)
class CategoryVocab:
    name: str
    nouns: tuple[str, ...]
    brands: tuple[str, ...]
    colours: tuple[str, ...]
    materials: tuple[str, ...]
    styles: tuple[str, ...]          # fit / feature phrase (the `style` column)
    features: tuple[str, ...]        # benefit clauses used in descriptions
    occasions: tuple[str, ...]
    median_price: float              # category median list price (currency units)
    price_sigma: float               # log-normal spread of prices inside the category


# ----------------------------------------------------------------------------------------- English
EN: dict[str, CategoryVocab] = {
    "down_jackets": CategoryVocab(
        "Down Jackets", ("down jacket", "puffer jacket", "quilted parka", "down coat"),
        ("Northpeak", "Frostline", "Aurelle", "Harbor"),
        ("black", "navy", "olive", "cream", "burgundy", "silver grey"),
        ("white duck down", "goose down", "recycled nylon shell", "water-repellent polyester"),
        ("lightweight packable", "hooded longline", "cropped boxy", "ultra-warm expedition", "slim quilted"),
        ("keeps you warm well below freezing", "packs into its own pocket", "sheds light rain and snow",
         "traps heat without the bulk", "has a two-way zip and deep hand pockets"),
        ("winter commutes", "weekend hikes", "city breaks", "cold mornings"), 120.0, 0.45),
    "dresses": CategoryVocab(
        "Dresses", ("midi dress", "wrap dress", "slip dress", "shirt dress", "maxi dress"),
        ("Velora", "Aurelle", "Mira", "Solace"),
        ("black", "emerald", "blush pink", "ivory", "cobalt blue", "floral print"),
        ("silk satin", "organic cotton", "linen blend", "flowing viscose", "stretch jersey"),
        ("tie-waist A-line", "fluid bias-cut", "tailored", "relaxed oversized", "puff-sleeve"),
        ("drapes beautifully", "moves with you all day", "is fully lined", "has hidden side pockets",
         "transitions from desk to dinner"),
        ("summer weddings", "date nights", "the office", "garden parties"), 65.0, 0.5),
    "sneakers": CategoryVocab(
        "Sneakers", ("running shoe", "sneaker", "trainer", "court shoe"),
        ("Stride", "Kinetic", "Velora", "Pulse"),
        ("white", "black", "grey", "neon green", "sand beige", "red"),
        ("breathable mesh", "full-grain leather", "recycled knit", "suede"),
        ("cushioned everyday", "lightweight racing", "chunky retro", "minimalist low-top", "high-top"),
        ("cushions every step", "grips on wet pavements", "breathes on long runs",
         "has a padded heel collar", "uses a rebound foam midsole"),
        ("daily runs", "gym sessions", "city walking", "weekend errands"), 85.0, 0.45),
    "tshirts": CategoryVocab(
        "T-Shirts", ("t-shirt", "crew-neck tee", "v-neck tee", "graphic tee"),
        ("Basics & Co", "Lumen", "Kinetic", "Mira"),
        ("white", "black", "heather grey", "navy", "sage green", "mustard yellow"),
        ("organic cotton", "cotton jersey", "bamboo blend", "recycled cotton"),
        ("regular-fit", "relaxed-fit", "slim-fit", "boxy cropped", "longline"),
        ("stays soft wash after wash", "keeps its shape", "layers easily", "feels light on hot days",
         "has reinforced neck seams"),
        ("everyday wear", "lazy Sundays", "travel days", "layering under jackets"), 18.0, 0.4),
    "jeans": CategoryVocab(
        "Jeans", ("jeans", "denim jeans", "five-pocket jeans", "everyday jeans"),
        ("Basics & Co", "Harbor", "Indigo Lane", "Lumen"),
        ("indigo", "light wash", "black", "stone wash", "mid blue"),
        ("stretch denim", "rigid selvedge denim", "organic cotton denim", "recycled denim"),
        ("high-rise straight", "mid-rise slim", "relaxed tapered", "wide-leg", "bootcut"),
        ("holds its shape all day", "softens with every wear", "has a comfortable waistband",
         "pairs with almost anything", "uses low-water dyeing"),
        ("weekends", "casual Fridays", "road trips", "everyday wear"), 45.0, 0.4),
    "handbags": CategoryVocab(
        "Handbags", ("tote bag", "crossbody bag", "shoulder bag", "clutch"),
        ("Aurelle", "Velora", "Mira", "Solace"),
        ("tan", "black", "cognac", "cream", "forest green", "blush pink"),
        ("vegan leather", "pebbled leather", "canvas", "suede"),
        ("structured", "slouchy", "mini", "oversized", "chain-strap"),
        ("fits a 13-inch laptop", "has an adjustable strap", "closes with a magnetic snap",
         "keeps essentials organised with inner pockets", "goes from day to evening"),
        ("the office", "evenings out", "weekend markets", "travel"), 75.0, 0.55),
    "skincare": CategoryVocab(
        "Skincare", ("face serum", "moisturiser", "night cream", "eye cream", "cleanser"),
        ("Lumen", "Solace", "Pure Botanica", "Dermacare"),
        ("white", "clear", "amber", "pale pink"),
        ("hyaluronic acid", "vitamin C", "niacinamide", "ceramides", "retinol"),
        ("deeply hydrating", "fragrance-free", "gentle", "oil-free", "anti-ageing"),
        ("hydrates for 24 hours", "brightens dull skin", "calms redness", "absorbs quickly without residue",
         "smooths fine lines"),
        ("morning routines", "night routines", "winter skin", "travel bags"), 35.0, 0.5),
    "bedding": CategoryVocab(
        "Bedding", ("duvet cover set", "fitted sheet", "pillowcase pair", "quilt"),
        ("Dreamwell", "Harbor", "Basics & Co", "Solace"),
        ("white", "sage green", "dusty pink", "charcoal", "oatmeal"),
        ("cotton sateen", "washed linen", "bamboo lyocell", "brushed cotton"),
        ("400-thread-count", "stonewashed", "crisp percale", "quilted", "oversized"),
        ("stays cool through warm nights", "gets softer with every wash", "resists pilling",
         "closes with hidden buttons", "is easy to iron"),
        ("guest rooms", "summer nights", "cosy winters", "a bedroom refresh"), 55.0, 0.45),
    "headphones": CategoryVocab(
        "Headphones", ("wireless headphones", "earbuds", "over-ear headphones", "sports earphones"),
        ("Pulse", "Sonara", "Kinetic", "Lumen"),
        ("black", "white", "midnight blue", "silver", "rose gold"),
        ("aluminium", "matte plastic", "memory foam cushions", "silicone tips"),
        ("noise-cancelling", "open-back", "sweat-resistant", "foldable", "long-battery"),
        ("lasts 30 hours on a charge", "blocks out commuter noise", "pairs instantly over Bluetooth",
         "stays put during workouts", "delivers deep, clear bass"),
        ("commutes", "workouts", "long flights", "home office calls"), 90.0, 0.6),
    "sportswear": CategoryVocab(
        "Sportswear", ("training leggings", "running shorts", "track jacket", "sports bra", "hoodie"),
        ("Kinetic", "Stride", "Pulse", "Northpeak"),
        ("black", "charcoal", "electric blue", "coral", "khaki"),
        ("quick-dry polyester", "recycled nylon", "brushed fleece", "stretch elastane"),
        ("high-waisted", "seamless", "relaxed-fit", "compression", "zip-through"),
        ("wicks sweat fast", "stretches in every direction", "has a hidden key pocket",
         "stays squat-proof", "keeps you warm on early runs"),
        ("gym sessions", "yoga", "running", "rest days"), 40.0, 0.45),
}

# ----------------------------------------------------------------------------------------- Chinese
ZH: dict[str, CategoryVocab] = {
    "down_jackets": CategoryVocab(
        "羽绒服", ("羽绒服", "羽绒外套", "长款羽绒服", "短款羽绒服"),
        ("北极绒", "雪域", "暖冬", "远山"),
        ("黑色", "白色", "藏青色", "米色", "酒红色", "银灰色"),
        ("白鸭绒", "白鹅绒", "防泼水面料", "再生尼龙"),
        ("轻薄", "连帽", "加厚", "修身", "宽松"),
        ("零下二十度也能保暖", "可收纳进自带口袋", "防风防泼水", "轻盈不臃肿", "双向拉链方便活动"),
        ("冬季通勤", "周末出游", "户外徒步", "寒冷清晨"), 800.0, 0.45),
    "dresses": CategoryVocab(
        "连衣裙", ("连衣裙", "碎花裙", "衬衫裙", "吊带裙", "长裙"),
        ("木槿", "初夏", "悦己", "素语"),
        ("黑色", "白色", "墨绿色", "粉色", "雾霾蓝", "杏色"),
        ("真丝", "纯棉", "亚麻", "雪纺", "针织"),
        ("收腰", "A字", "宽松", "法式", "泡泡袖"),
        ("垂感好", "显瘦百搭", "内衬不透", "带隐形口袋", "通勤约会都合适"),
        ("夏日婚礼", "约会", "日常通勤", "度假"), 320.0, 0.5),
    "sneakers": CategoryVocab(
        "运动鞋", ("运动鞋", "跑步鞋", "板鞋", "休闲鞋"),
        ("步履", "动力", "疾风", "青禾"),
        ("白色", "黑色", "灰色", "荧光绿", "米色", "红色"),
        ("透气网面", "头层牛皮", "飞织面料", "麂皮"),
        ("缓震", "轻量", "复古", "百搭", "高帮"),
        ("脚感柔软回弹", "湿滑路面也防滑", "长跑不闷脚", "鞋跟包裹稳定", "久走不累"),
        ("日常跑步", "健身房", "城市漫步", "周末出行"), 450.0, 0.45),
    "tshirts": CategoryVocab(
        "T恤", ("T恤", "圆领T恤", "短袖T恤", "印花T恤"),
        ("初棉", "青禾", "素语", "动力"),
        ("白色", "黑色", "灰色", "藏青色", "牛油果绿", "姜黄色"),
        ("纯棉", "新疆长绒棉", "竹纤维", "莫代尔"),
        ("宽松", "修身", "落肩", "短款", "基础款"),
        ("洗后不变形", "柔软亲肤", "吸汗透气", "夏天穿很清爽", "领口不易松"),
        ("日常穿搭", "居家", "旅行", "内搭"), 79.0, 0.4),
    "jeans": CategoryVocab(
        "牛仔裤", ("牛仔裤", "牛仔长裤", "五袋牛仔裤", "休闲牛仔裤"),
        ("靛蓝", "初棉", "远山", "素语"),
        ("深蓝色", "浅蓝色", "黑色", "水洗蓝", "烟灰色"),
        ("弹力牛仔布", "纯棉牛仔布", "再生牛仔布", "天丝牛仔"),
        ("高腰", "直筒", "阔腿", "微喇", "修身"),
        ("显腿长", "久坐不勒", "越穿越软", "百搭好配", "不易褪色"),
        ("日常通勤", "周末", "旅行", "约会"), 199.0, 0.4),
    "handbags": CategoryVocab(
        "手提包", ("手提包", "托特包", "斜挎包", "单肩包"),
        ("悦己", "木槿", "素语", "云裳"),
        ("棕色", "黑色", "焦糖色", "米白色", "墨绿色", "粉色"),
        ("头层牛皮", "纳帕皮", "帆布", "植鞣皮"),
        ("大容量", "迷你", "链条", "简约", "复古"),
        ("能装下十三寸电脑", "肩带可调节", "磁吸扣开合方便", "内袋分区收纳", "通勤约会两用"),
        ("通勤", "约会", "逛街", "旅行"), 399.0, 0.55),
    "skincare": CategoryVocab(
        "护肤品", ("精华液", "面霜", "晚霜", "眼霜", "洁面乳"),
        ("润肌", "青禾", "悦己", "素颜"),
        ("白色", "透明", "琥珀色", "淡粉色"),
        ("玻尿酸", "维生素C", "烟酰胺", "神经酰胺", "视黄醇"),
        ("保湿", "无香精", "敏感肌适用", "清爽控油", "抗初老"),
        ("补水保湿一整天", "提亮肤色", "舒缓泛红", "吸收快不黏腻", "淡化细纹"),
        ("早间护肤", "晚间护肤", "秋冬干燥季", "出差旅行"), 220.0, 0.5),
    "bedding": CategoryVocab(
        "床品", ("四件套", "床单", "枕套", "被套"),
        ("云眠", "初棉", "暖冬", "素语"),
        ("白色", "浅绿色", "藕粉色", "深灰色", "燕麦色"),
        ("长绒棉", "水洗亚麻", "天丝", "磨毛棉"),
        ("贡缎", "水洗", "简约", "加厚", "纯色"),
        ("夏天睡着凉爽", "越洗越柔软", "不起球", "隐形拉链设计", "不易起皱"),
        ("客房", "夏夜", "冬季", "卧室焕新"), 299.0, 0.45),
    "headphones": CategoryVocab(
        "耳机", ("无线耳机", "蓝牙耳机", "头戴式耳机", "运动耳机"),
        ("声屿", "动力", "疾风", "云裳"),
        ("黑色", "白色", "午夜蓝", "银色", "玫瑰金"),
        ("铝合金", "磨砂塑料", "记忆棉耳罩", "硅胶耳塞"),
        ("主动降噪", "开放式", "防汗", "可折叠", "长续航"),
        ("续航三十小时", "通勤降噪效果明显", "蓝牙秒连", "运动不掉", "低音浑厚清晰"),
        ("通勤", "运动", "长途飞行", "居家办公"), 499.0, 0.6),
    "sportswear": CategoryVocab(
        "运动服", ("瑜伽裤", "运动短裤", "运动外套", "运动内衣", "卫衣"),
        ("动力", "疾风", "步履", "远山"),
        ("黑色", "深灰色", "电光蓝", "珊瑚色", "卡其色"),
        ("速干面料", "再生尼龙", "摇粒绒", "高弹氨纶"),
        ("高腰", "无缝", "宽松", "紧身", "拉链"),
        ("排汗速干", "四向弹力", "带隐藏钥匙袋", "深蹲不透", "晨跑保暖"),
        ("健身", "瑜伽", "跑步", "休闲"), 189.0, 0.45),
}

VOCAB = {"en": EN, "zh": ZH}


def vocab(locale: str) -> dict[str, CategoryVocab]:
    if locale not in VOCAB:
        raise ValueError(f"unknown locale {locale!r}; expected one of {sorted(VOCAB)}")
    return VOCAB[locale]


def category_name(key: str, locale: str) -> str:
    return vocab(locale)[key].name


# ------------------------------------------------------------------------------------ titles/descr
APPAREL = frozenset({"down_jackets", "dresses", "sneakers", "tshirts", "jeans", "sportswear"})
_PLURAL_NOUNS = frozenset({"jeans", "denim jeans", "five-pocket jeans", "everyday jeans", "wireless headphones",
                           "earbuds", "over-ear headphones", "sports earphones", "training leggings",
                           "running shorts"})
# short selling-point words for Chinese titles, per category (only words true of the category)
_ZH_TAGS = {
    "down_jackets": ("保暖", "轻薄", "防风"), "dresses": ("显瘦", "垂感", "百搭"), "sneakers": ("透气", "轻便", "防滑"),
    "tshirts": ("透气", "柔软", "百搭"), "jeans": ("显瘦", "弹力", "百搭"), "handbags": ("大容量", "百搭", "轻便"),
    "skincare": ("补水", "温和", "清爽"), "bedding": ("亲肤", "柔软", "透气"), "headphones": ("降噪", "长续航", "轻便"),
    "sportswear": ("速干", "透气", "弹力"),
}

_EN_TITLE = (
    "{brand} {style} {colour} {noun}",
    "{brand} {noun} in {colour}, {material}",
    "{Style} {material} {noun} - {colour} | {brand}",
    "{brand} {colour} {material} {noun}",
    "New {brand} {style} {noun} ({colour})",
)
# The base of every description (intro, a material sentence, 0-2 of colour/feature/care) is drawn from the shop's
# stream exactly as it always was, so the template counts of these five slots are fixed (4 or 3 intros, 3 of each
# other): changing them would move every later draw. The aspect sentences (ASPECT_SLOTS) come from the text's own
# stream (see product_texts).
_EN_DESC = {
    "intro": (
        "This {styled} from {brand} is made for {occasion}.",
        "Meet the {brand} {noun}: {a_style} design you will reach for again and again.",
        "{A_styled} that earns its place in your rotation for {occasion}.",
        "{brand} built this {styled} for {occasion}.",
    ),
    "material": (
        "Crafted from {material}, it {feature}.",
        "The {material} construction {feature}.",
        "Made with {material} so it {feature}.",
    ),
    "colour": (
        "The {colour} shade is easy to pair with the rest of your wardrobe.",
        "Choose it in {colour} for a look that stays easy to wear.",
        "In {colour}, it works for {occasion} and beyond.",
    ),
    "feature": (
        "Even better, it {feature2}.",
        "It also {feature2}.",
        "Thoughtful details mean it {feature2}.",
    ),
    "care": (
        "Easy care: follow the label and it will look good for a long time.",
        "Ships in recyclable packaging with free returns.",
        "Simple to look after and easy to love.",
    ),
    # ---- aspects: each has short sentences (a push or a subject line once filled) and longer ones
    "value_short": (
        "A dependable pick at {price}.",
        "Great value for {occasion}.",
        "Everyday value from {brand}.",
        "Smart value that never looks basic.",
        "A smart buy that is easy on the budget.",
    ),
    "value_long": (
        "It brings {material} at an everyday price, so saying yes is easy.",
        "A smart buy for {occasion} that leaves room in your budget.",
        "Worth every penny, it {feature3}.",
        "Good value without cutting corners: it {feature3}.",
    ),
    "quality_short": (
        "Built to last in {material}.",
        "Quality {material}, made to last.",
        "Crafted with care from {material}.",
        "Made to last, with every detail done right.",
    ),
    "quality_long": (
        "Careful craftsmanship and durable {material} mean it keeps its quality season after season.",
        "Quality you can feel: the {material} is chosen to last.",
        "Every detail is finished with care, so it {feature3}.",
    ),
    "novelty_short": (
        "Just launched for the new season.",
        "Fresh for the new season.",
        "The latest {noun} from {brand}.",
        "New in from {brand} this season.",
        "A fresh take on the {noun}.",
    ),
    "novelty_long": (
        "Just launched, this {styled} brings a fresh, on-trend look to {occasion}.",
        "New this season: {a_style} take on the {noun} in {colour}.",
        "On trend for the new season, it {feature3}.",
    ),
    "social_short": (
        "A customer favourite from {brand}.",
        "Shoppers love this one.",
        "Reviewers keep coming back to it.",
        "A customer favourite for {occasion}.",
        "Shoppers love the {colour} shade.",
    ),
    "social_long": (
        "Shoppers love how it {feature3}.",
        "Reviewers rave about the {material} and how it {feature3}.",
        "A popular pick, loved by shoppers for {occasion}.",
    ),
}
_ZH_TITLE = (
    "新款{tag}{noun} {style}{material} {colour}",
    "{brand}{style}{noun} {material} {colour}",
    "{brand} {colour}{material}{noun} {style}款",
    "{style}{colour}{noun} {brand}{material}",
    "新品{brand}{noun} {tag}{material} {colour}",
)
_ZH_DESC = {
    "intro": (
        "这款{brand}{noun}采用{style}设计，适合{occasion}。",
        "{brand}{style}{noun}，{occasion}的理想之选。",
        "这款{style}{noun}，{occasion}用着刚刚好。",
    ),
    "material": (
        "选用{material}，{feature}。",
        "{material}材质，{feature}。",
        "主材为{material}，{feature}。",
    ),
    "colour": (
        "{colour}配色百搭，轻松搭配其他单品。",
        "{colour}简约耐看，不挑人。",
        "这一款为{colour}，日常使用都很合适。",
    ),
    "feature": (
        "细节处理到位，{feature2}。",
        "另外，{feature2}。",
        "贴心设计，{feature2}。",
    ),
    "care": (
        "按说明护理即可长久使用。",
        "环保包装发货，支持七天无理由退换。",
        "日常打理简单省心。",
    ),
    "value_short": (
        "到手价{price}，性价比出众。",
        "价格实惠，品质不打折。",
        "超值好价，入手不亏。",
        "这个价位买到很划算。",
        "{brand}这款{noun}性价比很高。",
    ),
    "value_long": (
        "用{material}的品质，给你日常实惠的价格，{occasion}的划算之选。",
        "花小钱也能买到好物，{feature3}。",
        "实惠不将就，{feature3}。",
    ),
    "quality_short": (
        "{material}用料扎实，经久耐用。",
        "做工精细，品质看得见。",
        "精选{material}，品质可靠。",
        "用心做工，经得起时间考验。",
    ),
    "quality_long": (
        "精选{material}，做工考究，耐用度经得起一季又一季。",
        "品质看得见，每处细节都用心打磨，{feature3}。",
        "匠心做工，{material}耐用不易变形。",
    ),
    "novelty_short": (
        "新季新品，抢先上新。",
        "本季新品，时髦有型。",
        "{brand}新品上市。",
        "当季流行款，潮流必备。",
        "新品首发，{colour}正当季。",
    ),
    "novelty_long": (
        "新季首发，这款{style}{noun}为{occasion}带来潮流新意。",
        "本季新品，{colour}{noun}紧跟流行趋势，{feature3}。",
        "刚刚上新，{brand}用{style}设计诠释当季潮流。",
    ),
    "social_short": (
        "买家好评如潮。",
        "{brand}人气热销款。",
        "回头客很多的{noun}。",
        "大家都在买的{style}{noun}。",
        "买家都说{colour}很好看。",
    ),
    "social_long": (
        "买家都说它{feature3}，好评不断。",
        "人气热销款，很多买家{occasion}都选它。",
        "好评率很高的{noun}，买家称赞{material}手感好。",
    ),
}
ASPECT_SLOTS = ("value", "quality", "novelty", "social")
"""The selling angles description sentences are written from (besides the general intro/feature sentences): price
and value, material and craft, newness and trend, and what other shoppers think (no made-up figures)."""
ASPECT_SHARE = 0.9  # probability that a description speaks to a (non-quality) aspect at all
GENERAL_SHARE = 0.6  # probability that a general sentence (colour, feature, care) the base left out is added


def _article(phrase: str) -> str:
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase


def _noun_phrase(noun: str, style: str | None = None) -> str:
    """'down jacket' -> 'down jacket'; plural nouns become 'pair of ...' so verbs agree."""
    core = f"{style} {noun}" if style else noun
    return f"pair of {core}" if noun in _PLURAL_NOUNS else core


def _aspect_templates(rng: np.random.Generator, desc_t: dict[str, tuple[str, ...]]) -> list[str]:
    """Aspect sentences of one description: per aspect a short sentence and, half the time, a longer one (quality
    always has the base's material sentence, so it gets a short one half the time); an aspect other than quality is
    left out with probability ``1 - ASPECT_SHARE``. Two sentences of one aspect never share a template."""
    out: list[str] = []
    for aspect in ASPECT_SLOTS:
        if aspect != "quality" and rng.random() > ASPECT_SHARE:
            continue
        short, long = desc_t[f"{aspect}_short"], desc_t[f"{aspect}_long"]
        if aspect != "quality" or rng.random() < 0.5:
            out.append(short[rng.integers(len(short))])
        if rng.random() < 0.5:
            out.append(long[rng.integers(len(long))])
    return out


def product_texts(
    rng: np.random.Generator, keys: list[str], prices: np.ndarray, locale: str
) -> list[dict[str, str]]:
    """Title, brand, colour, material, style and a description of about 4-14 sentences for each product.

    A description opens with a general intro, then mixes, in random order, a material sentence, 0-3 general
    sentences (colour, feature, care) and sentences for the selling aspects (:data:`ASPECT_SLOTS`: value, quality,
    novelty, social proof), short ones that fit a push notification and longer ones. ``keys`` are category keys,
    ``prices`` list prices. Every attribute written to the text is the attribute stored in the returned record (no
    attribute of another product leaks in); the price is written only by the one value sentence that names it.
    """
    voc = vocab(locale)
    title_t = _EN_TITLE if locale == "en" else _ZH_TITLE
    desc_t = _EN_DESC if locale == "en" else _ZH_DESC
    slots_optional = ("colour", "feature", "care")
    # the aspect sentences come from the text's own stream: drawing them from the shop's stream would move every
    # later draw (events, ratings), and changing the copy must not change the shop
    text_rng = rng.spawn(1)[0]
    out: list[dict[str, str]] = []
    for key, price in zip(keys, prices):
        v = voc[key]
        noun = v.nouns[rng.integers(len(v.nouns))]
        brand = v.brands[rng.integers(len(v.brands))]
        colour = v.colours[rng.integers(len(v.colours))]
        material = v.materials[rng.integers(len(v.materials))]
        style = v.styles[rng.integers(len(v.styles))]
        f1, f2 = rng.choice(len(v.features), size=2, replace=False)
        occasion = v.occasions[rng.integers(len(v.occasions))]
        tags = _ZH_TAGS[key]
        styled = _noun_phrase(noun, style)
        fields = dict(
            noun=noun, brand=brand, colour=colour, material=material, style=style, Style=style[:1].upper() + style[1:],
            feature=v.features[f1], feature2=v.features[f2], occasion=occasion,
            price=f"${price:.2f}" if locale == "en" else f"¥{price:.0f}",
            styled=styled, A_styled=_article(styled)[0].upper() + _article(styled)[1:],
            a_style=_article(style), tag=tags[rng.integers(len(tags))],
        )
        title = title_t[rng.integers(len(title_t))].format(**fields)
        # the base: intro + material, then 0-2 of the optional slots in random order (the shop's stream)
        n_extra = int(rng.integers(0, 3))
        extra = [slots_optional[i] for i in rng.permutation(len(slots_optional))[:n_extra]]
        base = [desc_t[slot][rng.integers(len(desc_t[slot]))] for slot in ("intro", "material", *extra)]
        # the general sentences the base left out, each most of the time: a blurb of one aspect has enough to say
        base += [desc_t[slot][text_rng.integers(len(desc_t[slot]))] for slot in slots_optional
                 if slot not in extra and text_rng.random() < GENERAL_SHARE]
        # aspect sentences name the features the base did not, a different one each while they last
        rest = [v.features[i] for i in text_rng.permutation(len(v.features)) if i not in (f1, f2)]
        body = base[1:] + _aspect_templates(text_rng, desc_t)
        order = text_rng.permutation(len(body))
        sentences = []
        for tmpl in [base[0], *(body[i] for i in order)]:
            if "{feature3}" in tmpl:
                fields["feature3"] = rest[0]
                rest = rest[1:] + rest[:1]
            sentence = tmpl.format(**fields)
            sentences.append(sentence[0].upper() + sentence[1:] if locale == "en" else sentence)
        sep = " " if locale == "en" else ""
        out.append(dict(
            title=title[0].upper() + title[1:] if locale == "en" else title,
            brand=brand, colour=colour, material=material, style=style,
            description=sep.join(sentences), noun=noun, noun_phrase=_noun_phrase(noun) if locale == "en" else noun,
            apparel=key in APPAREL,
        ))
    return out


# ----------------------------------------------------------------------------------------- reviews
_EN_REVIEW = {
    "colour": {
        "pos": ("Love the {colour} colour, exactly as pictured.", "The {colour} looks even better in person.",
                "Great shade of {colour}, goes with everything."),
        "neg": ("The {colour} looks duller than in the photos.", "Colour is off: the {colour} is not what I expected.",
                "The {colour} faded after the first wash."),
    },
    "material": {
        "pos": ("The {material} feels premium and well made.", "Really nice {material}, soft and sturdy.",
                "Quality {material}, you can tell it will last."),
        "neg": ("The {material} feels cheap and thin.", "Disappointed with the {material}, it wore out fast.",
                "The {material} is rough and not as described."),
    },
    "design": {
        "pos": ("The {style} design is exactly as described.", "Really happy with the {style} design.",
                "Exactly the {style} {noun} I was looking for."),
        "neg": ("Not really {style} as advertised.", "The {style} design is a letdown.",
                "Expected a properly {style} {noun}, this is not it."),
    },
    "size": {
        "pos": ("True to size and comfortable all day.", "Fits perfectly, ordered my usual size.",
                "The fit is spot on."),
        "neg": ("Runs small, had to size up.", "Sizing is inconsistent, sent it back for another size.",
                "The fit is awkward and tight in places."),
    },
    "delivery": {
        "pos": ("Delivery was fast, arrived in {fast_days} days.", "Arrived quickly and well packaged.",
                "Quick delivery, only {fast_days} days."),
        "neg": ("Delivery took {slow_days} days, far too long.", "Parcel arrived late and the box was damaged.",
                "Shipping was slow, {slow_days} days to arrive."),
    },
    "value": {
        "pos": ("Great value for the price.", "Worth every penny for {a_noun} like this.",
                "Good price for this quality."),
        "neg": ("Overpriced for what you get.", "Not worth the money for {a_noun}.",
                "Too expensive for this quality."),
    },
    "overall": {
        "pos": ("Would definitely buy this {noun} again.", "Very happy with this {noun}.",
                "Highly recommend it to friends."),
        "neg": ("I am returning this {noun}.", "Would not buy this {noun} again.",
                "Really regret this purchase."),
        "mid": ("It is an okay {noun}, nothing special.", "Average {noun}, does the job.",
                "Mixed feelings about this {noun}."),
    },
}
_ZH_REVIEW = {
    "colour": {
        "pos": ("{colour}很正，和图片一样。", "{colour}实物比图片还好看。", "这个{colour}很百搭。"),
        "neg": ("{colour}有色差，比图片暗。", "{colour}和描述不一样，有点失望。", "用了没多久{colour}就褪色了。"),
    },
    "material": {
        "pos": ("{material}手感很好，做工精细。", "{material}质量不错，很舒服。", "{material}质感好，看得出很耐用。"),
        "neg": ("{material}很薄，感觉很廉价。", "{material}不耐用，质量一般。", "{material}粗糙，和描述不符。"),
    },
    "design": {
        "pos": ("{style}的设计和描述一致。", "很喜欢这个{style}设计。", "就是想要的{style}效果。"),
        "neg": ("并没有宣传的那么{style}。", "{style}设计让人失望。", "说是{style}，实际差很多。"),
    },
    "size": {
        "pos": ("尺码标准，穿着舒服。", "按平时尺码买的，很合身。", "版型很好，上身效果不错。"),
        "neg": ("尺码偏小，建议拍大一码。", "尺码不准，只好退换。", "版型很奇怪，有的地方太紧。"),
    },
    "delivery": {
        "pos": ("物流很快，{fast_days}天就到了。", "发货快，包装完好。", "快递给力，{fast_days}天送达。"),
        "neg": ("物流太慢，等了{slow_days}天。", "快递晚到，盒子还压坏了。", "发货很慢，{slow_days}天才收到。"),
    },
    "value": {
        "pos": ("性价比很高。", "这个价格买到这样的{noun}很值。", "价格实惠，质量不错。"),
        "neg": ("价格偏贵，不值这个钱。", "这个{noun}不值这个价。", "太贵了，质量配不上价格。"),
    },
    "overall": {
        "pos": ("还会回购这款{noun}。", "对这款{noun}非常满意。", "推荐给朋友了。"),
        "neg": ("准备退货了。", "不会再买这款{noun}了。", "很后悔买了这个。"),
        "mid": ("这款{noun}还行，中规中矩。", "{noun}一般般，能用。", "对这款{noun}感觉一般。"),
    },
}


def review_text(rng: np.random.Generator, rating: int, attrs: dict[str, Any], locale: str) -> str:
    """A 1-3 sentence review whose wording matches ``rating`` (>=4 positive, <=2 negative, 3 mixed).

    ``attrs`` holds the product's ``colour``, ``material``, ``style``, ``noun`` (and ``apparel``:
    whether sizing comments make sense). Sentences mention those real attributes, or delivery and
    value; positive and negative sentence banks never share a sentence.
    """
    bank = _EN_REVIEW if locale == "en" else _ZH_REVIEW
    aspects_all = ["colour", "material", "design", "delivery", "value"] + (["size"] if attrs.get("apparel") else [])
    n = int(rng.integers(1, 4))
    aspects = [aspects_all[i] for i in rng.permutation(len(aspects_all))[:n]]
    noun = attrs.get("noun_phrase", attrs["noun"])
    fields = dict(colour=attrs["colour"], material=attrs["material"], style=attrs["style"], noun=noun,
                  a_noun=_article(noun), fast_days=int(rng.integers(1, 5)), slow_days=int(rng.integers(8, 16)))
    sentences = []
    for j, a in enumerate(aspects):
        if rating >= 4:
            pol = "pos"
        elif rating <= 2:
            pol = "neg"
        else:  # 3 stars: a good point and a bad point
            pol = "pos" if j % 2 == 0 else "neg"
        opts = bank[a][pol]
        sentences.append(opts[rng.integers(len(opts))].format(**fields))
    if len(sentences) < 3 and (rng.random() < 0.5 or (rating == 3 and len(sentences) == 1)):
        pol = "pos" if rating >= 4 else "neg" if rating <= 2 else "mid"
        opts = bank["overall"][pol]
        sentences.append(opts[rng.integers(len(opts))].format(**fields))
    return (" " if locale == "en" else "").join(sentences)
