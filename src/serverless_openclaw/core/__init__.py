"""Pure logic: no boto3, no sockets, no environment. Everything here is unit-testable."""
