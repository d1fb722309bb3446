"""serverless-openclaw: one person's OpenClaw agent on AWS, scaled to zero while idle."""

__version__ = "0.1.0"
