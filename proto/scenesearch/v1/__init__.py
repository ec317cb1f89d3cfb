"""Generated gRPC/protobuf stubs for the scenesearch.v1 API (regenerate with `make proto`)."""
