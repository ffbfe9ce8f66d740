# Image for the driftline API, worker and one-shot migrations (see docker-compose.yml).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY engine ./engine
COPY api ./api
COPY sql ./sql
COPY migrations ./migrations
# Editable install keeps sql/ and migrations/ beside the code, where the engine and Alembic look for them.
RUN pip install -e . && useradd --system --uid 10001 driftline
USER driftline
EXPOSE 8000
CMD ["driftline", "serve", "--host", "0.0.0.0", "--port", "8000"]
