"""Reads an Atom feed from stdin with feedparser (a feed reader no one here wrote) and checks what RFC 4287 requires
of it; prints what a reader sees as JSON, or exits 1 naming each violation.

RFC 4287 (section 4.1.1, 4.1.2): a feed has exactly one atom:id, atom:title and atom:updated, and an atom:author
unless every entry has one; it should have a link rel="self". Each entry has exactly one atom:id, atom:title and
atom:updated, and a summary when it has no content. Ids are IRIs and unique across entries; dates are RFC 3339.
"""
import json
import re
import sys
import xml.etree.ElementTree as ET

import feedparser

ATOM = "{http://www.w3.org/2005/Atom}"
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")

text = sys.stdin.read()
problems = []
parsed = feedparser.parse(text)
if parsed.bozo:
    problems.append(f"feedparser could not read it cleanly: {parsed.bozo_exception!r}")
if parsed.version != "atom10":
    problems.append(f"feedparser reads it as {parsed.version!r}, not Atom 1.0")

# Cardinality is checked on the document itself: feedparser forgives duplicates and absences.
root = ET.fromstring(text)
if root.tag != ATOM + "feed":
    problems.append(f"the root element is {root.tag}, not atom:feed")


def exactly_one(element, name, where):
    found = element.findall(ATOM + name)
    if len(found) != 1:
        problems.append(f"{where} has {len(found)} atom:{name} elements; RFC 4287 requires exactly one")
        return None
    return (found[0].text or "").strip()


def dated(value, where):
    if value is not None and not RFC3339.match(value):
        problems.append(f"{where}: updated {value!r} is not an RFC 3339 date-time")


feed_id = exactly_one(root, "id", "the feed")
exactly_one(root, "title", "the feed")
dated(exactly_one(root, "updated", "the feed"), "the feed")
if feed_id is not None and not IRI.match(feed_id):
    problems.append(f"the feed's id {feed_id!r} is not an IRI")
if not any(l.get("rel") == "self" for l in root.findall(ATOM + "link")):
    problems.append("the feed has no link rel=\"self\" (RFC 4287 4.1.1: SHOULD)")
entries = root.findall(ATOM + "entry")
feed_author = root.find(ATOM + "author") is not None
ids = []
for n, entry in enumerate(entries, 1):
    where = f"entry {n}"
    entry_id = exactly_one(entry, "id", where)
    exactly_one(entry, "title", where)
    dated(exactly_one(entry, "updated", where), where)
    if entry_id is not None:
        ids.append(entry_id)
        if not IRI.match(entry_id):
            problems.append(f"{where}: id {entry_id!r} is not an IRI")
    if not feed_author and entry.find(ATOM + "author") is None:
        problems.append(f"{where} has no atom:author and neither does the feed")
    if entry.find(ATOM + "content") is None and entry.find(ATOM + "summary") is None:
        problems.append(f"{where} has neither content nor summary")
    author = entry.find(ATOM + "author")
    if author is not None and author.find(ATOM + "name") is None:
        problems.append(f"{where}: atom:author without atom:name")
if len(ids) != len(set(ids)):
    problems.append("two entries share an id")
if feed_author and root.find(ATOM + "author").find(ATOM + "name") is None:
    problems.append("the feed's atom:author has no atom:name")

if problems:
    for p in problems:
        print(p, file=sys.stderr)
    sys.exit(1)

# What a reader shows, from feedparser's reading.
print(json.dumps({
    "id": parsed.feed.get("id"),
    "title": parsed.feed.get("title"),
    "updated": parsed.feed.get("updated"),
    "entries": [
        {
            "id": e.get("id"),
            "title": e.get("title"),
            "summary": e.get("summary"),
            "updated": e.get("updated"),
            "categories": [t.get("term") for t in e.get("tags", [])],
            "links": [l.get("href") for l in e.get("links", [])],
        }
        for e in parsed.entries
    ],
}))
