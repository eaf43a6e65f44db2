#!/usr/bin/env python3
"""Link checker for the built mdBook (stdlib only).

Usage: book_links.py BOOK_OUTPUT_DIR

Checks every href/src of every HTML page: relative targets must exist inside the output folder, and a
#fragment pointing at an HTML page must name an id (or <a name>) on that page. External links
(http, https, mailto, ...) are not fetched: CI must not depend on the network. Also fails when a page
still contains an unexpanded mdBook directive ({{#include ...}}), which happens when an include is
mistyped. Exits 1 and lists every problem as `page: link -> reason`.
"""

import os
import re
import sys
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

LINK_ATTRS = {("a", "href"), ("link", "href"), ("img", "src"), ("script", "src"), ("source", "src")}


class Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids = set()
        self.links = []  # (line, url)
        self.base = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name") if tag == "a" else ("id",):
            if attrs.get(key):
                self.ids.add(attrs[key])
        if tag == "base" and attrs.get("href"):
            self.base = attrs["href"]
        for t, a in LINK_ATTRS:
            if tag == t and attrs.get(a) is not None:
                self.links.append((self.getpos()[0], attrs[a]))

    handle_startendtag = handle_starttag


def parse(path):
    p = Page()
    with open(path, encoding="utf-8") as f:
        text = f.read()
    p.feed(text)
    p.text = text
    return p


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    root = os.path.realpath(sys.argv[1])
    if not os.path.isfile(os.path.join(root, "index.html")):
        print(f"{root}: no index.html (was the book built?)", file=sys.stderr)
        return 1
    pages = {}
    for d, _, files in os.walk(root):
        for name in files:
            if name.endswith(".html"):
                path = os.path.join(d, name)
                pages[path] = parse(path)

    problems = []
    checked = 0
    for path, page in sorted(pages.items()):
        rel_page = os.path.relpath(path, root)
        for m in re.finditer(r"\{\{#\w+[^}]*\}\}", page.text):
            problems.append(f"{rel_page}: unexpanded directive {m.group(0)}")
        for line, url in page.links:
            parts = urlsplit(url)
            if parts.scheme or url.startswith("//"):
                continue  # external: not fetched
            checked += 1
            # A <base href="/"> (mdBook's 404 page) makes relative links resolve from the site root.
            if parts.path.startswith("/"):
                base_dir = root
                target_rel = parts.path.lstrip("/")
            elif page.base and page.base.startswith("/"):
                base_dir = os.path.join(root, page.base.lstrip("/"))
                target_rel = parts.path
            else:
                base_dir = os.path.dirname(path)
                target_rel = parts.path
            target = os.path.realpath(os.path.join(base_dir, unquote(target_rel))) if target_rel else path
            where = f"{rel_page}:{line}: {url}"
            if not (target == root or target.startswith(root + os.sep)):
                problems.append(f"{where} -> points outside the book")
                continue
            if os.path.isdir(target):
                target = os.path.join(target, "index.html")
            if not os.path.exists(target):
                problems.append(f"{where} -> missing {os.path.relpath(target, root)}")
                continue
            frag = unquote(parts.fragment)
            if frag and target.endswith(".html"):
                ids = pages[target].ids if target in pages else parse(target).ids
                if frag not in ids:
                    problems.append(f"{where} -> no id '{frag}' in {os.path.relpath(target, root)}")

    for p in problems:
        print(p)
    print(f"book links: {len(pages)} pages, {checked} internal links checked, {len(problems)} broken")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
