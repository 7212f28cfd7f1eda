"""The command line: `python -m bot run | console | check-config | db backup`."""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import sys
from pathlib import Path

from bot.app import App
from bot.config import Config, ConfigError, config_path, load_config
from bot.core.clock import Clock, parse_instant
from bot.secrets import setup_logging
from storage.db import Database, MigrationError


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        default=argparse.SUPPRESS,
        help="config file (default: $BOT_CONFIG or config.toml)",
    )
    common.add_argument("--log-level", default=argparse.SUPPRESS, choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    common.add_argument(
        "--now",
        default=argparse.SUPPRESS,
        help="start the clock at this ISO date-time (rehearsal; or $BOT_NOW)",
    )
    common.add_argument(
        "--speed",
        default=argparse.SUPPRESS,
        type=float,
        help="run the clock N times faster (rehearsal; or $BOT_SPEED)",
    )

    parser = argparse.ArgumentParser(
        prog="python -m bot", parents=[common], description="The conference community bot."
    )
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("run", parents=[common], help="serve every platform with credentials (console if none)")
    console = sub.add_parser("console", parents=[common], help="talk to the bot in this terminal")
    console.add_argument("--user", default="you", help="your display name")
    console.add_argument("--organizer", action="store_true", help="act as an organizer")
    console.add_argument("--channel", default="lobby", help="the channel to start in")
    check = sub.add_parser("check-config", parents=[common], help="validate a config file")
    check.add_argument("path", nargs="?", help="the file (default: --config)")
    sub.add_parser("slack-manifest", parents=[common], help="print the Slack app manifest (JSON)")
    schedule = sub.add_parser("schedule", parents=[common], help="list upcoming scheduled messages")
    schedule.add_argument("--from", dest="since", help="list from this ISO date-time (default: now)")
    schedule.add_argument("--json", action="store_true", help="print JSON")
    proposals = sub.add_parser("proposals", parents=[common], help="proposal intents tools")
    proposals_sub = proposals.add_subparsers(dest="proposals_action", required=True)
    export = proposals_sub.add_parser("export", parents=[common], help="write every intent to a CSV file")
    export.add_argument("path", help="the CSV file to write")
    faq = sub.add_parser("faq", parents=[common], help="FAQ tools for organizers")
    faq_sub = faq.add_subparsers(dest="faq_action", required=True)
    faq_ask = faq_sub.add_parser("ask", parents=[common], help="ask the FAQ a question")
    faq_ask.add_argument("question")
    faq_ask.add_argument("--json", action="store_true", help="print the decision as JSON")
    faq_check = faq_sub.add_parser("check", parents=[common], help="score lines 'expected_id<TAB>question'")
    faq_check.add_argument("file")
    faq_export = faq_sub.add_parser("export", parents=[common], help="write the FAQ with runtime changes")
    faq_export.add_argument("path", nargs="?", help="the file to write (default: print it)")
    db = sub.add_parser("db", parents=[common], help="database tools")
    db_sub = db.add_subparsers(dest="db_action", required=True)
    backup = db_sub.add_parser("backup", parents=[common], help="copy the live database safely")
    backup.add_argument("target", help="the new file to write")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(
        getattr(args, "log_level", None)
        or os.environ.get("BOT_LOG_LEVEL", "WARNING" if args.action in ("console", "check-config") else "INFO")
    )
    try:
        if args.action == "check-config":
            return check_config(args.path or getattr(args, "config", None))
        config = load_config(getattr(args, "config", None))
        clock = make_clock(args, config)
    except ConfigError as exc:
        return report_config_problems(exc)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(dispatch(args, config, clock))
    except MigrationError as exc:
        print(f"database error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def make_clock(args: argparse.Namespace, config: Config) -> Clock:
    start_text = getattr(args, "now", None) or os.environ.get("BOT_NOW")
    speed_text = getattr(args, "speed", None) or os.environ.get("BOT_SPEED") or 1.0
    try:
        speed = float(speed_text)
    except ValueError:
        raise ValueError(f"--speed must be a number, not {speed_text!r}") from None
    if speed <= 0:
        raise ValueError("--speed must be greater than 0")
    start = parse_instant(start_text, config.zone) if start_text else None
    return Clock(start=start, speed=speed)


def check_config(path: str | None) -> int:
    from cogs.faq.knowledge import KnowledgeError, load_entries

    try:
        config = load_config(path)
    except ConfigError as exc:
        return report_config_problems(exc)
    try:
        entries = load_entries(config.resolve(config.faq.path))
    except KnowledgeError as exc:
        return report_config_problems(ConfigError(config_path(path), [f"faq.path: {exc}"]))
    print(
        f"{config_path(path)} is valid: {config.conference.short_name}, "
        f"{len(config.conference.dates)} day(s) from {config.conference.dates[0]}, "
        f"proposals due {config.deadline:%Y-%m-%d %H:%M %Z}; {len(entries)} FAQ entries."
    )
    return 0


def report_config_problems(exc: ConfigError) -> int:
    print(f"{exc.path} has {len(exc.problems)} problem(s):", file=sys.stderr)
    for problem in exc.problems:
        print(f"  {problem}", file=sys.stderr)
    return 2


async def dispatch(args: argparse.Namespace, config: Config, clock: Clock) -> int:
    if args.action == "slack-manifest":
        import json

        from bot.adapters.slack import manifest

        print(json.dumps(manifest(config, App.registry_for(config)), indent=2))
        return 0
    if args.action == "db":
        try:
            db = await Database.open(config.database_path())
        except (OSError, sqlite3.DatabaseError) as exc:
            return report_database_problem(config.database_path(), exc)
        try:
            target = await db.backup(Path(args.target))
        except FileExistsError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        finally:
            await db.close()
        print(f"backed up {config.database_path()} to {target}")
        return 0
    try:
        app = await App.open(config, clock)
    except (OSError, sqlite3.DatabaseError) as exc:
        return report_database_problem(config.database_path(), exc)
    try:
        if args.action == "faq":
            return await faq_tool(app, args)
        if args.action == "schedule":
            return await print_schedule(app, args.since, args.json)
        if args.action == "proposals":
            return await export_proposals(app, Path(args.path))
        if args.action == "console":
            return await run_console(app, args.user, args.organizer, args.channel)
        return await run_platforms(app)
    finally:
        await app.close()


def report_database_problem(path: Path, exc: Exception) -> int:
    """One line for a database path the bot cannot use (no traceback: nothing is wrong with the bot)."""
    if isinstance(exc, FileExistsError | NotADirectoryError):
        reason = "a folder on its path is a file"
    elif isinstance(exc, IsADirectoryError):
        reason = "it is a folder"
    elif isinstance(exc, OSError):
        reason = exc.strerror or str(exc)
    elif "not a database" in str(exc):
        reason = "the file is not a SQLite database"
    else:
        reason = str(exc)
    print(f"database error: cannot use {path}: {reason} (set BOT_DB or [storage] path)", file=sys.stderr)
    return 2


async def faq_tool(app: App, args: argparse.Namespace) -> int:
    from cogs.faq import tools

    if args.faq_action == "ask":
        print(await tools.ask(app, args.question, args.json))
        return 0
    if args.faq_action == "check":
        path = Path(args.file)
        if not path.exists():
            print(f"error: {path} not found", file=sys.stderr)
            return 2
        try:
            report, _ = await tools.check_file(app, path)
        except ValueError as exc:
            print(f"error: {path}: {exc}", file=sys.stderr)
            return 2
        print(report)
        return 0
    text = await tools.export(app)
    if args.path:
        Path(args.path).write_text(text, encoding="utf-8")
        print(f"wrote {args.path}")
    else:
        print(text, end="")
    return 0


async def print_schedule(app: App, since_text: str | None, as_json: bool) -> int:
    import json

    try:
        since = parse_instant(since_text, app.config.zone) if since_text else None
    except ValueError as exc:
        print(f"error: --from: {exc}", file=sys.stderr)
        return 2
    upcoming = await app.deliveries.upcoming(since)
    zone = app.config.zone
    rows = [
        {
            "when": o.due_at.astimezone(zone).isoformat(),
            "what": o.what,
            "key": o.key,
            "label": o.label,
            "where": o.where,
        }
        for o in upcoming
    ]
    if as_json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    elif not rows:
        print("Nothing is scheduled from then on.")
    else:
        for row in rows:
            print(f"{row['when']}  {row['label']}  → {row['where']}")
    return 0


async def export_proposals(app: App, path: Path) -> int:
    from cogs.proposals import export_csv
    from storage import proposals

    path.write_bytes(export_csv(await proposals.search(app.db)))
    print(f"wrote {path}")
    return 0


async def run_console(app: App, user: str = "you", organizer: bool = False, channel: str = "lobby") -> int:
    from bot.adapters.console import Console

    return await Console(app, user=user, organizer=organizer, channel=channel).run()


async def run_platforms(app: App) -> int:
    from bot.runtime import configured_platforms, serve_platforms
    from bot.stopping import run_until_signalled

    names = configured_platforms()
    if not names:
        print(
            "No platform credentials found (DISCORD_TOKEN, or SLACK_BOT_TOKEN with "
            "SLACK_SIGNING_SECRET or SLACK_APP_TOKEN), so the bot starts in this console.",
            file=sys.stderr,
        )
        return await run_console(app)
    return await run_until_signalled(serve_platforms(app, names))
