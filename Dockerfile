# The API image for docker-compose: migrations and demo content at start, then uvicorn.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml requirements.lock README.md ./
COPY api api
COPY models models
COPY search search
COPY demo demo
RUN pip install --no-cache-dir --constraint requirements.lock .
CMD ["sh", "-c", "newsroom demo && newsroom serve"]
