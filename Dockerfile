# partnerbot: one image for `run` (polling or webhook) and `worker`.
# Build:  docker build -t partnerbot .
# Run:    docker run -d --name partnerbot --env-file partnerbot.env \
#           -v partnerbot-data:/app/data partnerbot            (polling, SQLite in the volume)
#         docker run ... partnerbot worker                      (delivery engines only)
#         docker run --rm --env-file partnerbot.env partnerbot check
# Settings come from the environment only (see config.example.env); nothing secret is
# baked into the image, and .env is kept out of the build context by .dockerignore.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A font with Chinese characters for the /stats chart (bot/inquiries/charts.py).
RUN apt-get update && apt-get install -y --no-install-recommends fonts-wqy-microhei \
    && rm -rf /var/lib/apt/lists/*

# Only what the package needs; tests and benchmarks stay out of the image.
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage
RUN pip install /src && rm -rf /src

# A fixed non-root user; its uid is what a bind-mounted data folder must be writable by.
RUN useradd --system --uid 10001 --user-group --home-dir /app --create-home partnerbot \
    && mkdir -p /app/data && chown partnerbot:partnerbot /app/data
WORKDIR /app
USER partnerbot

# The default DATABASE_URL is the SQLite file data/partnerbot.sqlite3 under /app; keep it
# on a volume. With PostgreSQL (DATABASE_URL=postgresql://...) the volume stays empty.
VOLUME ["/app/data"]

# In webhook mode (and for the Mini App) the bot must listen on every interface of the container so that a
# published port (or a proxy on the same network) reaches it; polling ignores both.
ENV WEBHOOK_LISTEN=0.0.0.0 \
    WEBHOOK_PORT=8443 \
    WEBAPP_LISTEN=0.0.0.0 \
    WEBAPP_PORT=8081
EXPOSE 8443 8081

# `run` and `worker` stop cleanly on SIGTERM (docker stop).
ENTRYPOINT ["partnerbot"]
CMD ["run"]
