"""The web page in a real browser: Debian's chromium, driven by Playwright (never its own
browser download). Skipped only when /usr/bin/chromium is absent; `.ci/run` installs it.

    .venv/bin/python -m pytest -m browser -s    # these alone; -s prints the screenshot paths
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import ZEBRA_TEXT
from tests.api.test_server import running_server

CHROMIUM = Path("/usr/bin/chromium")
QUESTION = "How long did phase one of the ceasefire last?"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists() or shutil.which("chromium") is None,
        reason="no /usr/bin/chromium: `apt-get install -y chromium` (.ci/run does)",
    ),
]

if CHROMIUM.exists():
    from playwright.sync_api import Browser, Page, Route, sync_playwright


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1100, "height": 1000})
    opened = context.new_page()
    yield opened
    context.close()


def test_ask_watch_the_answer_stream_and_see_the_cited_sentence_highlighted(
    page: Page, tmp_path: Path
) -> None:
    # 50 ms a word: the answer visibly streams before the final one replaces it.
    with running_server(tmp_path / "server", 0.05) as server:
        expected = httpx.post(f"{server.url}/v1/ask", json={"question": QUESTION}, timeout=30)
        citation = expected.json()["citations"][0]
        document = httpx.get(f"{server.url}/v1/documents/{citation['doc_id']}", timeout=10)
        span = document.json()["text"][citation["start"] : citation["end"]]

        page.goto(server.url)
        page.fill("#question", QUESTION)
        page.click("#ask-button")
        page.wait_for_selector("#answer:not([hidden]):not(:empty)")  # the first words
        streaming = page.text_content("#status")
        page.wait_for_selector("#answer a.cite", timeout=30_000)
        answer = page.text_content("#answer") or ""

        page.click("#answer a.cite >> nth=0")
        mark = page.wait_for_selector("#passage-text mark.cited")
        assert mark is not None
        highlighted = mark.text_content()
        article = page.text_content("#passage-text") or ""
        screenshot = tmp_path / "answer-with-citation.png"
        page.screenshot(path=str(screenshot), full_page=True)

    print(f"\nscreenshot: {screenshot}")
    assert streaming in ("Searching the articles…", "Writing the answer…")
    assert "42" in answer and "[1]" in answer
    assert highlighted == span == citation["text"]
    assert len(article) > len(span)  # the whole article, the cited span marked inside it
    assert page.is_visible("#passage-title")
    assert screenshot.stat().st_size > 10_000


def test_upload_then_delete_a_document(page: Page, tmp_path: Path) -> None:
    article = tmp_path / "zebra.txt"
    article.write_text(ZEBRA_TEXT, encoding="utf-8")
    with running_server(tmp_path / "server", 0.0) as server:
        page.goto(server.url)
        page.wait_for_selector(".documents li")
        before = page.locator(".documents li").count()

        page.set_input_files("#upload-file", str(article))
        page.click("#upload-form button[type=submit]")
        page.wait_for_selector("text=Added: zebra (added).")
        assert page.locator(".documents li").count() == before + 1

        page.once("dialog", lambda dialog: dialog.accept())
        page.click("button[aria-label='Delete zebra']")
        page.wait_for_selector("text=Deleted zebra.")
        listed = httpx.get(f"{server.url}/v1/documents", timeout=10).json()

    assert page.locator(".documents li").count() == before
    assert "zebra" not in {d["doc_id"] for d in listed["documents"]}


def test_errors_are_shown_in_words(page: Page, tmp_path: Path) -> None:
    with running_server(tmp_path / "server", 0.0, "--api-keys", "secret") as server:
        page.goto(server.url)
        page.fill("#question", QUESTION)
        page.click("#ask-button")
        page.wait_for_selector("#status.error")
        refused = page.text_content("#status") or ""

        page.click("#key-section summary")
        page.fill("#api-key", "secret")
        page.press("#api-key", "Enter")
        page.dispatch_event("#api-key", "change")
        page.click("#ask-button")
        page.wait_for_selector("#answer a.cite", timeout=30_000)

    assert "missing or invalid API key" in refused and "401" in refused
    assert "42" in (page.text_content("#answer") or "")


@pytest.mark.parametrize(
    ("path", "rendered"),
    [("/docs", ".swagger-ui .opblock"), ("/redoc", "redoc-wrap, .redoc-wrap")],
    ids=["swagger-ui", "redoc"],
)
def test_the_api_docs_render_with_every_other_site_unreachable(
    page: Page, tmp_path: Path, path: str, rendered: str
) -> None:
    elsewhere: list[str] = []

    def only_this_server(route: Route) -> None:
        if route.request.url.startswith("http://127.0.0.1:"):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_server)
    with running_server(tmp_path / "server", 0.0) as server:
        page.goto(f"{server.url}{path}")
        page.wait_for_selector(rendered, timeout=30_000)
        text = page.text_content("body") or ""

    assert elsewhere == []
    assert "/v1/chat/completions" in text and "/v1/ask" in text
