# firstline worker image: `firstline serve` (and every other command), non-root, from requirements.lock.
# Multi-stage: the build stage resolves nothing (the lock pins every package) and leaves pip's caches
# and the sources behind; the runtime stage has the virtualenv, the examples and the default config.
# The lock also pins the development tools (pytest, mypy, ruff): one lock for CI and the image keeps
# what is tested what ships; they are a few MB and never run here.
FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY requirements.lock pyproject.toml ./
RUN python -m venv /venv && /venv/bin/pip install --require-virtualenv -r requirements.lock
COPY . .
RUN /venv/bin/pip install --no-deps . && /venv/bin/firstline --help >/dev/null

FROM python:3.11-slim-bookworm AS runtime
RUN useradd --system --uid 10001 --create-home --home-dir /var/lib/firstline firstline
COPY --from=build /venv /venv
COPY --from=build /src/config.yaml /app/config.yaml
COPY --from=build /src/examples /app/examples
ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1
WORKDIR /app
USER 10001
EXPOSE 8787
ENTRYPOINT ["firstline"]
CMD ["--config", "/app/config.yaml", "serve", "--host", "0.0.0.0"]
