# The API image for docker-compose: migrations and demo content at start, then uvicorn.

# GraphiQL's browser files come from npm (api/graphiql/package-lock.json), served by the API.
FROM node:20-slim AS graphiql
WORKDIR /graphiql
COPY api/graphiql/package.json api/graphiql/package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund

FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml requirements.lock README.md ./
COPY api api
COPY models models
COPY search search
COPY demo demo
RUN pip install --no-cache-dir --constraint requirements.lock .
# Beside the installed package, where api/graphiql/routes.py looks for them.
COPY --from=graphiql /graphiql/node_modules /usr/local/lib/python3.11/site-packages/api/graphiql/node_modules
CMD ["sh", "-c", "newsroom demo && newsroom serve"]
