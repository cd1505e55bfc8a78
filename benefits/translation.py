"""Benefit and growth-task fields kept in every site language (django-modeltranslation;
docs/operations.md, "Bilingual data"): `benefit.name` gives the reader's language, English
when that column is empty."""

from modeltranslation.translator import TranslationOptions, translator

from benefits.models import Benefit, GrowthTask


class BenefitTranslationOptions(TranslationOptions):
    fields = ("name", "description")
    required_languages = ("en",)


class GrowthTaskTranslationOptions(TranslationOptions):
    fields = ("name", "description")
    required_languages = ("en",)


translator.register(Benefit, BenefitTranslationOptions)
translator.register(GrowthTask, GrowthTaskTranslationOptions)
