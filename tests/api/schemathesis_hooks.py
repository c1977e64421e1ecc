"""What a valid uploaded file holds, for schemathesis: JSON Schema can name the accepted media
types of a multipart part (``/openapi.json`` does) but not describe a valid article or JSONL line.

    SCHEMATHESIS_HOOKS=tests.api.schemathesis_hooks schemathesis run URL/openapi.json --checks all

Without these, schemathesis sends random bytes as ``text/plain`` and rightly counts the 422 for
"not UTF-8 text" against the schema it cannot read that rule from.
"""

from __future__ import annotations

import html
import json

import schemathesis
from hypothesis import strategies as st

# Any text but the NUL byte (which marks a file as binary) and lone surrogates (not encodable).
_noise = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=40)
_word = st.sampled_from(["Zebra", "crossings", "truce", "talks", "aid", "Doha", "42", "Monday"])
_sentence = st.lists(_word, min_size=2, max_size=8).map(lambda words: " ".join(words) + ".")
_article = st.builds(
    lambda title, noise, body: f"{title}\n\n{noise} {body}", _sentence, _noise, _sentence
)
_doc_id = st.text("abcdefghij0123456789-_", min_size=1, max_size=12)


@st.composite
def _jsonl(draw: st.DrawFn) -> bytes:
    ids = draw(st.lists(_doc_id, min_size=1, max_size=3, unique=True))
    lines = [json.dumps({"doc_id": f"st-{i}", "text": draw(_article)}) for i in ids]
    return "\n".join(lines).encode()


schemathesis.openapi.media_type("text/plain", _article.map(str.encode))
schemathesis.openapi.media_type("text/markdown", _article.map(lambda a: f"# {a}".encode()))
schemathesis.openapi.media_type(
    "text/html",
    _article.map(
        lambda a: f"<html><body><article><p>{html.escape(a)}</p></article></body></html>".encode()
    ),
)
schemathesis.openapi.media_type("application/jsonl", _jsonl(), aliases=["application/x-ndjson"])
