"""One construct per component, each with typed keyword-only settings."""
