"""The catalogue: tags, brands, categories, services, products and packs."""

from decimal import Decimal

from beils.lib.models import Status
from beils.lib.money import round_money
from catalog.models import Brand, Category, Pack, PackItem, Product, Service, Subcategory, Tag
from demo.builders.salon import Salon

CATALOGUE = {
    "Facial": ["Limpieza", "Antiedad", "Hidratación"],
    "Corporal": ["Masajes", "Reductores", "Aparatología"],
    "Manos y pies": ["Manicura", "Pedicura"],
    "Depilación": ["Cera", "Láser"],
    "Cosmética": ["Cremas", "Sérums", "Solares"],
}
BRANDS = ["Lumière Lab", "Aloe Botanics", "Mar Nostrum Cosmetics", "Piel Sana", "Nordic Skin", "Oro Verde"]
TAGS = [("Vegano", "#15803d"), ("Novedad", "#2563eb"), ("Oferta", "#dc2626"), ("Bio", "#65a30d"),
        ("Sin parabenos", "#7c3aed"), ("Piel sensible", "#db2777"), ("Best seller", "#ea580c")]  # fmt: skip
SERVICES = [
    # name, category, price, minutes
    ("Limpieza facial profunda", "Facial", "45.00", 60), ("Tratamiento antiedad", "Facial", "65.00", 75),
    ("Hidratación intensiva", "Facial", "50.00", 60), ("Peeling químico", "Facial", "70.00", 45),
    ("Masaje relajante", "Corporal", "40.00", 50), ("Masaje descontracturante", "Corporal", "48.00", 60),
    ("Presoterapia", "Corporal", "30.00", 40), ("INDIBA corporal", "Corporal", "75.00", 60),
    ("Radiofrecuencia facial", "Facial", "60.00", 45), ("Manicura clásica", "Manos y pies", "15.00", 30),
    ("Manicura semipermanente", "Manos y pies", "22.00", 45), ("Pedicura spa", "Manos y pies", "30.00", 50),
    ("Depilación piernas completas", "Depilación", "28.00", 40), ("Depilación axilas", "Depilación", "9.00", 15),
    ("Láser diodo axilas", "Depilación", "39.00", 20), ("Láser diodo piernas", "Depilación", "120.00", 60),
    ("Diseño de cejas", "Facial", "12.00", 20), ("Lifting de pestañas", "Facial", "45.00", 60),
]  # fmt: skip
PRODUCT_KINDS = [
    ("Crema hidratante", "Cremas", "24.90"), ("Sérum vitamina C", "Sérums", "32.50"), ("Contorno de ojos", "Cremas", "27.00"),
    ("Protector solar SPF50", "Solares", "19.90"), ("Aceite corporal", "Cremas", "21.00"), ("Agua micelar", "Cremas", "12.50"),
    ("Sérum ácido hialurónico", "Sérums", "29.90"), ("Exfoliante facial", "Cremas", "16.80"),
]  # fmt: skip
PACKS = [
    # name, services (none: the first three active products), price
    ("Pack novia", ["Limpieza facial profunda", "Manicura semipermanente", "Diseño de cejas"], "79.00"),
    ("Pack relax", ["Masaje relajante", "Hidratación intensiva"], "80.00"),
    ("Pack verano", ["Depilación piernas completas", "Pedicura spa"], "52.00"),
    ("Pack cuidado en casa", [], "49.90"),
]


def build_catalogue(salon: Salon) -> None:
    """Everything the salon sells: ``salon.services``, ``salon.active_products``, ``salon.packs``."""
    tags = salon.put(Tag, [Tag(name=n, color=c, is_demo=True) for n, c in TAGS])
    brands = salon.put(Brand, [Brand(name=n, is_demo=True) for n in BRANDS])
    categories = {c.name: c for c in salon.put(Category, [Category(name=n, is_demo=True) for n in CATALOGUE])}
    subcategories = salon.put(
        Subcategory,
        [Subcategory(category=categories[c], name=s, is_demo=True) for c, subs in CATALOGUE.items() for s in subs],
    )
    salon.services = salon.put(
        Service,
        [
            Service(name=name, code=f"SRV-{i:03d}", category=categories[cat], price=Decimal(price),
                    duration_minutes=minutes, description=f"{name} ({minutes} min).", is_demo=True)
            for i, (name, cat, price, minutes) in enumerate(SERVICES, 1)
        ],
    )  # fmt: skip
    products = _build_products(salon, brands, categories["Cosmética"], {s.name: s for s in subcategories})
    salon.active_products = [p for p in products if p.status == Status.ON]
    Through = Product.tags.through
    salon.put(Through, [Through(product=p, tag=t) for p in products for t in salon.rng.sample(tags, 2)])
    _build_packs(salon)


def _build_products(salon: Salon, brands: list[Brand], category: Category, subcategories: dict) -> list[Product]:
    """Every product kind in every brand; one in seventeen is withdrawn."""
    products = []
    for i, brand in enumerate(brands):
        for j, (kind, sub, price) in enumerate(PRODUCT_KINDS):
            n = i * len(PRODUCT_KINDS) + j + 1
            products.append(
                Product(
                    name=f"{kind} {brand.name}", sku=f"BLS-{n:04d}", barcode=f"84{n:011d}",
                    category=category, subcategory=subcategories[sub], brand=brand,
                    price=Decimal(price), cost=round_money(Decimal(price) * Decimal("0.45")),
                    stock=salon.rng.randint(0, 40), min_stock=salon.rng.choice([3, 5, 8]), is_demo=True,
                    status=Status.OFF if n % 17 == 0 else Status.ON,
                )
            )  # fmt: skip
    return salon.put(Product, products)


def _build_packs(salon: Salon) -> None:
    by_name = {s.name: s for s in salon.services}
    salon.packs = salon.put(
        Pack,
        [
            Pack(name=n, code=f"PCK-{i:02d}", price=Decimal(p), description=n, is_demo=True)
            for i, (n, _, p) in enumerate(PACKS, 1)
        ],
    )
    lines = []
    for pack, (_, services, _) in zip(salon.packs, PACKS, strict=True):
        lines += [PackItem(pack=pack, service=by_name[s], quantity=1, is_demo=True) for s in services]
        if not services:
            lines += [PackItem(pack=pack, product=p, quantity=1, is_demo=True) for p in salon.active_products[:3]]
    salon.put(PackItem, lines)
