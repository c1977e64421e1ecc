"""Loading: the contract's doc_id and title rules, every accepted format, bad files skipped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from index.errors import DocumentError
from index.loaders import load_documents, make_document, parse_upload
from tests.index.helpers import SEED_IDS, SEEDS

HTML = """<!doctype html><html><head><title>Truce talks | The Daily Site</title>
<script>var tracking = "Leave a Reply";</script><style>p { color: red }</style></head>
<body><header><a href="/">The Daily Site</a> Home World Sport</header>
<nav><ul><li>World</li><li>Politics</li></ul></nav>
<article><header><h1>Truce talks resume in Cairo</h1></header>
<p>Negotiators met in Cairo on Monday,
   officials <b>said</b>, to discuss a new truce.</p>
<p>The talks lasted six hours.<br>No deal was announced.</p></article>
<aside>Most read: something else</aside>
<footer>Copyright 2025 The Daily Site. Privacy policy.</footer></body></html>"""


def test_seed_documents_follow_the_contract() -> None:
    result = load_documents([SEEDS])
    assert result.failures == []
    assert [d.doc_id for d in result.documents] == SEED_IDS
    for doc in result.documents:
        raw = (SEEDS / f"{doc.doc_id}.txt").read_text(encoding="utf-8")
        first = next(line.strip() for line in raw.splitlines() if line.strip())
        assert doc.title == first
        assert doc.text.splitlines()[0] == first  # the stored text still opens with the title
        assert doc.source is not None and Path(doc.source).name == f"{doc.doc_id}.txt"


def test_html_keeps_the_article_and_drops_page_furniture(tmp_path: Path) -> None:
    (tmp_path / "truce.html").write_text(HTML, encoding="utf-8")
    [doc] = load_documents([tmp_path]).documents
    assert doc.doc_id == "truce"
    assert doc.title == "Truce talks resume in Cairo"
    assert doc.text.splitlines()[0] == doc.title
    assert "Negotiators met in Cairo on Monday, officials said, to discuss a new truce." in doc.text
    assert "The talks lasted six hours. No deal was announced." in doc.text
    for furniture in ("tracking", "color", "Home World Sport", "Politics", "Most read", "Privacy"):
        assert furniture not in doc.text


def test_jsonl_loads_good_lines_and_reports_bad_ones(tmp_path: Path) -> None:
    lines = [
        json.dumps(
            {
                "doc_id": "a1",
                "title": "Aid convoy",
                "text": "Trucks entered Gaza on Sunday.",
                "published": "2025-03-02",
                "url": "https://example.org/a1",
            }
        ),
        "{not json",
        json.dumps({"doc_id": "a2", "title": "No text here"}),
        json.dumps({"title": "Talks", "text": "Talks resumed in Doha on Monday."}),
    ]
    path = tmp_path / "feed.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = load_documents([path])
    docs = {d.doc_id: d for d in result.documents}
    assert docs["a1"].published == "2025-03-02" and docs["a1"].url == "https://example.org/a1"
    assert docs["a1"].title == "Aid convoy" and docs["a1"].text == "Trucks entered Gaza on Sunday."
    generated = [d for d in result.documents if d.doc_id not in ("a1",)]
    assert len(generated) == 1 and generated[0].doc_id.startswith("doc-")
    assert [where for where, _ in result.failures] == [f"{path}:2", f"{path}:3"]


def test_unreadable_files_are_reported_by_name_and_skipped(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("Good title\n\nA fine sentence here.\n", encoding="utf-8")
    (tmp_path / "latin1.txt").write_bytes("Caf\xe9 title\n".encode("latin-1"))
    (tmp_path / "binary.md").write_bytes(b"\x00\x01\x02garbage")
    (tmp_path / "empty.txt").write_text("\n \n", encoding="utf-8")
    (tmp_path / "notes.pdf").write_bytes(b"%PDF-1.4")  # not an accepted type: not even looked at
    nested = tmp_path / "more" / "deeper"
    nested.mkdir(parents=True)
    (nested / "inner.md").write_text("# Inner title\n\nSome text.\n", encoding="utf-8")
    result = load_documents([tmp_path, tmp_path / "missing.txt"])
    assert sorted(d.doc_id for d in result.documents) == ["good", "inner"]
    assert next(d.title for d in result.documents if d.doc_id == "inner") == "Inner title"
    failed = {Path(path).name: reason for path, reason in result.failures}
    assert set(failed) == {"latin1.txt", "binary.md", "empty.txt", "missing.txt"}
    assert "UTF-8" in failed["latin1.txt"] and "binary" in failed["binary.md"]


def test_parse_upload_and_make_document() -> None:
    [doc] = parse_upload("report.md", b"Ceasefire report\n\nThe truce held.\n")
    assert (doc.doc_id, doc.title, doc.source) == ("report", "Ceasefire report", None)
    with pytest.raises(DocumentError, match="unsupported"):
        parse_upload("report.exe", b"MZ")
    with pytest.raises(DocumentError):
        parse_upload("bad.jsonl", b"{oops\n")
    first = make_document("Same title\n\nSame body text.")
    again = make_document("Same title\n\nSame body text.")
    assert first.doc_id == again.doc_id  # ids from content hashes: re-adding is a no-op
    assert make_document("x y z", title="Given").title == "Given"
    with pytest.raises(DocumentError):
        make_document("   \n")
    with pytest.raises(DocumentError, match="doc_id"):
        make_document("text", doc_id="../etc/passwd")


def test_a_nul_byte_anywhere_marks_a_file_as_binary(tmp_path: Path) -> None:
    text = "Late binary\n\n" + "A plain sentence of the article. " * 200  # ~6.6 kB of text
    (tmp_path / "late.txt").write_bytes(text.encode() + b"\x00\x01\x02 trailing bytes")
    result = load_documents([tmp_path])
    assert result.documents == []
    assert [(Path(p).name, reason) for p, reason in result.failures] == [
        ("late.txt", "binary file, not text")
    ]
    with pytest.raises(DocumentError, match="binary"):
        parse_upload("late.txt", text.encode() + b"\x00")


def test_control_characters_never_reach_the_stored_text() -> None:
    doc = make_document("Zebra\x00 study\n\nCity\x1b engineers\x07 said so.", title="A\x00 title")
    assert not any(ch in doc.text + doc.title for ch in "\x00\x1b\x07")
    assert doc.text.startswith("Zebra study") and "City engineers said so." in doc.text
    with pytest.raises(DocumentError, match="no text"):
        make_document("\x00\x01 \x02")


def test_a_doc_id_twice_in_one_jsonl_keeps_the_first_and_names_both_lines(tmp_path: Path) -> None:
    lines = [
        {"doc_id": "a1", "text": "First story."},
        {"doc_id": "a2", "text": "Second story."},
        {"doc_id": "a1", "text": "A different first story."},
    ]
    path = tmp_path / "feed.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines), encoding="utf-8")
    result = load_documents([path])
    assert [(d.doc_id, d.text) for d in result.documents] == [
        ("a1", "First story."),
        ("a2", "Second story."),
    ]
    assert result.failures == [(f"{path}:3", "duplicate doc_id 'a1' (first on line 1)")]
    with pytest.raises(
        DocumentError, match=r"feed.jsonl:3: duplicate doc_id 'a1' \(first on line 1\)"
    ):
        parse_upload("feed.jsonl", path.read_bytes())


def test_file_names_give_safe_nfc_doc_ids(tmp_path: Path) -> None:
    (tmp_path / "cafe\u0301.txt").write_text("Café opens\n\nA café opened.", encoding="utf-8")
    (tmp_path / "evil\u202etxt.md").write_text("# Evil\n\nHidden name.", encoding="utf-8")
    (tmp_path / "...txt").write_text("Dots\n\nOnly dots.", encoding="utf-8")
    result = load_documents([tmp_path])
    assert [d.doc_id for d in result.documents] == ["café"]
    failed = {Path(path).name: reason for path, reason in result.failures}
    assert "RIGHT-TO-LEFT OVERRIDE" in failed["evil\u202etxt.md"]
    assert "only dots" in failed["...txt"]


@pytest.mark.parametrize(
    "filename",
    ["../../etc/passwd.txt", "..\\..\\boot.ini.txt", "/abs/path.txt", "sub/dir.md"],
)
def test_an_uploaded_file_name_with_folders_is_refused(filename: str) -> None:
    with pytest.raises(DocumentError, match="folders"):
        parse_upload(filename, b"Title\n\nBody text.")


def test_an_upload_without_a_known_suffix_is_read_by_its_media_type() -> None:
    [doc] = parse_upload("notes", b"Plain notes\n\nSome text.", "text/plain; charset=utf-8")
    assert (doc.doc_id, doc.title) == ("notes", "Plain notes")
    jsonl = b'{"doc_id": "j1", "text": "A line."}\n'
    assert [d.doc_id for d in parse_upload("feed", jsonl, "application/x-ndjson")] == ["j1"]
    with pytest.raises(DocumentError, match="unsupported file type"):
        parse_upload("notes", b"text", "application/octet-stream")


def test_jsonl_fields_must_be_strings(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    path.write_text(json.dumps({"doc_id": 7, "text": "Seven."}), encoding="utf-8")
    assert load_documents([path]).failures == [(f"{path}:1", '"doc_id" must be a string')]
