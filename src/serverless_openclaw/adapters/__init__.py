"""Adapters of the ports: `aws` (boto3), `embedded` (SQLite, for the local product) and
`memory` (in-process, for unit tests). Each family passes the same contract suite
(tests/contracts/)."""
