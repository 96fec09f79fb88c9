"""Meilisearch: client, documents, settings, outbox worker, reindex; no GraphQL, no HTTP."""
