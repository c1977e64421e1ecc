"""The web page and the API docs are served from the package: nothing loads from elsewhere."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from api.page import STATIC_DIR
from tests.api.conftest import AppFactory

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.I)
ASSET = re.compile(r"""(?:src|href)\s*=\s*["'](/[^"']+)["']""", re.I)


def test_the_page_and_its_assets_are_served_with_a_self_only_policy(
    make_app: AppFactory,
) -> None:
    with TestClient(make_app()) as http:
        page = http.get("/")
        assets = [http.get(path) for path in ASSET.findall(page.text)]

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert EXTERNAL.search(page.text) is None
    assert {"/static/app.js", "/static/style.css"} <= set(ASSET.findall(page.text))
    assert all(asset.status_code == 200 and asset.content for asset in assets)


def test_no_static_file_names_another_site() -> None:
    for path in STATIC_DIR.iterdir():
        text = path.read_text(encoding="utf-8")
        assert re.search(r"https?://", text) is None, path.name


def test_docs_and_redoc_load_their_scripts_from_this_server(make_app: AppFactory) -> None:
    with TestClient(make_app()) as http:
        pages = {path: http.get(path) for path in ("/docs", "/redoc")}
        for path, page in pages.items():
            assert page.status_code == 200, path
            assert re.search(r"https?://", page.text) is None, (path, page.text)
            # The browser is told so too: a bundle's own link elsewhere (ReDoc's logo) is blocked.
            assert "default-src 'self'" in page.headers["content-security-policy"], path
            scripts = ASSET.findall(page.text)
            assert scripts, path
            for asset in scripts:
                served = http.get(asset)
                assert served.status_code == 200, asset
                assert len(served.content) > 1000, asset  # the real bundle, not a stub


def test_the_page_is_open_when_the_api_needs_a_key(make_app: AppFactory) -> None:
    with TestClient(make_app(api_keys="k")) as http:
        assert http.get("/").status_code == 200
        assert http.get("/static/app.js").status_code == 200
        assert http.get("/v1/documents").status_code == 401
