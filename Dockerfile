# Fluoroscope collector image: run it as a sidecar or as a host daemon.
#   docker build -t fluoroscope .
#   docker run -p 2000:2000/udp -p 2000:2000 -p 4317:4317 -p 4318:4318 \
#       -v fluoroscope-data:/var/lib/fluoroscope fluoroscope

# The wheel compiles the hot modules with mypyc, which needs a C compiler; the image that runs
# it does not.
FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY collector collector
COPY sdk sdk
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim

RUN useradd --system --uid 10001 --home-dir /var/lib/fluoroscope fluoroscope \
    && mkdir -p /var/lib/fluoroscope && chown fluoroscope /var/lib/fluoroscope

COPY --from=build /wheels /tmp/wheels
RUN pip install --no-cache-dir /tmp/wheels/*.whl && rm -rf /tmp/wheels /root/.cache

USER fluoroscope
# Inside a container the collector must listen on every interface; data lives in the volume.
ENV FLUOROSCOPE_DATA_DIR=/var/lib/fluoroscope \
    FLUOROSCOPE_UDP=0.0.0.0:2000 \
    FLUOROSCOPE_HTTP=0.0.0.0:2000 \
    FLUOROSCOPE_OTLP_GRPC=0.0.0.0:4317 \
    FLUOROSCOPE_OTLP_HTTP=0.0.0.0:4318
VOLUME ["/var/lib/fluoroscope"]
EXPOSE 2000/udp 2000/tcp 4317 4318

HEALTHCHECK --interval=10s --timeout=3s --start-period=5s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:2000/healthz', timeout=2)"]

ENTRYPOINT ["fluoroscope"]
CMD ["serve"]
