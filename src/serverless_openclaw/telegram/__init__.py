"""Telegram, reached only through webhooks into our Lambda (decision D3): the Bot API client,
update models and their classification, pairing codes, message formatting and splitting, and
the reply streamer the bridge drives. No boto3 here; storage lives in `aws/`.
"""
