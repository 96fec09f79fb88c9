"""The writers of the topology run: an editor saving and publishing, readers commenting.

The editor works on stories of the run's own (slugs `topology-<run>-<n>`): creates one now and
then (saved as a draft, then published) and otherwise retitles a published one, each save a new
`version <n>`. Readers comment on those stories and on popular demo stories, each comment from
one of COMMENT_ADDRESSES loopback addresses (127.0.0.10 and up), as many readers would: nginx
passes the address on, and the API's per-address comment limit (5 a minute) holds for each.

A write is acknowledged when the answer is its success type with what was sent. Right after, the
writer reads it back through nginx (whichever replica answers): the story's page after a save,
the latest stories after a publish, the thread after a comment. Nothing is retried: an answer
that did not come is a failed write, which may or may not have been committed.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx

from api.site.routes import contract_query
from bench.topology_ledger import Ledger, Posted, Story
from bench.topology_load import TIMEOUT_SECONDS, Outcome, Read, Readers, Recorder

EDITOR_DOCUMENT = contract_query("editor-save-article")
COMMENT_DOCUMENT = contract_query("post-comment")
COMMENT_ADDRESSES = 32
SECTION = "news"


class _Writer:
    def __init__(self, url: str, ledger: Ledger, recorder: Recorder, readers: Readers) -> None:
        self.url = url
        self.ledger = ledger
        self.recorder = recorder
        self.readers = readers

    async def _send(
        self,
        client: httpx.AsyncClient,
        kind: str,
        payload: dict[str, Any],
        field: str,
    ) -> tuple[Outcome, dict[str, Any] | None]:
        """POST one mutation; the outcome (not yet recorded) and the mutation's result."""
        request_id = self.recorder.request_id(kind)
        outcome = Outcome(kind, "POST", self.recorder.now(), 0.0, 0, request_id, write=True)
        result = None
        try:
            answer = await client.post(
                f"{self.url}/graphql", json=payload, headers={"X-Request-ID": request_id}
            )
            outcome.status = answer.status_code
            body = answer.json() if answer.status_code // 100 == 2 else None
            if body is None:
                outcome.error = f"HTTP {answer.status_code}: {answer.text[:200]}"
            elif body.get("errors"):
                codes = [e.get("extensions", {}).get("code") for e in body["errors"]]
                outcome.error = f"GraphQL errors {codes}: {body['errors'][0].get('message')}"
            else:
                result = body["data"][field]
        except (httpx.HTTPError, ValueError) as exc:
            outcome.error = f"{type(exc).__name__}: {exc}"[:300]
        outcome.ms = (self.recorder.now() - outcome.start) * 1000
        return outcome, result


class Editor(_Writer):
    def __init__(
        self, url: str, token: str, ledger: Ledger, recorder: Recorder, readers: Readers
    ) -> None:
        super().__init__(url, ledger, recorder, readers)
        self.client = httpx.AsyncClient(
            timeout=TIMEOUT_SECONDS, headers={"Authorization": f"Bearer {token}"}
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    async def save(self, story: Story) -> bool:
        story.sent += 1
        version, title = story.sent, story.title(self.ledger.run, story.sent)
        article = {
            "slug": story.slug,
            "title": title,
            "dek": f"Written by the topology benchmark, run {self.ledger.run}.",
            "section": SECTION,
            "authors": ["Topology Desk"],
            "topics": ["Topology benchmark"],
            "body": [
                {
                    "type": "PARAGRAPH",
                    "text": f"Version {version} of a story the editor keeps "
                    "rewriting while replicas, the cache and the search engine restart.",
                },
            ],
        }
        payload = {
            "query": EDITOR_DOCUMENT,
            "operationName": "SaveArticle",
            "variables": {"input": article},
        }
        outcome, result = await self._send(self.client, "save", payload, "saveArticle")
        if result is not None:
            saved = result.get("article") or {}
            if result["__typename"] == "ArticleSaved" and saved.get("title") == title:
                outcome.acknowledged = True
                self.ledger.saved(story, version, title)
            else:
                outcome.error = f"not saved: {result}"[:300]
        self.recorder.add(outcome)
        if outcome.acknowledged and story.published_at is not None:
            await self.readers.read(Read("after_save", "article-page", {"slug": story.slug}))
        return outcome.acknowledged

    async def publish(self, story: Story) -> bool:
        payload = {
            "query": EDITOR_DOCUMENT,
            "operationName": "PublishArticle",
            "variables": {"slug": story.slug},
        }
        outcome, result = await self._send(self.client, "publish", payload, "publishArticle")
        if result is not None:
            article = result.get("article") or {}
            if result["__typename"] == "ArticleSaved" and article.get("status") == "PUBLISHED":
                outcome.acknowledged = True
                self.ledger.made_public(story, article["publishedAt"])
            else:
                outcome.error = f"not published: {result}"[:300]
        self.recorder.add(outcome)
        if outcome.acknowledged:
            await self.readers.read(Read("after_publish", "article-page", {"slug": story.slug}))
            await self.readers.read(Read("after_publish", "latest-articles", {"first": 10}))
        return outcome.acknowledged

    async def create(self) -> None:
        story = self.ledger.new_story()
        if await self.save(story):
            await self.publish(story)  # if it fails, run() tries again, as an editor would

    async def run(self, interval: float, new_share: float, seed: int) -> None:
        rng = random.Random(seed)
        while self.recorder.running():
            await asyncio.sleep(rng.uniform(0.5, 1.5) * interval)
            # Saved drafts whose publish failed; a story whose first save failed is left alone.
            drafts = [s for s in self.ledger.stories.values() if s.version and not s.published_at]
            published = self.ledger.published()
            if drafts and rng.random() < 0.5:
                await self.publish(drafts[0])
            elif not published or rng.random() < new_share:
                await self.create()
            else:
                await self.save(rng.choice(published))


class Commenters(_Writer):
    def __init__(
        self, url: str, ledger: Ledger, recorder: Recorder, readers: Readers, targets: list[str]
    ) -> None:
        super().__init__(url, ledger, recorder, readers)
        self.targets = targets
        self.clients = [
            httpx.AsyncClient(
                timeout=TIMEOUT_SECONDS,
                transport=httpx.AsyncHTTPTransport(local_address=f"127.0.0.{10 + n}"),
            )
            for n in range(COMMENT_ADDRESSES)
        ]
        self.posted = 0

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()

    async def post(self, slug: str) -> bool:
        self.posted += 1
        number = self.posted
        body = (
            f"Comment {number} of topology run {self.ledger.run}: read it on the train, "
            "thanks for keeping this story up to date."
        )
        payload = {
            "query": COMMENT_DOCUMENT,
            "variables": {
                "input": {"articleSlug": slug, "authorName": f"Reader {number}", "body": body}
            },
        }
        client = self.clients[number % COMMENT_ADDRESSES]
        outcome, result = await self._send(client, "comment", payload, "postComment")
        if result is not None:
            comment = result.get("comment") or {}
            if result["__typename"] == "CommentPosted" and comment.get("body") == body:
                outcome.acknowledged = True
                self.ledger.commented(Posted(comment["id"], slug, body, comment["status"]))
            else:
                outcome.error = f"not posted: {result}"[:300]
        self.recorder.add(outcome)
        if outcome.acknowledged:
            await self.readers.read(Read("after_comment", "comments-thread", {"slug": slug}))
        return outcome.acknowledged

    async def run(self, interval: float, seed: int) -> None:
        rng = random.Random(seed)
        while self.recorder.running():
            await asyncio.sleep(rng.uniform(0.5, 1.5) * interval)
            own = self.ledger.published_slug(rng)
            await self.post(own if own and rng.random() < 0.5 else rng.choice(self.targets))
