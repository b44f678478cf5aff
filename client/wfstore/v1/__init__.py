"""Generated protobuf and gRPC modules of the wfstore.v1 contract (do not edit)."""
