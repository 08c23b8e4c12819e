# The edoc image: one image for every role (node, worker, TSA/OCSP development service, CLI).
FROM python:3.11-slim-bookworm
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      poppler-utils openssl xmlsec1 softhsm2 fonts-liberation2 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY edoc ./edoc
COPY signing ./signing
COPY storage ./storage
COPY exchange_axis ./exchange_axis
COPY api ./api
RUN pip install --no-cache-dir .
RUN useradd --system --home /var/lib/edoc edoc && mkdir -p /var/lib/edoc && chown edoc /var/lib/edoc
USER edoc
WORKDIR /var/lib/edoc
ENTRYPOINT ["edoc"]
