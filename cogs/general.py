"""The first commands: /help, /about and /timezone."""

from __future__ import annotations

import datetime as dt
from zoneinfo import available_timezones

from bot.core.clock import find_zone
from bot.core.context import Context
from bot.core.dispatch import UsageError, usage
from bot.core.model import MAX_CHOICES, Choice, Option, Permission, Reply, Timestamp
from bot.core.registry import command
from bot.core.text import join_words, time_left
from storage import people


def conference_days(dates: list[dt.date]) -> str:
    """'Friday, October 13 and Saturday, October 14, 2023'."""
    names = [f"{d:%A}, {d:%B} {d.day}" for d in dates]
    return f"{join_words(names)}, {dates[-1].year}"


_ZONES = sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))


def suggest_zones(partial: str) -> list[str]:
    needle = partial.strip().lower().replace(" ", "_")
    return [z for z in _ZONES if needle in z.lower()][:MAX_CHOICES]


async def _complete_zone(ctx: Context, partial: str) -> list[Choice]:
    return [Choice(z, z) for z in suggest_zones(partial)]


class GeneralCog:
    def __init__(self, app):
        self.app = app

    @command(
        "help",
        "List the commands you can use",
        Option("command", "A command to explain in detail", required=False),
    )
    async def help(self, ctx: Context) -> Reply:
        visible = self.app.registry.visible_to(ctx.actor.is_organizer)
        wanted = (ctx.options["command"] or "").strip().lstrip("/").lower()
        if wanted:
            matches = [c for c in visible if c.name == wanted or c.path[0] == wanted]
            if not matches:
                raise UsageError(f"There is no command /{wanted} you can use. Type /help to list them.")
            lines = []
            for cmd in matches:
                lines.append(f"**{usage(cmd)}**: {cmd.description}")
                lines += [f"- {o.name}{'' if o.required else ' (optional)'}: {o.description}" for o in cmd.options]
            return Reply("\n".join(lines))
        lines = [f"Here is what I can do in {self.app.config.conference.short_name}:"]
        for cmd in visible:
            marker = " (organizers)" if cmd.permission is Permission.ORGANIZER else ""
            lines.append(f"- **/{cmd.name}**: {cmd.description}{marker}")
        lines.append("Type /help COMMAND for the details of one command.")
        return Reply("\n".join(lines))

    @command("about", "The conference: dates, areas, how to take part, links")
    async def about(self, ctx: Context) -> Reply:
        config = self.app.config
        conf, links = config.conference, config.links
        now = ctx.now()
        mode = " ".join(w for w in ("free" if conf.free else "", "virtual" if conf.virtual else "") if w)
        lines = [
            f"**{conf.name}**",
            f"A {mode} conference hosted by the {conf.host}.".replace("the the ", "the "),
            f"**When:** {conference_days(conf.dates)}.",
        ]
        if conf.description:
            lines.append(conf.description)
        lines.append("**Areas:** " + "; ".join(a.label for a in config.areas) + ".")
        lines.append("**Ways to present:** " + join_words([t.label for t in config.proposals.types]) + ".")
        lines.append(
            "**Who should come:** " + join_words(config.audiences.roles) + ": everyone who shapes medical education."
        )
        deadline = Timestamp(config.deadline)
        if now <= config.deadline:
            lines.append(
                f"**Proposals due:** {deadline} ({time_left(config.deadline, now)}). "
                f"Read the [submission guide]({links.submission_guide}), then use the "
                f"[submission form]({links.submission_form})."
            )
        else:
            lines.append(f"**Proposals closed** on {deadline}.")
        registration = f"[Register here]({links.registration})" if links.registration else "the link will be announced"
        lines.append(f"**Registration:** free; {registration}.")
        if conf.initiatives:
            lines.append("**Behind it:** " + "; ".join(conf.initiatives) + ".")
        if conf.supporters:
            lines.append("**Supported by** " + join_words(conf.supporters) + ".")
        conduct = config.event.code_of_conduct
        conduct_text = f"Read the [code of conduct]({conduct}). " if conduct else ""
        lines.append(f"**A safe space:** {conduct_text}Something worrying you? /report tells the organizers privately.")
        faq = links.faq_page or links.conference_page
        lines.append(
            f"**More:** [conference page]({links.conference_page}), [FAQ]({faq}), or write to {links.contact_email}."
        )
        return Reply("\n".join(lines))

    @command(
        "timezone",
        "Set the time zone I use to show you times",
        Option("zone", "An IANA zone such as America/Chicago, or 'reset'", autocomplete=_complete_zone),
    )
    async def timezone(self, ctx: Context) -> Reply:
        typed = ctx.options["zone"].strip()
        actor = ctx.actor
        if typed.lower() == "reset":
            await people.set_timezone(ctx.db, actor.platform, actor.user_id, actor.display_name, None, ctx.now())
            return Reply(f"Done: I'll show times in the conference's zone ({self.app.config.conference.timezone}).")
        zone = find_zone(typed)  # None for unknown names, regions such as 'America' and over-long text
        if zone is None:
            suggestions = suggest_zones(typed)[:3]
            hint = f" Did you mean {', '.join(suggestions)}?" if suggestions else ""
            shown = typed if len(typed) <= 60 else typed[:59] + "…"
            raise UsageError(f"I don't know the time zone {shown!r}.{hint} Use a name like America/Chicago.")
        await people.set_timezone(ctx.db, actor.platform, actor.user_id, actor.display_name, zone.key, ctx.now())
        return Reply(f"Done: I'll show you times in {zone.key}. It is now {Timestamp(ctx.now(), 't')} there.")
