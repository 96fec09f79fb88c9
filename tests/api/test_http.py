"""The HTTP surface: GraphQL over GET and POST, GraphiQL, health and readiness."""

from __future__ import annotations

import httpx
import pytest
import sqlalchemy as sa
from asgi_lifespan import LifespanManager
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from models.session import create_engine
from tests.conftest import SAMPLE_SLUG, contract

RELATED_WIDGET = contract("related-widget")


async def test_query_over_get(client: httpx.AsyncClient, sample: None) -> None:
    response = await client.get(
        "/graphql",
        params={
            "query": "query ($s: String!) { article(slug: $s) { slug } }",
            "variables": f'{{"s": "{SAMPLE_SLUG}"}}',
        },
    )
    assert response.status_code == 200
    assert response.json()["data"] == {"article": {"slug": SAMPLE_SLUG}}


async def test_browser_gets_graphiql(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_every_answer_carries_a_request_id(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", json={"query": "{ sections { slug } }"}, headers={"X-Request-ID": "abc-123"}
    )
    assert response.headers["x-request-id"] == "abc-123"
    generated = await client.post("/graphql", json={"query": "{ sections { slug } }"})
    assert len(generated.headers["x-request-id"]) == 32


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["database"] == "ok"


async def test_readiness_fails_while_the_database_is_unreachable() -> None:
    engine = create_engine("postgresql://nobody@127.0.0.1:9/none")
    app = create_app(engine=engine)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            assert (await client.get("/healthz")).status_code == 200
            response = await client.get("/readyz")
    await engine.dispose()
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unreachable"}


async def test_a_mutation_over_get_is_refused_with_405(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/graphql", params={"query": 'mutation { createSection(name: "x") { __typename } }'}
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_a_body_over_the_limit_is_refused_with_413(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", content=b" " * 1_000_001, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    error = response.json()["errors"][0]
    assert "request body over 1000000 bytes" in error["message"]
    assert error["extensions"]["code"] == "BAD_REQUEST"


# Cross-origin rules (api/cors.py) ----------------------------------------------------------------

FOREIGN = {"Origin": "https://blog.example"}
COMMENT = """mutation ($input: PostCommentInput!) { postComment(input: $input) { __typename } }"""


async def test_any_site_may_read_anonymously(client: httpx.AsyncClient, sample: None) -> None:
    preflight = await client.options(
        "/graphql",
        headers={
            **FOREIGN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "authorization" not in preflight.headers["access-control-allow-headers"].lower()

    response = await client.post(
        "/graphql", json={"query": "{ articles(first: 1) { totalCount } }"}, headers=FOREIGN
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in response.headers


async def test_other_sites_may_not_write_nor_send_credentials(
    client: httpx.AsyncClient, sample: None, db: AsyncEngine, editor: dict
) -> None:
    from models import Comment

    variables = {"input": {"articleSlug": SAMPLE_SLUG, "authorName": "X", "body": "Hello"}}
    before = await _count(db, Comment)
    refused = await client.post(
        "/graphql", json={"query": COMMENT, "variables": variables}, headers=FOREIGN
    )
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await _count(db, Comment) == before

    with_token = await client.post(
        "/graphql", json={"query": "{ drafts { totalCount } }"}, headers={**FOREIGN, **editor}
    )
    assert with_token.status_code == 403


async def test_the_newsrooms_own_origins_may_write(db: AsyncEngine, sample: None) -> None:
    from api.settings import Settings

    settings = Settings(cors_allow_origins="https://newsroom.example,https://admin.example")
    app = create_app(settings, engine=db)
    origin = {"Origin": "https://admin.example"}
    variables = {"input": {"articleSlug": SAMPLE_SLUG, "authorName": "X", "body": "Hello"}}
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.post(
                "/graphql", json={"query": COMMENT, "variables": variables}, headers=origin
            )
            same_site = await client.post(
                "/graphql",
                json={"query": COMMENT, "variables": variables},
                headers={"Origin": "http://test"},
            )
    assert response.json()["data"]["postComment"]["__typename"] == "CommentPosted"
    assert response.headers["access-control-allow-origin"] == "https://admin.example"
    assert response.headers["access-control-allow-credentials"] == "true"
    assert same_site.status_code == 200


async def _count(engine: AsyncEngine, model: type) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(sa.func.count()).select_from(model))).scalar_one()


async def test_a_batch_of_operations_is_refused_clearly(client: httpx.AsyncClient) -> None:
    batch = [{"query": "{ sections { slug } }"}, {"query": "{ sections { name } }"}]
    response = await client.post("/graphql", json=batch)
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert "one operation per request" in error["message"]
    assert error["extensions"]["code"] == "BAD_REQUEST"


@pytest.mark.parametrize("body", ["a string", 5, True])
async def test_a_json_body_that_is_not_an_object_is_a_400(
    client: httpx.AsyncClient, body: object
) -> None:
    # Found by tests/api/test_fuzz.py: Strawberry read `query` off the value, a 500.
    response = await client.post("/graphql", json=body)
    assert response.status_code == 400
    assert "JSON object" in response.text


async def test_an_unreachable_database_is_service_unavailable_not_a_hang(tmp_path) -> None:
    """Nothing listens on port 1: every read fails at once, with a code a client can act on."""
    import time

    from api.settings import Settings

    engine = create_engine("postgresql://postgres@127.0.0.1:1/newsroom")
    app = create_app(Settings(data_dir=tmp_path), engine=engine)
    try:
        async with LifespanManager(app) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                started = time.monotonic()
                body = await client.post("/graphql", json={"query": "{ sections { slug } }"})
                elapsed = time.monotonic() - started
                ready = await client.get("/readyz")
    finally:
        await engine.dispose()
    error = body.json()["errors"][0]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert "request id" in error["message"] and "Traceback" not in body.text
    assert elapsed < 5
    assert ready.status_code == 503


async def test_a_request_over_the_time_limit_is_stopped(db: AsyncEngine, sample: None) -> None:
    from api.settings import Settings

    app = create_app(Settings(request_time_limit=0.000001), engine=db)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.post("/graphql", json={"query": "{ sections { slug } }"})
    assert response.status_code == 503
    assert response.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"


async def test_the_graphql_response_media_type_when_the_client_accepts_it(
    client: httpx.AsyncClient, sample: None
) -> None:
    accept = {"Accept": "application/graphql-response+json, application/json;q=0.9"}
    ok = await client.post("/graphql", json={"query": "{ sections { slug } }"}, headers=accept)
    assert ok.status_code == 200
    assert ok.headers["content-type"].startswith("application/graphql-response+json")
    invalid = await client.post("/graphql", json={"query": "{ nope }"}, headers=accept)
    assert invalid.status_code == 400
    assert invalid.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "data" not in invalid.json()
    plain = await client.post("/graphql", json={"query": "{ nope }"})
    assert plain.status_code == 200
    assert plain.json()["data"] is None
    assert plain.headers["content-type"].startswith("application/json")


async def test_a_field_error_is_still_a_200_with_the_graphql_response_type(
    client: httpx.AsyncClient,
) -> None:
    accept = {"Accept": "application/graphql-response+json"}
    body = {"query": "{ articles(first: 500) { totalCount } }"}
    response = await client.post("/graphql", json=body, headers=accept)
    assert response.status_code == 200
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_client_over_the_request_rate_limit_is_told_when_to_retry(
    db: AsyncEngine, redis_url: str
) -> None:
    """Two workers share the window through Redis: the limit is per address, not per worker."""
    import uuid

    from api.settings import Settings

    settings = Settings(request_rate_limit="3/minute", redis_url=redis_url)
    greedy, other = uuid.uuid4().hex, uuid.uuid4().hex
    query = {"query": "{ sections { slug } }"}
    answers = []
    async with (
        LifespanManager(create_app(settings, engine=db)) as first,
        LifespanManager(create_app(settings, engine=db)) as second,
    ):
        for app in (first.app, second.app, first.app, second.app):
            transport = httpx.ASGITransport(app=app, client=(greedy, 1234))
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                answers.append(await client.post("/graphql", json=query))
        transport = httpx.ASGITransport(app=second.app, client=(other, 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            someone_else = await client.post("/graphql", json=query)
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    refused = answers[-1]
    error = refused.json()["errors"][0]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert 1 <= error["extensions"]["retryAfterSeconds"] <= 60
    assert refused.headers["retry-after"] == str(error["extensions"]["retryAfterSeconds"])
    assert someone_else.status_code == 200


async def test_a_persisted_query_get_from_any_client_gets_json_not_graphiql(
    client: httpx.AsyncClient,
) -> None:
    """curl, CDNs and fetch() send `Accept: */*`: only a browser asking for HTML gets GraphiQL."""
    extensions = '{"persistedQuery": {"version": 1, "sha256Hash": "' + "0" * 64 + '"}}'
    response = await client.get(
        "/graphql", params={"extensions": extensions}, headers={"Accept": "*/*"}
    )
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
