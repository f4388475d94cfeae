# Tweestap service image: `tweestap` is the entrypoint, e.g.
#   docker run --rm tweestap:0.1.0 keygen
#   docker run ... tweestap:0.1.0 serve auth --zone a
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
# The client SDK: the web front end calls the services through it.
COPY client/ client/
RUN pip install ./client . \
    && rm -rf /src \
    && useradd --system --uid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin tweestap

WORKDIR /tmp
USER tweestap
# Containers listen on every interface (the default, 127.0.0.1, suits `tweestap dev`); the
# operations listener (/metrics, /healthz, /readyz) too, inside the deployment's network only.
ENV TWEESTAP_HOST=0.0.0.0 \
    TWEESTAP_OPS_HOST=0.0.0.0
# Public ports: web 8100, auth 8101/8201, enrolment 8102/8202, certs 8103/8203, notifier 8104/8204;
# operations ports: the public port + 1000 (9101-9104, 9201-9204). Publish only the public ones.
EXPOSE 8100 8101 8102 8103 8104 8201 8202 8203 8204 9101 9102 9103 9104 9201 9202 9203 9204
ENTRYPOINT ["tweestap"]
CMD ["serve", "auth", "--zone", "a"]
