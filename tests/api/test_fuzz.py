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
from urllib.parse import quote

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
from api.view import GRAPHQL_RESPONSE
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
# A file travels in a multipart form, never as a literal: in a JSON request an `Upload`
# argument is whatever text the fuzzer writes, and must be refused as cleanly as any other.
schemathesis.graphql.scalar("Upload", st.text(max_size=20).map(nodes.String))
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
    "QUERY_TOO_LARGE",
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


# Around the request, the bytes themselves: any body under any content type, any header values a
# client can put on the wire, any query string. Whatever arrives, the app answers JSON with a code.
VALID_BODIES = [
    b'{"query": "{ sections { name } }"}',
    b'{"query": "query Story($slug: String!) { article(slug: $slug) { title } }", '
    b'"variables": {"slug": "x"}, "operationName": "Story"}',
]
CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/graphql-response+json",
        "application/graphql",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "text/plain",
        "",
    ]
)
# What HTTP lets a field value hold (visible ASCII, spaces, obs-text 0x80-0xFF); leading and
# trailing spaces are no part of a value. uvicorn refuses the rest itself, in plain text (see
# test_what_uvicorn_refuses_never_reaches_the_app).
FIELD_TEXT = st.text(st.characters(codec="latin-1", exclude_categories=["Cc"]), max_size=2_000).map(
    str.strip
)
HEADER_NAMES = st.sampled_from(
    [
        "Accept",
        "Authorization",
        "Content-Type",
        "Origin",
        "X-Request-ID",
        "If-None-Match",
        "X-Forwarded-For",
        "Cookie",
        "User-Agent",
    ]
) | st.from_regex(r"\AX-[A-Za-z0-9-]{1,30}\Z")
HEADERS = st.dictionaries(HEADER_NAMES, FIELD_TEXT | CONTENT_TYPES, max_size=6)
RAW_BODIES = (
    st.binary(max_size=4_096)
    | st.sampled_from(VALID_BODIES)
    | st.builds(
        lambda body, at, junk: body[:at] + junk + body[at:],
        st.sampled_from(VALID_BODIES),
        st.integers(0, 120),
        st.binary(min_size=1, max_size=8),
    )
)
QUERY_STRINGS = st.lists(
    st.tuples(
        st.sampled_from(["query", "variables", "operationName", "extensions"])
        | st.text(max_size=8),
        st.binary(max_size=200),
    ),
    max_size=4,
).map(
    lambda pairs: "&".join(
        f"{quote(name, safe='')}={quote(value, safe='{}[]:,')}" for name, value in pairs
    )
)
RAW_CODES = EXPECTED_CODES | {"FORBIDDEN"}


def json_answer(response: requests.Response, sent: str) -> None:
    """A JSON object under a JSON media type, whose errors each carry a code."""
    assert response.status_code < 500, f"{response.status_code} for\n{sent}\n{response.text}"
    media_type = response.headers.get("content-type", "")
    assert media_type.startswith(("application/json", GRAPHQL_RESPONSE)), f"{sent}\n{media_type}"
    body = _strict_json(response.text)
    assert isinstance(body, dict) and ("data" in body or body.get("errors")), response.text
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        assert code in RAW_CODES, f"{code} for\n{sent}\n{error}"
        assert not leaks(error["message"], sent), f"{leaks(error['message'], sent)} in {error}"


@settings(FUZZ_SETTINGS, max_examples=EXAMPLES * 5)
@given(body=RAW_BODIES, content_type=CONTENT_TYPES | FIELD_TEXT, headers=HEADERS)
def test_any_bytes_with_any_headers_get_a_json_answer(
    served: str,
    session: requests.Session,
    body: bytes,
    content_type: str,
    headers: dict[str, str],
) -> None:
    sent = f"{headers}\nContent-Type: {content_type}\n{body!r}"
    headers = {"Content-Type": content_type, **headers}
    json_answer(session.post(served, data=body, headers=headers, timeout=60), sent)


@settings(FUZZ_SETTINGS, max_examples=EXAMPLES * 5)
@given(query_string=QUERY_STRINGS, headers=HEADERS)
def test_any_query_string_gets_a_json_answer(
    served: str, session: requests.Session, query_string: str, headers: dict[str, str]
) -> None:
    # Only a browser asking for HTML gets GraphiQL, and only without a query: not what is tried.
    headers = {**headers, "Accept": "application/json"}
    sent = f"{headers}\n?{query_string}"
    json_answer(session.get(f"{served}?{query_string}", headers=headers, timeout=60), sent)


@pytest.mark.parametrize(
    "head",
    [
        b"Content-Length: abc\r\n",
        b"Content-Length: 5\r\nContent-Length: 7\r\n",
        b"Content-Length: " + b"9" * 40 + b"\r\n",
        b"Content-Length: 2\r\nX-Name: a\x00b\r\n",
        b"Transfer-Encoding: chunked\r\n",
    ],
    ids=["not-a-number", "twice", "huge", "nul-in-a-header", "bad-chunks"],
)
def test_what_uvicorn_refuses_never_reaches_the_app(served: str, head: bytes) -> None:
    """Malformed HTTP is answered by uvicorn's parser before any ASGI app runs: a plain-text 400,
    never a 5xx. (Behind the API's proxy these never arrive at all.)"""
    _, _, rest = served.partition("//")
    host, _, port = rest.partition("/")[0].partition(":")
    request = b"POST /graphql HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + head + b"\r\nzz\r\n"
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65_536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
