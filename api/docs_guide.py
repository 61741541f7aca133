"""The guide at the top of the API docs (Swagger UI renders the schema's description): getting
started and webhooks, kept as Markdown next to the code (api/guide.md, api/webhooks.md) so the
served docs and the deployed code never disagree."""

from functools import cache
from pathlib import Path

HERE = Path(__file__).resolve().parent
PAGES = ("guide.md", "webhooks.md")


@cache
def guide_markdown() -> str:
    return "\n\n".join((HERE / name).read_text(encoding="utf-8").strip() for name in PAGES)


def schema_guide_add(result, generator, request, public):
    """drf-spectacular postprocessing hook: the guide becomes the schema's description."""
    result["info"]["description"] = guide_markdown()
    return result
