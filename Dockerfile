# syntax=docker/dockerfile:1
# Build stage: wheels for the portal and its dependencies.
FROM python:3.11-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir --upgrade pip build
COPY pyproject.toml ./
COPY app ./app
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# Runtime stage: no compilers, a non-root user, gunicorn.
FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 APP_ENV=production \
    INSTANCE_PATH=/var/lib/portal
RUN useradd --system --create-home --uid 10001 portal \
 && mkdir -p /var/lib/portal/uploads /var/lib/portal/metrics && chown -R portal /var/lib/portal
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/* && rm -rf /wheels
WORKDIR /srv/portal
COPY --chown=portal config.py wsgi.py gunicorn.conf.py ./
COPY --chown=portal migrations ./migrations
USER portal
EXPOSE 5000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/healthz', timeout=2)"
# Metrics in multiprocess mode for the web workers only (gunicorn.conf.py); each start empties
# the directory of an earlier run's files. Other commands (worker, flask) run without it.
CMD ["sh", "-c", "export PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus && rm -rf $PROMETHEUS_MULTIPROC_DIR && mkdir -p $PROMETHEUS_MULTIPROC_DIR && exec gunicorn wsgi:app --bind 0.0.0.0:5000 --workers 2 --threads 4 --access-logfile -"]
