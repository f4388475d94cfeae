# Tweestap service image: `tweestap` is the entrypoint, e.g.
#   docker run --rm tweestap:latest keygen
#   docker run ... tweestap:latest serve auth --zone a
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml ./
COPY shared/ shared/
COPY services/ services/
COPY bench/ bench/
RUN pip install . \
    && rm -rf /src \
    && useradd --system --uid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin tweestap

WORKDIR /tmp
USER tweestap
# Containers listen on every interface (the default, 127.0.0.1, suits `tweestap dev`).
ENV TWEESTAP_HOST=0.0.0.0
# auth: zone a 8101, zone b 8201; notifier: zone a 8104, zone b 8204
EXPOSE 8101 8104 8201 8204
ENTRYPOINT ["tweestap"]
CMD ["serve", "auth", "--zone", "a"]
