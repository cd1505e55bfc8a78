"""Grade fields kept in every site language (django-modeltranslation; docs/operations.md,
"Bilingual data").

`name`, `description` and `service_level` become `name_en`, `name_zh_hans`, ...; reading
`grade.name` gives the reader's language, English when that column is empty. The grade's
history is registered here, after the translation columns exist, so the historical rows keep
both languages (django-simple-history's documented way of working with modeltranslation).
"""

from modeltranslation.translator import TranslationOptions, translator
from simple_history import register as register_history

from grading.models import Grade


class GradeTranslationOptions(TranslationOptions):
    fields = ("name", "description", "service_level")
    required_languages = ("en",)


translator.register(Grade, GradeTranslationOptions)
register_history(Grade)
