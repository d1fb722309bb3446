"""What a model's tokens cost: one price table per model, in USD per million tokens.

The LLM bill is usually larger than the AWS one, and nobody sees it until the provider's
invoice arrives. OpenClaw reports every model call's tokens (input, output, cache reads and
writes) in the session transcript and prices them only for models whose price it knows; our
offline model, custom endpoints and Bedrock come out at zero there. So we price tokens
ourselves, from this table, for every model the same way; a person can override any entry in
their settings (`UserSettings.llmPrices`), for a negotiated price or a model the table lacks.

Every entry says where its figures come from and when they were read. Most are copied from
the model catalogue OpenClaw ships (`dist/extensions/<provider>/openclaw.plugin.json`,
`modelCatalog.providers.<provider>.models[].cost`), so they move with the pin: re-read them
when `core/pins.py` moves (`docs/cost.md`, "LLM prices").

Keys are OpenClaw's model references, `<provider>/<model id>`, as the transcript names them
(`provider` and `model` of each assistant message) and as `agents.defaults.model.primary`
spells them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

MILLION: Final = 1_000_000

OPENCLAW_CATALOGUE: Final = "OpenClaw 2026.9.6's model catalogue ({provider} plugin)"
CATALOGUE_DATE: Final = "2026-09-06"
"""OpenClaw's version is its release date."""


@dataclass(frozen=True, kw_only=True)
class Rates:
    """USD per million tokens of each kind. `input` is what the provider bills for prompt
    tokens that were neither read from nor written to its prompt cache."""

    input: float
    output: float
    cache_read: float
    cache_write: float


@dataclass(frozen=True, kw_only=True)
class ModelPrice:
    rates: Rates
    as_of: str
    source: str
    long_context_from: int | None = None
    """Prompt size (input + cache tokens of one model call) from which `long_context` rates
    apply to the whole call, as OpenAI's tiered prices do."""
    long_context: Rates | None = None

    def rates_for(self, prompt_tokens: int) -> Rates:
        if (
            self.long_context is not None
            and self.long_context_from is not None
            and prompt_tokens >= self.long_context_from
        ):
            return self.long_context
        return self.rates


def _catalogue(provider: str, rates: Rates) -> ModelPrice:
    return ModelPrice(
        rates=rates, as_of=CATALOGUE_DATE, source=OPENCLAW_CATALOGUE.format(provider=provider)
    )


def _openai_tiered(base: Rates, long: Rates) -> ModelPrice:
    return ModelPrice(
        rates=base,
        as_of=CATALOGUE_DATE,
        source=OPENCLAW_CATALOGUE.format(provider="openai"),
        long_context_from=272_001,
        long_context=long,
    )


LLM_PRICES: Final[Mapping[str, ModelPrice]] = {
    # --- Anthropic (the deployment's default provider) --------------------------------------
    "anthropic/claude-sonnet-5": _catalogue(
        "anthropic", Rates(input=2, output=10, cache_read=0.2, cache_write=2.5)
    ),
    "anthropic/claude-opus-5": _catalogue(
        "anthropic", Rates(input=5, output=25, cache_read=0.5, cache_write=6.25)
    ),
    "anthropic/claude-opus-5-5": _catalogue(
        "anthropic", Rates(input=4, output=20, cache_read=0.2, cache_write=5)
    ),
    "anthropic/claude-fable-5-1": _catalogue(
        "anthropic", Rates(input=10, output=50, cache_read=0.25, cache_write=12.5)
    ),
    "anthropic/claude-fable-5": _catalogue(
        "anthropic", Rates(input=10, output=50, cache_read=1, cache_write=12.5)
    ),
    # --- OpenAI (prices double past 272,000 prompt tokens) ----------------------------------
    "openai/gpt-6-astra": _openai_tiered(
        Rates(input=10, output=50, cache_read=1, cache_write=12.5),
        Rates(input=20, output=75, cache_read=2, cache_write=25),
    ),
    "openai/gpt-6-sol": _openai_tiered(
        Rates(input=2, output=10, cache_read=0.2, cache_write=2.5),
        Rates(input=4, output=15, cache_read=0.4, cache_write=5),
    ),
    "openai/gpt-6-luna": _openai_tiered(
        Rates(input=0.1, output=0.5, cache_read=0.01, cache_write=0.125),
        Rates(input=0.2, output=0.75, cache_read=0.02, cache_write=0.25),
    ),
    "openai/gpt-5.6-terra": _catalogue(
        "openai", Rates(input=2.5, output=15, cache_read=0.25, cache_write=3.125)
    ),
    "openai/gpt-5.6-luna": _catalogue(
        "openai", Rates(input=1, output=6, cache_read=0.1, cache_write=1.25)
    ),
    # --- Amazon Bedrock (not in OpenClaw's catalogue) ---------------------------------------
    "amazon-bedrock/us.anthropic.claude-sonnet-4-6-v1": ModelPrice(
        rates=Rates(input=3, output=15, cache_read=0.3, cache_write=3.75),
        as_of="2026-09-06",
        source=(
            "Anthropic's list price for Claude Sonnet 4.x, which Bedrock's on-demand price "
            "has matched; not read from Bedrock's price list (override it in Settings if "
            "your region or cross-region profile differs)"
        ),
    ),
    # --- the built-in offline model ---------------------------------------------------------
    "offline/offline-echo": ModelPrice(
        rates=Rates(input=0, output=0, cache_read=0, cache_write=0),
        as_of="2026-09-06",
        source="the offline model runs on this machine and costs nothing",
    ),
}
"""The one LLM price table. Models missing here (custom endpoints, new releases) are priced
only by a person's override, else left unpriced: their tokens are counted, their cost not."""

DEPLOYMENT_DEFAULT_MODELS: Final[Mapping[str, str]] = {
    "anthropic": "anthropic/claude-sonnet-5",
    "openai": "openai/gpt-6-astra",
    "bedrock": "amazon-bedrock/us.anthropic.claude-sonnet-4-6-v1",
    "openai-compatible": "custom/default",
    "offline": "offline/offline-echo",
}
"""The model reference each `deploy --llm-provider` runs without `--model-id` (what
`agent/openclaw/config.py::ModelChoice.primary` writes; a unit test keeps the two equal)."""

PROVIDER_PREFIXES: Final[Mapping[str, str]] = {
    "anthropic": "anthropic",
    "openai": "openai",
    "bedrock": "amazon-bedrock",
    "openai-compatible": "custom",
    "offline": "offline",
}
"""Our provider names -> OpenClaw's provider ids (the first part of a model reference)."""


def model_ref(provider: str, model_id: str | None) -> str:
    """OpenClaw's reference of a deployment's model (`deploy --llm-provider/--model-id`)."""
    if model_id is None:
        return DEPLOYMENT_DEFAULT_MODELS[provider]
    return f"{PROVIDER_PREFIXES[provider]}/{model_id}"


def rates_for(
    ref: str, prompt_tokens: int, overrides: Mapping[str, Rates] | None = None
) -> Rates | None:
    """A person's override for `ref`, else the table's rates for a call of that prompt size,
    else None (unpriced)."""
    if overrides and ref in overrides:
        return overrides[ref]
    price = LLM_PRICES.get(ref)
    return price.rates_for(prompt_tokens) if price is not None else None
