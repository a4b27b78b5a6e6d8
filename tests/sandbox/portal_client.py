"""A browser-like client of the claims portal for the tests, and the test constants.

The page objects read the HTML the way the robots do (ids, data attributes), with the
standard library's parser so the tests need nothing the portal itself does not. (A module
with its own name, not conftest.py, so test modules can import it unambiguously.)
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser

import httpx

PASSWORD = "correct horse battery"
ADMIN_TOKEN = "admin-token-for-tests"
OPEN_CLAIMS = 40
CLOSED_CLAIMS = 200
LATE_ARRIVALS = 5
VOID_TAGS = {"meta", "input", "br", "hr", "img", "link"}
# Plain HTTP on loopback never uses TLS, but httpx builds (and loads CA files into) a
# context per client unless given one: share a single context to keep fixtures fast.
TLS_CONTEXT = ssl.create_default_context()


@dataclass
class Node:
    """An element of a parsed page."""

    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    def text(self) -> str:
        """The element's text content, exactly as served (no stripping)."""
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self) -> Iterator[Node]:
        """This element and every element below it, in document order."""
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.iter()

    def find_all(self, tag: str | None = None, **attrs: str | None) -> list[Node]:
        """Elements with ``tag`` whose attributes match (None: the attribute is present)."""
        found = []
        for node in self.iter():
            if tag is not None and node.tag != tag:
                continue
            if all(
                name in node.attrs and (value is None or node.attrs[name] == value)
                for name, value in attrs.items()
            ):
                found.append(node)
        return found

    def by_id(self, element_id: str) -> Node | None:
        """The element with this id, or None."""
        matches = self.find_all(id=element_id)
        return matches[0] if matches else None


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {name: value or "" for name, value in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID_TAGS:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse_html(text: str) -> Node:
    """Parse a page into a small element tree."""
    builder = _TreeBuilder()
    builder.feed(text)
    builder.close()
    return builder.root


@dataclass
class ListPage:
    """What a robot reads from one claims list page."""

    claim_ids: list[str]
    cells: list[list[str]]
    headers: list[str]
    page: int
    pages: int
    next_href: str | None
    prev_href: str | None


class PortalUser:
    """A browser-like client of the portal (cookies kept between requests)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(
            base_url=url, follow_redirects=False, timeout=10, verify=TLS_CONTEXT
        )

    def close(self) -> None:
        self.http.close()

    def login(self, username: str = "clerk", password: str = PASSWORD) -> httpx.Response:
        return self.http.post("/login", data={"username": username, "password": password})

    def list_page(self, path: str = "/claims", **params: str | int) -> ListPage:
        response = self.http.get(path, params=params or None)
        assert response.status_code == 200, response.text
        doc = parse_html(response.text)
        table = doc.by_id("claims")
        assert table is not None
        rows = table.find_all("tr", **{"data-claim-id": None})
        info = doc.by_id("page-info")
        assert info is not None
        next_link, prev_link = doc.by_id("next-page"), doc.by_id("prev-page")
        return ListPage(
            claim_ids=[row.attrs["data-claim-id"] for row in rows],
            cells=[[td.text() for td in row.find_all("td")] for row in rows],
            headers=[th.text() for th in table.find_all("th")],
            page=int(info.attrs["data-page"]),
            pages=int(info.attrs["data-pages"]),
            next_href=None if next_link is None else next_link.attrs["href"],
            prev_href=None if prev_link is None else prev_link.attrs["href"],
        )

    def detail(self, claim_id: str) -> tuple[dict[str, str], Node]:
        response = self.http.get(f"/claims/{claim_id}")
        assert response.status_code == 200, response.text
        doc = parse_html(response.text)
        details = doc.by_id("claim-details")
        assert details is not None
        fields = {dd.attrs["data-field"]: dd.text() for dd in details.find_all("dd")}
        return fields, doc

    def ask_decision(self, claim_id: str, action: str) -> httpx.Response:
        return self.http.post(f"/claims/{claim_id}/decision", data={"action": action})

    def confirm_form(self, claim_id: str, action: str) -> dict[str, str]:
        """Ask for a decision and return the confirmation form's fields."""
        response = self.ask_decision(claim_id, action)
        assert response.status_code == 200, response.text
        doc = parse_html(response.text)
        form = doc.by_id("confirm-form")
        assert form is not None
        return {i.attrs["name"]: i.attrs["value"] for i in form.find_all("input")}

    def confirm(self, claim_id: str, form: dict[str, str]) -> httpx.Response:
        return self.http.post(f"/claims/{claim_id}/decision/confirm", data=form)
