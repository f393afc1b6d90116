# edgekd images.
#   CPU (default):  docker build -t edgekd .
#   TensorRT:       docker build --build-arg BASE=nvcr.io/nvidia/tensorrt:24.10-py3 --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu124 --build-arg EXTRAS=trt -t edgekd:trt .
# Run: docker run --rm -v "$PWD:/work" -w /work edgekd run examples/digits/recipe.yaml --out runs/digits
ARG BASE=python:3.11-slim
FROM ${BASE}

ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ARG EXTRAS=""
ENV PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1 HF_HUB_OFFLINE=1

RUN apt-get update && apt-get install -y --no-install-recommends openssh-client && rm -rf /var/lib/apt/lists/*
RUN python3 -m pip install --index-url "${TORCH_INDEX}" "torch>=2.4,<3"

WORKDIR /opt/edgekd
COPY pyproject.toml README.md ./
COPY edgekd ./edgekd
COPY targets ./targets
COPY examples ./examples
RUN python3 -m pip install ".${EXTRAS:+[$EXTRAS]}"

WORKDIR /work
ENTRYPOINT ["edgekd"]
CMD ["--help"]
