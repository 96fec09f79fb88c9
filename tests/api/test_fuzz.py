"""Schemathesis fuzzes every query and mutation of the served app, as an anonymous reader, over a
real socket with the real database and Meilisearch: whatever it sends, the answer is JSON, never a
5xx, and every error has a code and a message that gives nothing of the server away.

FUZZ_EXAMPLES sets the examples per operation (`make fuzz` runs many more, seeded at random);
the default small run is derandomized, so `make test` sends the same requests every time.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import requests
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.graphql import nodes
from schemathesis.schemas import APIOperation
from slugify import slugify
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from api.settings import Settings
from models.importer import import_lines
from models.session import session_factory
from search.client import SearchClient
from search.server import LocalMeilisearch
from tests.conftest import ROOT, SAMPLE, empty_tables

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))
SDL = ROOT / "schema.graphql"
SCHEMA = schemathesis.graphql.from_path(SDL)
# Driven with Hypothesis directly: the schemathesis pytest plugin is off (see pyproject.toml), as it
# would otherwise load and wrap every test of the suite.
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]

# Next to arbitrary text, values the fuzzer would never guess, so that resolvers find something:
# the sample's slugs and the IDs of every kind of object with any number (IDs are opaque base64).
STORIES = [json.loads(line) for line in SAMPLE.read_text().splitlines()]
KNOWN = sorted(
    {story["slug"] for story in STORIES}
    | {slugify(story["section"]) for story in STORIES}
    | {slugify(topic) for story in STORIES for topic in story["topics"]}
)
KINDS = ["Article", "Section", "Topic", "Person", "Comment", "Correction", "Revision"]
schemathesis.graphql.scalar(
    "String", st.one_of(st.text(), st.sampled_from(KNOWN)).map(nodes.String)
)
schemathesis.graphql.scalar(
    "ID",
    st.one_of(
        st.text(),
        st.builds(
            lambda kind, pk: f"{kind}:{pk}",
            st.sampled_from(KINDS),
            st.integers(1, 20) | st.integers(),
        ).map(lambda text: base64.urlsafe_b64encode(text.encode()).decode()),
    ).map(nodes.String),
)

# What an anonymous reader may be told. Rate limits and query limits are answers, not failures.
EXPECTED_CODES = {
    "BAD_REQUEST",
    "BAD_USER_INPUT",
    "GRAPHQL_PARSE_FAILED",
    "GRAPHQL_VALIDATION_FAILED",
    "UNAUTHENTICATED",
    "QUERY_TOO_COMPLEX",
    "QUERY_TOO_DEEP",
    "RATE_LIMITED",
}
# Fields only a token may use: whatever the arguments, an anonymous call is UNAUTHENTICATED.
READER_MUTATIONS = {"postComment", "reportComment", "suggestCorrection"}
TOKEN_QUERIES = {"drafts", "revisions", "moderationQueue", "corrections"}
# What the server must never let slip: stack traces, file paths, SQL, driver and exception names.
LEAKS = re.compile(
    r"Traceback|File \"|\.py\b|/(?:usr|home|opt|tmp|work|var)/|site-packages"
    r"|\b(?:SELECT|INSERT INTO|UPDATE|DELETE FROM)\b.*\b(?:FROM|SET|WHERE|VALUES)\b|\[SQL:"
    r"|sqlalchemy|asyncpg|aiosqlite|sqlite3|psycopg|meilisearch|\bInternal\b"
    r"|\b\w+(?:Error|Exception)\b",
    re.IGNORECASE,
)
# Our schema's own type names (ValidationError, ...) may appear in validation messages.
SCHEMA_NAMES = set(
    re.findall(r"^(?:type|union|input|enum|interface|scalar) (\w+)", SDL.read_text(), re.M)
)


@pytest.fixture(scope="module")
async def served(
    engine: AsyncEngine,
    database_url: str,
    meili: LocalMeilisearch,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[str]:
    """The app under uvicorn on a loopback socket, as `newsroom serve` runs it, with the sample
    stories and their comments loaded. It runs in a thread of this process: a second process
    would spend most of the test's time importing the comment screening model again."""
    await empty_tables(engine)
    report = await import_lines(session_factory(engine), SAMPLE.read_text().splitlines())
    assert report.errors == []
    prefix = f"f{uuid.uuid4().hex[:8]}_"
    app_settings = Settings(
        database_url=database_url,
        meili_url=meili.url,
        meili_master_key=meili.master_key,
        meili_index_prefix=prefix,
        data_dir=tmp_path_factory.mktemp("fuzz"),
        people_worker=False,
        # The fuzzer posts far more than a reader could; the limits have tests of their own.
        comment_rate_limit="100000/minute",
        correction_rate_limit="100000/minute",
        report_rate_limit="100000/minute",
    )
    config = uvicorn.Config(
        create_app(app_settings), log_config=None, access_log=False, log_level="warning"
    )
    server = uvicorn.Server(config)
    listener = socket.create_server(("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]})
    thread.start()
    try:
        while not server.started:
            assert thread.is_alive(), "the server stopped while starting"
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/graphql"
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join)
        listener.close()
        client = SearchClient(meili.url, meili.master_key, prefix=prefix)
        for index in await client.indexes():
            if index.startswith(prefix):
                await client.delete_index(index)
        await client.aclose()


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def _strict_json(text: str) -> object:
    def refuse(constant: str) -> object:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def leaks(message: str, sent: str) -> list[str]:
    """What in `message` reveals the server, leaving out what the client sent itself."""
    found = [m.group(0) for m in LEAKS.finditer(message)]
    return [word for word in found if word not in sent and word not in SCHEMA_NAMES]


def clean_answer(response: requests.Response, sent: str) -> dict:
    """The answer's JSON, once it has passed every check an answer must pass."""
    assert response.status_code < 500, f"{response.status_code} for\n{sent}\n{response.text}"
    body = _strict_json(response.text)
    assert isinstance(body, dict), response.text
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        assert code in EXPECTED_CODES, f"{code} for\n{sent}\n{error}"
        assert not leaks(error["message"], sent), f"{leaks(error['message'], sent)} in {error}"
    return body


FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize="FUZZ_EXAMPLES" not in os.environ,
    suppress_health_check=list(HealthCheck),
)


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.label)
@FUZZ_SETTINGS
@given(data=st.data())
def test_every_answer_is_json_with_a_code_and_no_internals(
    operation: APIOperation, served: str, session: requests.Session, data: st.DataObject
) -> None:
    # Positive cases fit the schema; negative ones break it (wrong types, missing arguments).
    mode = data.draw(st.sampled_from(GenerationMode))
    case = data.draw(operation.as_strategy(mode), label="case")
    response = case.call(base_url=served, session=session, timeout=60)
    sent = str(case.body)
    answer = clean_answer(response, sent)
    field = operation.definition.field_name
    if operation.definition.is_mutation:
        needs_token = field not in READER_MUTATIONS
    else:
        needs_token = field in TOKEN_QUERIES
    if needs_token and (answer.get("data") or {}).get(field) is not None:
        pytest.fail(f"{field} answered an anonymous caller:\n{sent}\n{response.text}")
    executed = {e["extensions"]["code"] for e in answer.get("errors") or [] if "path" in e}
    if needs_token and executed:
        assert executed == {"UNAUTHENTICATED"}, response.text


# Around the operations, the request itself: any JSON where an operation's parts should be.
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6,
)
DOCUMENTS = st.sampled_from(
    [
        "{ sections { name } }",
        "query Story($slug: String!) { article(slug: $slug) { title } }",
        'mutation { createSection(name: "x") { __typename } }',
    ]
)
REQUESTS = JSON | st.fixed_dictionaries(
    {},
    optional={
        "query": DOCUMENTS | JSON,
        "variables": JSON,
        "operationName": st.just("Story") | JSON,
        "extensions": JSON,
    },
)


@settings(FUZZ_SETTINGS, max_examples=EXAMPLES * 5)  # cheap to make, unlike operations
@given(request=REQUESTS, over_get=st.booleans())
def test_any_request_is_answered_without_a_server_error(
    served: str, session: requests.Session, request: object, over_get: bool
) -> None:
    sent = json.dumps(request)
    if over_get and isinstance(request, dict):
        params = {k: v if isinstance(v, str) else json.dumps(v) for k, v in request.items()}
        headers = {"Accept": "application/json"}
        response = session.get(served, params=params, headers=headers, timeout=60)
    else:
        response = session.post(served, json=request, timeout=60)
    assert response.status_code < 500, f"{response.status_code} for\n{sent}\n{response.text}"
    if response.headers.get("content-type", "").startswith("application/json"):
        clean_answer(response, sent)
