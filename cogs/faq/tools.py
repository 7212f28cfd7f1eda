"""Organizer tools on the command line: `python -m bot faq ask|check|export`."""

from __future__ import annotations

import json
from pathlib import Path

from bot.app import App
from bot.core.text import to_plain
from cogs.faq.cog import FaqCog, merged_entries
from cogs.faq.engine import check, read_labelled
from cogs.faq.knowledge import Entry


def _cog(app: App) -> FaqCog:
    return next(c for c in app.cogs if isinstance(c, FaqCog))


async def ask(app: App, question: str, as_json: bool) -> str:
    engine = await _cog(app).engine()
    decision = engine.ask(question)
    top_score = decision.top[0][1] if decision.top else 0.0
    entry = engine.entries.get(decision.entry_id) if decision.entry_id else None
    result = {
        "answered": decision.outcome == "answer",
        "entry_id": decision.entry_id,
        "score": round(top_score, 4),
        "answer": to_plain(_cog(app).answer_text(entry), app.config.zone) if entry else None,
        "suggestions": decision.suggestions,
    }
    if as_json:
        return json.dumps(result, ensure_ascii=False)
    if entry:
        return f"{entry.id} ({top_score:.2f}): {result['answer']}"
    ranked = ", ".join(f"{i} {s:.2f}" for i, s in decision.top) or "nothing close"
    return f"{decision.outcome}: {ranked}"


async def check_file(app: App, path: Path) -> tuple[str, bool]:
    engine = await _cog(app).engine()
    report = check(engine, read_labelled(path.read_text("utf-8")))
    header = f"engine: {engine.ranker.name}; bands: {engine.bands}"
    return "\n".join([header, *report.lines()]), report.in_domain + report.off_topic > 0


async def export(app: App) -> str:
    """The knowledge base as it is now (file + runtime changes), in faq.toml's format."""
    entries = await merged_entries(app.config, app.db)
    header = Path(app.config.resolve(app.config.faq.path)).read_text("utf-8").split("[[entries]]")[0]
    return header + "\n".join(_entry_toml(e) for e in entries)


def _entry_toml(entry: Entry) -> str:
    # JSON strings are valid TOML basic strings (same escapes), so json.dumps quotes safely.
    def q(text: str) -> str:
        return json.dumps(text, ensure_ascii=False)

    lines = ["[[entries]]", f"id = {q(entry.id)}", f"question = {q(entry.question)}", "alternates = ["]
    lines += [f"    {q(a)}," for a in entry.alternates]
    lines += ["]", f"answer = {q(entry.answer)}", f"tags = [{', '.join(q(t) for t in entry.tags)}]", ""]
    return "\n".join(lines)
