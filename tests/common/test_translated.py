"""Translated data columns (django-modeltranslation) and `common.translated.localized`:
English and Chinese columns, the English fallback, and query paths from other models."""

from __future__ import annotations

import pytest
from django.utils import translation

from benefits.models import Benefit, GrowthTask
from common.translated import localized
from grading.models import CustomerGrade, Grade
from tests.grading.factories import CustomerGradeFactory, grade


@pytest.mark.django_db
def test_the_seeded_rows_have_english_and_chinese_columns():
    growth = grade("growth")
    shipping = Benefit.objects.get(code="free-shipping")
    profile = GrowthTask.objects.get(code="complete_profile")

    assert (growth.name_en, growth.name_zh_hans) == ("Growth", "成长客户")
    assert growth.service_level_zh_hans == "8 小时内首次响应"
    assert (shipping.name_en, shipping.name_zh_hans) == ("Free shipping", "免运费")
    assert shipping.description_zh_hans == "每月最多 4 笔订单免运费。"
    assert (profile.name_en, profile.name_zh_hans) == ("Complete the profile", "完善资料")


@pytest.mark.django_db
def test_a_name_reads_the_active_language_and_falls_back_to_english():
    silver = Grade.objects.create(code="silver", name="Silver", rank=9)
    silver.refresh_from_db()

    with translation.override("zh-hans"):
        assert silver.name == "Silver"  # no Chinese yet: English
        assert silver.name_en == "Silver"
        silver.name_zh_hans = "白银客户"
        silver.save()
        assert Grade.objects.get(code="silver").name == "白银客户"
        assert Grade.objects.filter(code="silver").values_list("name", flat=True)[0] == "白银客户"
    with translation.override("en"):
        assert Grade.objects.get(code="silver").name == "Silver"


@pytest.mark.django_db
def test_a_row_created_under_chinese_still_gets_its_english_column():
    with translation.override("zh-hans"):
        gold = Grade.objects.create(code="gold", name="黄金客户", rank=10)

    gold.refresh_from_db()
    assert gold.name_en == "黄金客户"  # English is required: the given name fills it
    assert gold.name_zh_hans == "黄金客户"


@pytest.mark.django_db
def test_localized_reads_a_translated_column_through_another_model():
    state = CustomerGradeFactory(grade=grade("key"))
    grade_row = grade("key")
    rows = CustomerGrade.objects.filter(pk=state.pk)

    with translation.override("zh-hans"):
        chinese = rows.values_list(localized("grade__name"), flat=True).get()
    with translation.override("en"):
        english = rows.values_list(localized("grade__name"), flat=True).get()
    grade_row.name_zh_hans = ""
    grade_row.save()
    with translation.override("zh-hans"):
        fallback = rows.values_list(localized("grade__name"), flat=True).get()

    assert (chinese, english, fallback) == ("重点客户", "Key", "Key")
