# One image for every clearmesh process: `clearmesh serve <order|matching|wallet|kyc|settlement|edge>`,
# `clearmesh migrate`. Runs as a non-root user on a read-only root filesystem: the data
# directory and /tmp are the only writable paths (emptyDir volumes in Kubernetes, k8s/base).
# The generated protobuf code and the descriptor set are committed under protos/gen/python and
# installed with the package, so nothing is generated at run time.

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/clearmesh
COPY pyproject.toml README.md ./
COPY protos/gen/python ./protos/gen/python
COPY services ./services
COPY gateway ./gateway
# Bytecode compiled here: the running container cannot write __pycache__.
RUN /opt/clearmesh/bin/pip install --no-cache-dir . \
    && /opt/clearmesh/bin/python -m compileall -q /opt/clearmesh

FROM python:3.11-slim-bookworm
RUN groupadd --system --gid 10001 clearmesh \
    && useradd --system --uid 10001 --gid clearmesh --no-create-home \
       --home-dir /var/lib/clearmesh --shell /usr/sbin/nologin clearmesh \
    && install -d -o clearmesh -g clearmesh -m 0700 /var/lib/clearmesh
COPY --from=build /opt/clearmesh /opt/clearmesh
ENV PATH=/opt/clearmesh/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CLEARMESH_DATA_DIR=/var/lib/clearmesh \
    CLEARMESH_GRPC_HOST=0.0.0.0 \
    CLEARMESH_EDGE_HOST=0.0.0.0
WORKDIR /var/lib/clearmesh
USER 10001:10001
# gRPC (each service in its own container), the REST edge, Prometheus metrics.
EXPOSE 50051 8080 9090
ENTRYPOINT ["clearmesh"]
CMD ["--help"]
