"""Reading a translated column (django-modeltranslation) through a query path.

`grade.name` on an instance already gives the reader's language with the English fallback,
and so do `Grade.objects.values("name")` and `.only("name")`. A path from another model
(`ScoreSnapshot...values("grade_after__name")`, `F("customer__grade_state__grade__name")`)
does not: modeltranslation rewrites only the queries of a registered model, and the plain
`name` column holds whatever language the row was last saved in. Such a query reads
`localized("grade_after__name")` instead (docs/operations.md, "Bilingual data").
"""

from __future__ import annotations

from django.db.models import CharField, F, Value
from django.db.models.functions import Coalesce, NullIf
from modeltranslation.utils import build_localized_fieldname, get_language, resolution_order


def localized(path: str) -> Coalesce:
    """Return the translated column at `path` in the active language, else in its fallbacks.

    An empty string counts as missing, as it does for modeltranslation's descriptor, so a
    Chinese name left blank reads as the English one. NULL when every language is empty.
    """
    columns = [
        NullIf(F(build_localized_fieldname(path, language)), Value(""))
        for language in resolution_order(get_language())
    ]
    # Coalesce needs two arguments: a trailing NULL keeps a single-language order valid.
    return Coalesce(*columns, Value(None), output_field=CharField())
