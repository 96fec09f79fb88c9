"""What search engines and link previews read from a page: the meta description, the canonical
link, Open Graph and Twitter cards, and schema.org JSON-LD (NewsArticle with its BreadcrumbList,
Person, WebSite), built from the same data the page shows."""

from __future__ import annotations

from typing import Any

import orjson
from markupsafe import Markup

from api import urls

DESCRIPTION_LENGTH = 160


def script_json(value: Any) -> Markup:
    """`value` as JSON that is safe inside <script> (the site's queries, JSON-LD): no `<`, `>`
    or `&` can close the element."""
    text = orjson.dumps(value).decode()
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def _json_ld(value: dict[str, Any]) -> Markup:
    return script_json({"@context": "https://schema.org", **value})


def summary(story: dict[str, Any]) -> str:
    """The standfirst, else the first paragraph, cut at a word within DESCRIPTION_LENGTH."""
    text = story.get("dek") or next(
        (b["text"] for b in story.get("body", ()) if b["__typename"] == "Paragraph"), ""
    )
    text = " ".join(text.split())
    if len(text) <= DESCRIPTION_LENGTH:
        return text
    return text[: DESCRIPTION_LENGTH - 1].rsplit(" ", 1)[0] + "…"


def organization(base: str, site_name: str) -> dict[str, Any]:
    return {"@type": "NewsMediaOrganization", "name": site_name, "url": base + "/"}


def article(base: str, site_name: str, story: dict[str, Any]) -> dict[str, Any]:
    """The template values that describe a story: description, canonical, cards, JSON-LD."""
    url = base + urls.article_path(story["slug"])
    description = summary(story)
    section = story["section"]
    section_url = base + urls.section_path(section["slug"])
    keywords = [topic["name"] for topic in story["topics"]]
    authors = [
        {"@type": "Person", "name": a["name"], "url": base + urls.author_path(a["slug"])}
        for a in story["authors"]
    ]
    news = {
        "@type": "NewsArticle",
        "mainEntityOfPage": {"@type": "WebPage", "@id": url},
        "url": url,
        "headline": story["title"][:110],
        "description": description,
        "datePublished": story["publishedAt"],
        "dateModified": story["updatedAt"] or story["publishedAt"],
        "author": authors or organization(base, site_name),
        "publisher": organization(base, site_name),
        "articleSection": section["name"],
        "keywords": keywords,
        "inLanguage": "en",
        "mentions": [
            {
                "@type": "Person",
                "name": m["person"]["name"],
                "url": base + urls.person_path(m["person"]["slug"]),
                **({"jobTitle": m["role"]} if m["role"] else {}),
            }
            for m in story["people"]
        ],
    }
    if story.get("corrections"):
        news["correction"] = [
            {"@type": "CorrectionComment", "text": note["text"], "datePublished": note["createdAt"]}
            for note in story["corrections"]
        ]
    breadcrumbs = {
        "@type": "BreadcrumbList",
        "itemListElement": [
            {"@type": "ListItem", "position": 1, "name": "Home", "item": base + "/"},
            {"@type": "ListItem", "position": 2, "name": section["name"], "item": section_url},
            {"@type": "ListItem", "position": 3, "name": story["title"], "item": url},
        ],
    }
    open_graph = [
        ("og:type", "article"),
        ("og:site_name", site_name),
        ("og:title", story["title"]),
        ("og:description", description),
        ("og:url", url),
        ("article:published_time", story["publishedAt"]),
        ("article:modified_time", story["updatedAt"] or story["publishedAt"]),
        ("article:section", section["name"]),
        *(("article:tag", keyword) for keyword in keywords),
    ]
    twitter = [
        ("twitter:card", "summary"),
        ("twitter:title", story["title"]),
        ("twitter:description", description),
    ]
    picture = story.get("leadImage")
    if picture:
        # Open Graph readers want one large JPEG, with its size and its description.
        news["image"] = {
            "@type": "ImageObject",
            "url": picture["large"],
            "caption": picture["caption"] or picture["alt"],
            **({"creditText": picture["credit"]} if picture["credit"] else {}),
        }
        open_graph += [
            ("og:image", picture["large"]),
            ("og:image:alt", picture["alt"]),
        ]
        twitter[0] = ("twitter:card", "summary_large_image")
        twitter += [("twitter:image", picture["large"]), ("twitter:image:alt", picture["alt"])]
    return {
        "description": description,
        "canonical": url,
        "open_graph": open_graph,
        "twitter": twitter,
        "structured_data": [_json_ld(news), _json_ld(breadcrumbs)],
    }


def person(base: str, found: dict[str, Any]) -> Markup:
    value: dict[str, Any] = {
        "@type": "Person",
        "name": found["name"],
        "url": base + urls.person_path(found["slug"]),
    }
    if found["description"]:
        value["description"] = found["description"]
    if found["aliases"]:
        value["alternateName"] = found["aliases"]
    return _json_ld(value)


def author(base: str, found: dict[str, Any]) -> Markup:
    return _json_ld(
        {"@type": "Person", "name": found["name"], "url": base + urls.author_path(found["slug"])}
    )


def website(base: str, site_name: str) -> Markup:
    """The home page's WebSite, with the search box search engines may offer."""
    return _json_ld(
        {
            "@type": "WebSite",
            "name": site_name,
            "url": base + "/",
            "potentialAction": {
                "@type": "SearchAction",
                "target": base + "/search?q={search_term_string}",
                "query-input": "required name=search_term_string",
            },
        }
    )
