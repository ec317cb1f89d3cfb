"""Stateless search replicas (`serve --backend milvus --replica-of PRIMARY`)."""
