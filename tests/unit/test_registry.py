import pytest

from bot.app import App
from bot.core.model import Choice, Form, FormField, Option, OptionKind, Permission, Reply
from bot.core.registry import Registry, RegistryError, button, command, form_builder, form_handler


class SampleCog:
    def __init__(self, app=None):
        self.app = app

    @command("ping", "Answer pong")
    async def ping(self, ctx):
        return Reply("pong")

    @command("things add", "Add a thing", Option("name", "The thing"))
    async def add(self, ctx):
        return Reply("added")

    @command("things purge", "Remove all things", permission=Permission.ORGANIZER)
    async def purge(self, ctx):
        return Reply("purged")

    @button("thing")
    async def clicked(self, ctx, argument):
        return Reply(argument)

    @form_builder("thing")
    def thing_form(self, form_id, state):
        return Form(form_id, "A thing", (FormField("name", "Name"),))

    @form_handler("thing")
    async def thing_submitted(self, ctx, values, state):
        return Reply(values["name"])


def test_cogs_declare_commands_buttons_and_forms():
    registry = Registry()
    registry.add_cog(SampleCog())
    assert set(registry.commands) == {"ping", "things add", "things purge"}
    assert registry.top_level() == ["ping", "things"]
    assert [c.name for c in registry.subcommands("things")] == ["things add", "things purge"]
    assert set(registry.buttons) == {"thing"} and set(registry.forms) == {"thing"}
    assert [c.name for c in registry.visible_to(is_organizer=False)] == ["ping", "things add"]
    assert len(registry.visible_to(is_organizer=True)) == 3


def test_fingerprint_changes_only_when_the_command_set_changes():
    first, second = Registry(), Registry()
    first.add_cog(SampleCog())
    second.add_cog(SampleCog())
    assert first.fingerprint() == second.fingerprint()

    class Extra:
        @command("pong", "Answer ping")
        async def pong(self, ctx):
            return Reply("ping")

    second.add_cog(Extra())
    assert first.fingerprint() != second.fingerprint()


def test_duplicate_commands_are_refused():
    registry = Registry()
    registry.add_cog(SampleCog())
    with pytest.raises(RegistryError, match="declared twice"):
        registry.add_cog(SampleCog())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "Ping"}, "lowercase"),
        ({"name": "a b c"}, "one level"),
        ({"name": "ok", "description": ""}, "description"),
        ({"name": "ok", "description": "x" * 101}, "description"),
        (
            {"name": "ok", "options": (Option("a", "A", required=False), Option("b", "B"))},
            "after an optional",
        ),
        ({"name": "ok", "options": (Option("a", "A", OptionKind.CHOICE),)}, "choices"),
        (
            {
                "name": "ok",
                "options": (
                    Option("a", "A", OptionKind.CHOICE, choices=tuple(Choice(str(i), str(i)) for i in range(26))),
                ),
            },
            "choices",
        ),
        (
            {"name": "ok", "options": tuple(Option(f"o{i}", "O", required=False) for i in range(26))},
            "more than 25",
        ),
    ],
)
def test_declarations_are_checked_against_platform_limits(kwargs, message):
    from bot.core.model import Command

    async def handler(ctx):
        return Reply("x")

    values = {"description": "Does a thing", "handler": handler} | kwargs
    with pytest.raises(RegistryError, match=message):
        Registry().add_command(Command(**values))


def test_a_name_cannot_be_both_a_command_and_a_group():
    registry = Registry()
    registry.add_cog(SampleCog())

    class Clash:
        @command("things", "Clash")
        async def things(self, ctx):
            return Reply("x")

    with pytest.raises(RegistryError, match="is a group"):
        registry.add_cog(Clash())


def test_forms_need_a_builder_and_a_handler():
    class HalfForm:
        @form_handler("lonely")
        async def submitted(self, ctx, values, state):
            return Reply("x")

    with pytest.raises(RegistryError, match="builder and a handler"):
        Registry().add_cog(HalfForm())


def test_the_shipped_registry_is_valid(config):
    registry = App.registry_for(config)
    assert {"help", "about", "timezone"} <= set(registry.commands)
