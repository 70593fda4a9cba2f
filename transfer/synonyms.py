"""How salons and other systems spell the columns Beils imports, beyond the field's own name and
its verbose name in English and Spanish (which :func:`transfer.mapping.resource_targets` adds by
itself): the words a receptionist's Excel or another back office writes at the top of a column.

Keyed by the resource field's attribute (``email``, ``birth_date``…), or by the model's name and
the attribute (``service.name``) for a spelling that means it only there; compared after
:func:`transfer.mapping.normalised`, so accents, case and punctuation do not matter here. A
spelling should name one meaning only: ``"código"`` is a product's SKU and a service's code, which
never share a file.
"""

SYNONYMS: dict[str, tuple[str, ...]] = {
    # People
    "email": ("correo", "correo electrónico", "e-mail", "mail", "email address", "dirección de correo", "emailaddress"),
    "name": ("nombre", "first name", "firstname", "given name", "nombre de pila"),
    "surname": ("apellidos", "apellido", "last name", "lastname", "family name", "primer apellido"),
    "phone": (
        "teléfono",
        "telefono móvil",
        "móvil",
        "movil",
        "celular",
        "mobile",
        "mobile number",
        "phone number",
        "tel",
        "tlf",
        "tfno",
        "telephone",
        "whatsapp",
    ),  # fmt: skip
    "birth_date": ("fecha de nacimiento", "nacimiento", "cumpleaños", "birthday", "date of birth", "dob", "f nac"),
    "postal_code": ("código postal", "cp", "c p", "zip", "zip code", "postcode", "post code"),
    "address": ("dirección", "domicilio", "calle", "street", "address line 1"),
    "city": ("ciudad", "población", "localidad", "municipio", "town"),
    "country": ("país",),
    "gender": ("género", "sexo", "sex"),
    "document_type": ("tipo de documento", "tipo documento", "id type"),
    "document_number": ("dni", "nif", "nie", "documento", "número de documento", "id number", "passport number"),
    "notes": ("notas", "observaciones", "comentarios", "comments", "remarks"),
    "status": ("estado", "activo", "active"),
    # Catalogue
    "sku": ("referencia", "ref", "código", "codigo de producto", "product code", "item code"),
    "code": ("código", "código de servicio", "referencia", "ref", "service code"),
    "barcode": ("código de barras", "ean", "ean13", "upc", "gtin"),
    "price": ("precio", "pvp", "importe", "precio de venta", "sale price", "retail price", "precio con iva"),
    "cost": ("coste", "costo", "precio de coste", "cost price", "supply price"),
    "tax_rate": ("iva", "tipo de iva", "% iva", "vat", "vat rate", "tax"),
    "stock": ("existencias", "unidades", "cantidad", "quantity", "qty", "on hand"),
    "min_stock": ("stock mínimo", "mínimo", "reorder level", "minimum stock"),
    "duration_minutes": ("duración", "minutos", "duración en minutos", "duration", "minutes", "length"),
    "description": ("descripción", "detalle", "details"),
    "category": ("categoría", "familia", "grupo", "group"),
    "subcategory": ("subcategoría", "subfamilia"),
    "brand": ("marca", "fabricante", "manufacturer", "supplier brand"),
    "tags": ("etiquetas",),
    # Only for one kind of record
    "product.name": ("producto", "artículo", "product", "product name", "item", "nombre del producto"),
    "service.name": ("servicio", "tratamiento", "service", "service name", "treatment", "nombre del servicio"),
    "client.name": ("nombre del cliente", "client name", "customer name", "client first name"),
    "client.surname": ("apellidos del cliente", "client last name", "customer last name"),
}
