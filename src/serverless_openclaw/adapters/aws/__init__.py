"""Adapters over boto3. The only package that imports boto3/botocore; botocore errors are
converted to `core.errors` here and never seen by business code."""
