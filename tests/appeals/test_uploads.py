"""Evidence uploads: type by content, bounded size and count, archives and executables
refused with clear messages, and nothing stored (no row, no file) when anything is refused."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from appeals.evidence import UnsupportedContent, detect_content_type, private_storage
from appeals.models import Appeal, Evidence
from tests.appeals.conftest import stored_files
from tests.appeals.factories import csv_file, exe_renamed, pdf, png, xlsx, zip_archive


def _post(client, account, change, files):
    client.force_login(account.user)
    return client.post(
        reverse("portal:appeal_new", args=[change.pk]),
        {"reason": "The downgrade ignores our prepaid contract.", "evidence": files},
    )


@pytest.mark.parametrize(
    ("upload", "expected"),
    [
        (pdf(), "application/pdf"),
        (png(), "image/png"),
        (SimpleUploadedFile("a.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 20), "image/jpeg"),
        (SimpleUploadedFile("a.gif", b"GIF89a" + b"\x00" * 20), "image/gif"),
        (SimpleUploadedFile("a.webp", b"RIFF\x24\x00\x00\x00WEBPVP8 "), "image/webp"),
        (xlsx(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (csv_file(), "text/csv"),
        (xlsx("renamed.pdf"), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ],
)
def test_content_type_comes_from_the_bytes(upload, expected):
    assert detect_content_type(upload) == expected
    assert upload.tell() == 0


@pytest.mark.parametrize(
    ("upload", "reason"),
    [
        (exe_renamed(), "executable"),
        (SimpleUploadedFile("x.pdf", b"\x7fELF\x02\x01" + b"\x00" * 40), "executable"),
        (SimpleUploadedFile("run.csv", b"#!/bin/sh\nrm -rf /,\n"), "executable"),
        (zip_archive(), "archive"),
        (zip_archive("renamed.pdf"), "archive"),
        (SimpleUploadedFile("x.pdf", b"\x1f\x8b\x08\x00" + b"\x00" * 20), "archive"),
        (SimpleUploadedFile("x.pdf", b"<html><script>alert(1)</script>"), "not a PDF"),
        (SimpleUploadedFile("x.csv", b"\x00\x01\x02binary"), "not a PDF"),
    ],
)
def test_hostile_content_is_refused_with_a_reason(upload, reason):
    with pytest.raises(UnsupportedContent) as refused:
        detect_content_type(upload)
    assert reason in refused.value.reason


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("files", "message"),
    [
        pytest.param([exe_renamed()], "it is an executable program", id="exe-renamed-pdf"),
        pytest.param([zip_archive("evidence.pdf")], "archives are not accepted", id="zip-as-pdf"),
        pytest.param([zip_archive()], "archives are not accepted", id="zip"),
        pytest.param([pdf(size=6 * 1024 * 1024)], "is too large", id="oversized"),
        pytest.param([pdf(f"p{i}.pdf") for i in range(6)], "at most 5 files", id="six-files"),
        pytest.param([pdf(), exe_renamed("second.pdf")], "second.pdf", id="one-bad-of-two"),
    ],
)
def test_hostile_uploads_are_refused_and_nothing_is_stored(
    client, carol, carols_change, private_root, files, message
):
    response = _post(client, carol, carols_change, files)

    assert response.status_code == 200  # the form again, with the error
    assert message in response.content.decode()
    assert not Appeal.objects.exists()
    assert not Evidence.objects.exists()
    assert stored_files(private_root) == []


@pytest.mark.django_db
def test_good_uploads_are_stored_privately_under_random_names(
    client, carol, carols_change, private_root
):
    response = _post(client, carol, carols_change, [pdf(), png(), xlsx(), csv_file()])

    appeal = Appeal.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:appeal_detail", args=[appeal.pk])
    evidence = list(appeal.evidence.order_by("id"))
    assert [e.original_name for e in evidence] == [
        "invoice.pdf",
        "photo.png",
        "orders.xlsx",
        "orders.csv",
    ]
    files = stored_files(private_root)
    assert len(files) == 4
    for item in evidence:
        assert "invoice" not in item.stored_name
        assert "." not in item.stored_name.split("/")[-1]
        assert (private_root / item.stored_name).exists()
    assert oct(files[0].stat().st_mode & 0o777) == "0o600"


def test_private_storage_has_no_url():
    with pytest.raises(ValueError, match="no URL"):
        private_storage.url("evidence/abc")
    assert private_storage.base_url is None


@pytest.mark.django_db
def test_a_failure_after_storing_removes_the_files(carol, carols_change, private_root, monkeypatch):
    from appeals import services

    def boom(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "_event_record", boom)

    with pytest.raises(RuntimeError):
        services.appeal_file(
            customer=carol.customer,
            change_id=carols_change.pk,
            reason="r",
            files=[pdf(), io.BytesIO(b"%PDF-1.7 raw stream")],
            by=carol.user,
        )

    assert not Appeal.objects.exists()
    assert stored_files(private_root) == []


@pytest.mark.django_db
def test_an_oversized_file_is_dropped_while_uploading(client, carol, carols_change, settings):
    settings.APPEAL_EVIDENCE_MAX_BYTES = 1000

    response = _post(client, carol, carols_change, [pdf("big.pdf", size=400_000), png()])

    assert "“big.pdf” is too large (the limit is 1000\xa0bytes)." in response.content.decode()
    assert not Appeal.objects.exists()


@pytest.mark.django_db
def test_the_appeal_form_still_checks_csrf(carol, carols_change):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(carol.user)

    response = client.post(
        reverse("portal:appeal_new", args=[carols_change.pk]), {"reason": "r", "evidence": [pdf()]}
    )

    assert response.status_code == 403
    assert not Appeal.objects.exists()
