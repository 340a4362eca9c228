"""The vocabulary the catalog generator draws from: a category taxonomy, product types, attributes and option axes.

Each :class:`QuerySpec` is one leaf of the taxonomy: a search query (WebShop's ``query`` field), the three-level
category path (``product_category``, joined with ``" › "``), the product-type noun phrases that share the query's
head noun, an attribute pool (the spec's own attributes plus its top-level category's shared ones), option axes with
their values, and a price range in US dollars.

Constraints the generator relies on (checked by ``tests/test_webshop_catalog.py``):

- no two attributes of a pool are a fuzzy match of each other (``token_set_ratio <= 85``), and none is a substring
  of another, so a product that lacks an attribute cannot score it by accident;
- within an option axis, values are pairwise distinct under the reward's option rule (colour normalisation, then
  ``token_set_ratio <= 85``), and no value of a non-colour axis contains a colour word;
- two specs of the same top-level category under different second-level nodes share at most one path level, so a
  product of one is a "different product type" for a goal of the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["BRANDS", "CATEGORY_ATTRIBUTES", "FILLER_SENTENCES", "QUERY_SPECS", "QuerySpec"]


@dataclass(frozen=True)
class QuerySpec:
    """One leaf of the taxonomy: what products found by ``query`` look like."""

    category: str  # top-level category: WebShop's ``category`` and the task type
    path: tuple[str, str, str]  # product_category levels, top first
    query: str
    types: tuple[str, ...]  # product-type noun phrases, each containing the query's head noun
    attributes: tuple[str, ...]
    options: dict[str, tuple[str, ...]] = field(default_factory=dict)
    price: tuple[float, float] = (5.0, 60.0)
    specs: tuple[str, ...] = ()  # neutral title fragments (sizes, counts) that carry no attribute


#: Attributes shared by every spec of a top-level category (mixed into each spec's pool).
CATEGORY_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "beauty": ("cruelty free", "travel size", "paraben free"),
    "electronics": ("wireless charging", "fast shipping", "easy installation"),
    "fashion": ("machine washable", "quick drying", "relaxed fit"),
    "food": ("gluten free", "non gmo", "ready to eat"),
    "furniture": ("assembly required", "space saving", "solid wood"),
}

_COLORS_A = ("black", "white", "navy", "burgundy", "olive", "beige")
_COLORS_B = ("gray", "pink", "teal", "ivory", "purple", "brown")
_SIZES = ("small", "medium", "large", "xl", "xxl")

QUERY_SPECS: tuple[QuerySpec, ...] = (
    # ---- beauty -------------------------------------------------------------------------------------------------
    QuerySpec(
        "beauty",
        ("Beauty & Personal Care", "Hair Care", "Hair Extensions & Wigs"),
        "hair extensions",
        ("clip in hair extension", "tape in hair extension", "ponytail hair extension"),
        ("natural looking", "heat resistant", "double weft", "tangle free", "remy human hair"),
        {"color": ("black", "brown", "beige", "burgundy", "gray"), "length": ("14in", "18in", "22in")},
        (12.0, 90.0),
        ("7 Pieces", "Full Head Set"),
    ),
    QuerySpec(
        "beauty",
        ("Beauty & Personal Care", "Hair Care", "Shampoo & Conditioner"),
        "shampoo",
        ("moisturizing shampoo", "clarifying shampoo", "volumizing shampoo"),
        ("sulfate free", "dry scalp relief", "argan oil", "color safe", "dandruff control"),
        {"size": ("8 fl oz", "16 fl oz", "33 fl oz"), "scent": ("coconut", "lavender", "citrus", "unscented")},
        (6.0, 45.0),
        ("Salon Formula",),
    ),
    QuerySpec(
        "beauty",
        ("Beauty & Personal Care", "Skin Care", "Face Moisturizers"),
        "face moisturizer",
        ("daily face moisturizer", "night cream moisturizer", "gel moisturizer"),
        ("hyaluronic acid", "fragrance free", "oil free", "sensitive skin", "spf protection"),
        {"size": ("1.7 oz", "3.4 oz"), "pack": ("single", "twin pack", "trio")},
        (9.0, 70.0),
        ("Dermatologist Tested",),
    ),
    QuerySpec(
        "beauty",
        ("Beauty & Personal Care", "Skin Care", "Sunscreens"),
        "sunscreen lotion",
        ("mineral sunscreen lotion", "sport sunscreen lotion", "kids sunscreen lotion"),
        ("water resistant", "reef safe", "zinc oxide", "non greasy", "broad spectrum"),
        {"size": ("3 oz", "6 oz", "10 oz"), "spf": ("spf 30", "spf 50", "spf 70")},
        (7.0, 40.0),
        ("Lightweight Lotion",),
    ),
    QuerySpec(
        "beauty",
        ("Beauty & Personal Care", "Makeup", "Lip Makeup"),
        "lipstick",
        ("matte lipstick", "liquid lipstick", "lipstick set"),
        ("long lasting", "vegan formula", "highly pigmented", "smudge proof", "vitamin e"),
        {"color": ("pink", "purple", "burgundy", "beige", "brown"), "pack": ("single", "twin pack", "trio")},
        (5.0, 35.0),
        ("Full Size",),
    ),
    # ---- electronics --------------------------------------------------------------------------------------------
    QuerySpec(
        "electronics",
        ("Electronics", "Headphones", "Earbud Headphones"),
        "wireless earbuds",
        ("bluetooth earbuds", "sport earbuds", "noise cancelling earbuds"),
        ("active noise cancellation", "long battery life", "ipx7 waterproof", "touch control", "built in microphone"),
        {"color": ("black", "white", "navy", "pink", "teal")},
        (15.0, 150.0),
        ("Stereo Sound",),
    ),
    QuerySpec(
        "electronics",
        ("Electronics", "Headphones", "Over-Ear Headphones"),
        "over ear headphones",
        ("studio headphones", "gaming headphones", "foldable headphones"),
        ("memory foam cushions", "detachable cable", "hi res audio", "surround sound", "lightweight design"),
        {"color": ("black", "white", "gray", "purple")},
        (20.0, 200.0),
        ("40mm Drivers",),
    ),
    QuerySpec(
        "electronics",
        ("Electronics", "Computer Accessories", "Phone Chargers"),
        "usb c charger",
        ("usb c wall charger", "usb c car charger", "usb c charging station"),
        ("gan technology", "overheat protection", "foldable plug", "dual port", "power delivery"),
        {"wattage": ("20w", "45w", "65w", "100w"), "pack": ("single", "twin pack")},
        (8.0, 60.0),
        ("Universal Compatibility",),
    ),
    QuerySpec(
        "electronics",
        ("Electronics", "Computer Accessories", "Keyboards"),
        "mechanical keyboard",
        ("mechanical gaming keyboard", "compact mechanical keyboard", "ergonomic mechanical keyboard"),
        ("rgb backlit", "hot swappable switches", "anti ghosting", "aluminum frame", "detachable wrist rest"),
        {"switch": ("red switch", "brown switch", "blue switch"), "layout": ("full size", "tenkeyless", "60 percent")},
        (30.0, 180.0),
        ("USB Wired",),
    ),
    QuerySpec(
        "electronics",
        ("Electronics", "Home Audio", "Bluetooth Speakers"),
        "bluetooth speaker",
        ("portable bluetooth speaker", "outdoor bluetooth speaker", "mini bluetooth speaker"),
        ("deep bass", "shockproof body", "stereo pairing", "built in microphone", "floating design"),
        {"color": ("black", "navy", "teal", "gray", "white")},
        (15.0, 130.0),
        ("360 Degree Sound",),
    ),
    # ---- fashion ------------------------------------------------------------------------------------------------
    QuerySpec(
        "fashion",
        ("Clothing, Shoes & Jewelry", "Men", "Men's Shirts"),
        "men's dress shirt",
        ("slim fit dress shirt", "button down dress shirt", "oxford dress shirt"),
        ("wrinkle free", "stretch fabric", "long sleeve", "spread collar", "cotton blend"),
        {"color": _COLORS_A, "size": _SIZES},
        (15.0, 70.0),
        ("Business Casual",),
    ),
    QuerySpec(
        "fashion",
        ("Clothing, Shoes & Jewelry", "Men", "Men's Shoes"),
        "men's running shoes",
        ("road running shoes", "trail running shoes", "walking running shoes"),
        ("breathable mesh", "arch support", "non slip sole", "cushioned insole", "lace up closure"),
        {"color": ("black", "white", "navy", "gray", "olive"), "size": ("8", "9", "10", "11", "12")},
        (30.0, 140.0),
        ("Athletic Sneakers",),
    ),
    QuerySpec(
        "fashion",
        ("Clothing, Shoes & Jewelry", "Women", "Women's Dresses"),
        "women's summer dress",
        ("floral summer dress", "maxi summer dress", "wrap summer dress"),
        ("short sleeve", "v neck", "flowy hem", "side pockets", "elastic waist"),
        {"color": _COLORS_B, "size": _SIZES},
        (18.0, 80.0),
        ("Casual Beach Sundress",),
    ),
    QuerySpec(
        "fashion",
        ("Clothing, Shoes & Jewelry", "Women", "Women's Leggings"),
        "women's yoga leggings",
        ("high waisted yoga leggings", "capri yoga leggings", "fleece lined yoga leggings"),
        ("tummy control", "squat proof", "four way stretch", "hidden pocket", "moisture wicking"),
        {"color": ("black", "navy", "gray", "olive", "purple"), "size": _SIZES},
        (12.0, 55.0),
        ("Workout Pants",),
    ),
    QuerySpec(
        "fashion",
        ("Clothing, Shoes & Jewelry", "Accessories", "Wallets"),
        "leather wallet",
        ("bifold leather wallet", "trifold leather wallet", "card holder leather wallet"),
        ("rfid blocking", "genuine leather", "slim profile", "gift box", "id window"),
        {"color": ("black", "brown", "navy", "burgundy")},
        (10.0, 60.0),
        ("Minimalist",),
    ),
    # ---- food ---------------------------------------------------------------------------------------------------
    QuerySpec(
        "food",
        ("Grocery & Gourmet Food", "Snack Foods", "Nuts & Seeds"),
        "mixed nuts",
        ("roasted mixed nuts", "trail mix nuts", "salted mixed nuts"),
        ("low sodium", "resealable bag", "high protein", "keto friendly", "individually wrapped"),
        {"size": ("8 ounce", "16 ounce", "2 pound"), "pack": ("single", "twin pack", "six pack")},
        (6.0, 40.0),
        ("Snack Pack",),
    ),
    QuerySpec(
        "food",
        ("Grocery & Gourmet Food", "Snack Foods", "Granola & Protein Bars"),
        "protein bars",
        ("whey protein bars", "plant based protein bars", "chocolate protein bars"),
        ("low sugar", "high fiber", "no artificial sweeteners", "dairy free", "soy free"),
        {"flavor": ("peanut butter", "cookie dough", "salted caramel", "almond"), "count": ("12 count", "24 ct")},
        (10.0, 50.0),
        ("On the Go Snack",),
    ),
    QuerySpec(
        "food",
        ("Grocery & Gourmet Food", "Beverages", "Coffee"),
        "ground coffee",
        ("dark roast ground coffee", "medium roast ground coffee", "decaf ground coffee"),
        ("fair trade", "usda organic", "single origin", "arabica beans", "low acid"),
        {"size": ("12 oz", "24 oz", "2 lb"), "grind": ("fine grind", "coarse grind", "drip grind")},
        (7.0, 45.0),
        ("Fresh Roasted",),
    ),
    QuerySpec(
        "food",
        ("Grocery & Gourmet Food", "Beverages", "Tea"),
        "green tea",
        ("matcha green tea", "jasmine green tea", "sencha green tea"),
        ("caffeine free", "loose leaf", "antioxidant rich", "compostable bags", "cold brew"),
        {"count": ("20 bags", "48 bags", "100 bags"), "flavor": ("mint", "lemon", "honey", "original")},
        (5.0, 35.0),
        ("Premium Blend",),
    ),
    QuerySpec(
        "food",
        ("Grocery & Gourmet Food", "Pantry Staples", "Pasta"),
        "pasta",
        ("spaghetti pasta", "penne pasta", "fusilli pasta"),
        ("whole wheat", "bronze cut", "high protein", "vegan", "quick cook"),
        {"size": ("1 lb", "2 lb"), "pack": ("single", "six pack", "twelve pack")},
        (3.0, 30.0),
        ("Italian Style",),
    ),
    # ---- furniture ----------------------------------------------------------------------------------------------
    QuerySpec(
        "furniture",
        ("Home & Kitchen", "Living Room Furniture", "Coffee Tables"),
        "coffee table",
        ("lift top coffee table", "round coffee table", "storage coffee table"),
        ("storage shelf", "industrial style", "tempered glass top", "metal frame", "easy clean"),
        {"color": ("black", "white", "brown", "gray"), "finish": ("oak", "walnut finish", "espresso")},
        (40.0, 300.0),
        ("Living Room Centerpiece",),
    ),
    QuerySpec(
        "furniture",
        ("Home & Kitchen", "Living Room Furniture", "Bookcases"),
        "bookshelf",
        ("ladder bookshelf", "corner bookshelf", "cube bookshelf"),
        ("adjustable shelves", "anti tip kit", "five tier", "open back", "modern design"),
        {"color": ("black", "white", "brown", "gray")},
        (35.0, 250.0),
        ("Display Rack",),
    ),
    QuerySpec(
        "furniture",
        ("Home & Kitchen", "Bedroom Furniture", "Nightstands"),
        "nightstand",
        ("bedside nightstand", "floating nightstand", "nightstand with drawer"),
        ("usb charging port", "soft close drawer", "mid century", "rattan accents", "led light"),
        {"color": ("black", "white", "brown", "navy"), "pack": ("single", "set of 2")},
        (30.0, 180.0),
        ("Bedroom End Table",),
    ),
    QuerySpec(
        "furniture",
        ("Home & Kitchen", "Bedroom Furniture", "Bed Frames"),
        "bed frame",
        ("platform bed frame", "upholstered bed frame", "metal bed frame"),
        ("no box spring needed", "under bed storage", "noise free", "headboard included", "heavy duty slats"),
        {"size": ("twin", "full", "queen", "king")},
        (90.0, 450.0),
        ("Sturdy Foundation",),
    ),
    QuerySpec(
        "furniture",
        ("Home & Kitchen", "Home Office Furniture", "Office Chairs"),
        "office chair",
        ("ergonomic office chair", "mesh office chair", "executive office chair"),
        ("lumbar support", "adjustable armrests", "high back", "swivel base", "breathable back"),
        {"color": ("black", "gray", "white", "brown")},
        (50.0, 350.0),
        ("Desk Chair",),
    ),
)

#: Invented brand names used in titles (never real trademarks).
BRANDS: tuple[str, ...] = (
    "Aerlune", "Bravik", "Calmora", "Dunvale", "Elkora", "Fennix", "Glintra", "Harlow & Finch", "Ivomar", "Juniva",
    "Kestrel Lane", "Lumora", "Marvost", "Norvane", "Olvenn", "Pellora", "Quintara", "Rivolta", "Sundara", "Tavelle",
    "Umbrio", "Velloro", "Wrenfield", "Xandro", "Yellowfin Co", "Zephra",
)  # fmt: skip

#: Neutral description sentences: they mention no attribute of any pool. ``{type}`` is the product type.
FILLER_SENTENCES: tuple[str, ...] = (
    "This {type} is designed for everyday use at home or on the go.",
    "Each {type} is inspected before it leaves our facility.",
    "Our team builds every {type} with care and attention to detail.",
    "A thoughtful gift for family and friends.",
    "Please check the size chart and product details before ordering.",
    "Customer service is available if you have any questions about this {type}.",
    "Packaging may vary from the images shown.",
    "Enjoy a better experience with this {type}.",
)
