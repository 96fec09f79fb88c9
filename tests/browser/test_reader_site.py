"""The reader site in Debian's Chromium, used as a reader would: pages, search, comments,
corrections and the related-stories widget on another site's page.

The tests run in this order on one server: the article page counts the sample's comments before
the comment test adds a reply, and the tests that need no search run while the demo is indexed.
"""

from __future__ import annotations

import json
import re

import httpx
from playwright.async_api import Browser, Page, expect

from tests.conftest import SAMPLE, SAMPLE_SLUG
from tests.support import (
    ARTEFACTS,
    SAMPLE_PEOPLE,
    XSS_BODY,
    XSS_SLUG,
    XSS_TITLE,
    Site,
    graphql,
    screenshot,
)

ARTICLE = f"/articles/{SAMPLE_SLUG}"
SAMPLE_STORY = json.loads(SAMPLE.read_text().splitlines()[0])
SAMPLE_TITLE = SAMPLE_STORY["title"]
COMMENTS = SAMPLE_STORY["comments"]
TOPICS = {
    "War in Ukraine": "war-in-ukraine",
    "Germany": "germany",
    "Crimea": "crimea",
    "Kremlin": "kremlin",
}
CORRECTIONS = """
query Corrections($slug: String!) { corrections(articleSlug: $slug) { quote message } }
"""


def first_words(text: str, count: int = 6) -> str:
    return " ".join(text.split()[:count])


async def test_sample_article_shows_subheadings_topics_people_and_spoilers(page: Page) -> None:
    await page.goto(ARTICLE)
    await expect(page.get_by_role("heading", level=1)).to_have_text(SAMPLE_TITLE)
    await expect(page).to_have_title(f"{SAMPLE_TITLE} — Newsroom")
    await expect(page.locator(".story-body h2")).to_have_text(
        ["Plans to strike", "Information war"]
    )

    topics = page.get_by_role("region", name="Topics").get_by_role("link")
    await expect(topics).to_have_text(list(TOPICS))
    for name, slug in TOPICS.items():
        link = page.get_by_role("region", name="Topics").get_by_role("link", name=name)
        await expect(link).to_have_attribute("href", f"/topics/{slug}")

    people = page.get_by_role("region", name="People in this story").get_by_role("listitem")
    await expect(people).to_have_count(len(SAMPLE_PEOPLE))
    for name, role in SAMPLE_PEOPLE.items():
        person = people.filter(has=page.get_by_role("link", name=name, exact=True))
        await expect(person.locator(".role")).to_have_text(role)

    comments = page.locator("#comments article.comment")
    await expect(page.get_by_role("heading", name="Comments (5)")).to_be_visible()
    await expect(comments).to_have_count(len(COMMENTS))
    bodies = comments.locator(".comment-body")
    for n in range(len(COMMENTS)):
        await expect(bodies.nth(n)).to_be_hidden()
    await screenshot(page, "article-page")

    for n, sample in enumerate(COMMENTS):
        comment = comments.nth(n)
        await expect(comment).to_contain_text(sample["author_name"] or "Anonymous")
        await comment.get_by_role("button", name="Show spoiler").click()
        await expect(comment.locator(".comment-body")).to_be_visible()
        await expect(comment.locator(".comment-body")).to_contain_text(first_words(sample["body"]))
        await expect(comment.get_by_role("button", name="Show spoiler")).to_have_count(0)
    await screenshot(page, "article-spoilers-shown")


async def test_article_page_reads_and_search_form_works_with_javascript_off(
    browser: Browser, site: Site, search_ready: None
) -> None:
    # Before the comment test: it adds a reply, and the count below is the sample's own.
    context = await browser.new_context(
        base_url=site.url, viewport={"width": 1280, "height": 900}, java_script_enabled=False
    )
    try:
        page = await context.new_page()
        await page.goto(ARTICLE)
        await expect(page.get_by_role("heading", level=1)).to_have_text(SAMPLE_TITLE)
        await expect(page.locator(".story-body h2")).to_have_text(
            ["Plans to strike", "Information war"]
        )
        people = page.get_by_role("region", name="People in this story").get_by_role("listitem")
        await expect(people).to_have_count(len(SAMPLE_PEOPLE))
        for name, role in SAMPLE_PEOPLE.items():
            person = people.filter(has=page.get_by_role("link", name=name, exact=True))
            await expect(person.locator(".role")).to_have_text(role)
        await expect(page.get_by_role("heading", name="Comments (5)")).to_be_visible()
        spoilers = page.locator("#comments details.spoiler")
        await expect(spoilers).to_have_count(len(COMMENTS))
        for n in range(len(COMMENTS)):
            await expect(spoilers.nth(n)).not_to_have_attribute("open", "")
            await expect(spoilers.nth(n).locator(".comment-body")).to_be_hidden()
        await screenshot(page, "article-page-no-js")

        await page.get_by_role("searchbox", name="Search stories").fill("Pistorius")
        await page.get_by_role("button", name="Search", exact=True).click()
        await expect(page).to_have_url(re.compile(r"/search\?q=Pistorius$"))
        hits = page.locator("ol.hits > li")
        await expect(hits.get_by_role("link", name=SAMPLE_TITLE)).to_have_count(1)
    finally:
        await context.close()


async def test_held_comment_awaits_moderation_and_reply_appears_under_its_parent(
    page: Page,
) -> None:
    await page.goto(ARTICLE)
    held = COMMENTS[2]
    form = page.get_by_role("form", name="Post a comment")
    await form.get_by_label("Name").fill(held["author_name"])
    await form.get_by_label("Comment").fill(held["body"])
    await form.get_by_role("button", name="Post comment").click()
    await expect(form.get_by_role("status")).to_have_text(
        "Thank you: your comment is awaiting moderation."
    )
    await expect(page.get_by_role("heading", name="Comments (5)")).to_be_visible()

    first = page.locator("#comments ol.comments > li").first
    await first.get_by_role("button", name="Reply").click()
    reply_form = page.get_by_role("form", name="Reply to Anonymous")
    reply = "A fair point about the aid, and well argued."
    await reply_form.get_by_label("Name").fill("Browser Reader")
    await reply_form.get_by_label("Comment").fill(reply)
    await reply_form.get_by_role("button", name="Post reply").click()
    await expect(reply_form.get_by_role("status")).to_have_text("Your comment is published.")
    posted = first.locator("ol.replies article.comment").filter(has_text=reply)
    await expect(posted).to_have_count(1)
    await expect(posted).to_contain_text("Browser Reader")
    await posted.scroll_into_view_if_needed()
    await screenshot(page, "comment-reply")


async def test_selected_sentence_and_ctrl_enter_send_a_correction(page: Page, site: Site) -> None:
    await page.goto(ARTICLE)
    await expect(page.locator(".story-body p").first).to_be_visible()
    sentence = await page.evaluate(
        """() => {
            const p = [...document.querySelectorAll('.story-body p')]
                .find((p) => p.textContent.startsWith('The leaks came'));
            const text = p.firstChild;
            const end = text.data.indexOf('.') + 1;
            const range = document.createRange();
            range.setStart(text, 0);
            range.setEnd(text, end);
            const selection = window.getSelection();
            selection.removeAllRanges();
            selection.addRange(range);
            return selection.toString();
        }"""
    )
    assert sentence.startswith("The leaks came") and sentence.endswith(".")
    await page.keyboard.press("Control+Enter")

    dialog = page.get_by_role("dialog", name="Suggest a correction")
    await expect(dialog).to_be_visible()
    await expect(dialog.locator("blockquote")).to_have_text(sentence)
    message = "Taurus missiles are cruise missiles; the sentence should say so."
    await dialog.get_by_label("What is wrong?").fill(message)
    await dialog.get_by_role("button", name="Send correction").click()
    await expect(dialog.get_by_role("status")).to_have_text("Thank you: your correction was sent.")
    await screenshot(page, "correction-sent")

    async with httpx.AsyncClient(base_url=site.url, timeout=30) as client:
        stored = await graphql(client, CORRECTIONS, {"slug": SAMPLE_SLUG}, site.editor)
    assert {"quote": sentence, "message": message} in stored["corrections"]


async def test_search_box_finds_the_sample_despite_a_typo_and_topic_facet_narrows(
    page: Page, search_ready: None
) -> None:
    await page.goto("/")
    box = page.get_by_role("searchbox", name="Search stories")
    await box.press_sequentially("Pistorious", delay=40)
    suggestions = page.get_by_role("listbox", name="Suggestions")
    story = suggestions.get_by_role("option").get_by_role("link", name=SAMPLE_TITLE)
    await expect(story).to_have_attribute("href", f"/articles/{SAMPLE_SLUG}")
    # Why it is suggested: the person the story names, with the word that matched marked.
    await expect(story.locator(".why mark")).to_have_text("Pistorius")
    await box.press("Enter")
    await expect(page).to_have_url(re.compile(r"/search\?q=Pistorious"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Search")

    hits = page.locator("ol.hits > li")
    sample = hits.filter(has=page.get_by_role("link", name=SAMPLE_TITLE))
    await expect(sample).to_have_count(1)
    await expect(sample.locator("mark").first).to_have_text(re.compile("Pistorius", re.I))
    await screenshot(page, "search-page")

    await page.goto("/search?q=Ukraine")
    status = page.get_by_role("status")
    await expect(status).to_have_text(re.compile(r"^\d+ stories$"))
    before = int((await status.inner_text()).split()[0])
    assert before > 1
    topics = page.get_by_role("complementary", name="Filters").get_by_role("group", name="Topics")
    await topics.get_by_role("checkbox", name=re.compile(r"germany", re.I)).check()
    await expect(page).to_have_url(re.compile(r"topic=germany"))
    await expect(hits).to_have_count(1)
    await expect(status).to_have_text(re.compile(r"^1 stor(y|ies)$"))
    await expect(hits.get_by_role("link", name=SAMPLE_TITLE)).to_be_visible()
    await screenshot(page, "search-topic-facet")


async def test_script_payloads_in_a_story_show_as_text_and_never_run(
    browser: Browser, site: Site, search_ready: None
) -> None:
    # CSP alone would stop these payloads; without it, only the site's own care keeps them text.
    context = await browser.new_context(base_url=site.url, bypass_csp=True)
    try:
        page = await context.new_page()
        await page.goto(f"/articles/{XSS_SLUG}")
        await expect(page.get_by_role("heading", level=1)).to_have_text(XSS_TITLE)
        body = page.locator(".story-body p")
        await expect(body).to_have_text(XSS_BODY)
        assert await page.locator("main img, main script").count() == 0
        assert await page.evaluate("window.__xss") is None
        await screenshot(page, "payload-article")

        await page.goto("/search?q=onerror")
        hit = page.locator("ol.hits > li").filter(has_text="Payload probe")
        await expect(hit.get_by_role("link")).to_have_text(XSS_TITLE)
        await expect(hit.locator("mark").first).to_have_text("onerror")
        assert await page.locator("main img, main script").count() == 0
        assert await page.evaluate("window.__xss") is None
        await screenshot(page, "payload-search")
    finally:
        await context.close()


async def test_widget_on_another_site_shows_four_stories_and_leaves_host_styles_alone(
    page: Page, host_page: str, search_ready: None
) -> None:
    await page.goto(host_page)
    widget = page.locator("related-stories")
    await expect(widget.get_by_role("region", name="Related stories")).to_be_visible()
    links = widget.get_by_role("link")
    await expect(links).to_have_count(4)
    for n in range(4):
        await expect(links.nth(n)).to_have_attribute(
            "href", re.compile(r"^http://127\.0\.0\.1:\d+/articles/[a-z0-9-]+$")
        )

    host = page.locator("h2#host")
    assert await host.evaluate("h => getComputedStyle(h).color") == "rgb(255, 0, 0)"
    assert await host.evaluate("h => getComputedStyle(h).fontFamily") == "serif"
    heading = widget.get_by_role("heading", name="Read next")
    assert await heading.evaluate("h => getComputedStyle(h).color") != "rgb(255, 0, 0)"
    assert await links.first.evaluate("a => getComputedStyle(a).color") != "rgb(0, 128, 0)"
    await screenshot(page, "widget-host-page")


def test_readme_shows_three_screenshots_that_the_tests_make() -> None:
    readme = (ARTEFACTS.parent.parent / "README.md").read_text()
    for name in ("article-page", "search-page", "article-page-no-js"):
        assert f"tests/artefacts/{name}.png" in readme
        assert (ARTEFACTS / f"{name}.png").is_file()
