"""The dev stack: everything needed to run the product on one machine without an AWS account.

Nothing outside `local/` (and tests) imports from here: production code paths are the same
code, pointed at local endpoints through settings and `AWS_ENDPOINT_URL`.
"""
