# ipvsd image: a static binary plus the tools operators reach for when
# debugging a node (ipvsadm, ipset, iptables in both back-ends).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The release version (make image passes VERSION's), stamped into the binary
# as the image is tagged.
ARG VERSION=dev
RUN make build VERSION=$VERSION

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ipvsadm ipset iptables iproute2 kmod \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/bin/ipvsd /usr/local/bin/ipvsd
ENTRYPOINT ["/usr/local/bin/ipvsd"]
