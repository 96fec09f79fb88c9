"""The HTTP surface: GraphQL over GET and POST, GraphiQL, health and readiness."""

from __future__ import annotations

import httpx
from asgi_lifespan import LifespanManager

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


async def test_a_body_over_the_limit_is_refused_with_413(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", content=b" " * 1_000_001, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert "request body over 1000000 bytes" in response.text
