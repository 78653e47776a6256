# The harness in a container: the sandbox API and Locust master/workers of
# docker-compose.monitoring.yml (profiles "sandbox" and "locust").
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# Only what the package needs, so an edit to docs or tests does not rebuild the dependency layer.
COPY pyproject.toml README.md ./
COPY harness ./harness
COPY seed ./seed
RUN pip install . \
 && useradd --create-home --uid 10001 harness
USER harness

# sandbox, Locust web UI, Locust master <-> workers
EXPOSE 8080 8089 5557
CMD ["harness", "--help"]
