"""Whole flows on the console adapter: what a person at a terminal sees, start to finish."""

import datetime as dt

from tests.adapters.test_console import run_script


async def test_announcement_preview_send_report_then_scheduled_and_cancelled(app):
    script = (
        ":as Olu organizer\n/announce\nRegistration is open! @everyone\nannouncements\n1\n\n1\n:click 1\n"
        "/announce\nLater news\nannouncements\n1\n2023-06-20 09:00\n1\n:click 1\n"
        "/announce scheduled\n/announce cancel 2\n/announce scheduled\n:advance 12d\n"
    )
    output = await run_script(app, script)
    assert "Preview (only you can see this):" in output
    assert "[#announcements] Registration is open! @everyone" in output
    assert "Announcement #1:\n- ✅ Console #announcements" in output
    assert "Announcement #2 is scheduled for Tuesday, June 20, 2023 at 9:00 AM EDT" in output
    assert "#2 Tuesday, June 20, 2023 at 9:00 AM EDT to Console #announcements: “Later news”" in output
    assert "Announcement #2 is cancelled" in output
    assert "No announcements are scheduled." in output
    assert "[#announcements] Later news" not in output


async def test_questions_in_a_session_thread_and_coalitions(app):
    app.clock.advance(dt.datetime(2023, 10, 13, 12, 49, tzinfo=dt.UTC) - app.clock.now())  # 8:49 in New York
    script = (
        ":as Olu organizer\n/event setup\n:advance 1m\n"
        ":as Ana\n/ask opening Where do I start?\n/ask opening Is it ok to be new? anonymous=yes\n:click 1\n"
        "/coalition join Curriculum reform\n/coalition members Curriculum reform\n"
        '/coalition propose "🌱 Green Med Ed" "Climate and health equity"\n'
        ":as Olu organizer\n:click coal-approve:6\n"
        ":as Ana\n/coalition join 🌱 Green Med Ed\n/coalition leave Curriculum reform\n"
    )
    output = await run_script(app, script)
    assert "🔔 Starting" in output and "Q&A: Opening keynote" in output
    assert "❓ Ana asks: Where do I start?" in output
    assert "will appear without your name" in output
    assert "❓ Anonymous question: Is it ok to be new?" in output
    assert "[ana added to #coalition-curriculum-reform]" in output
    assert "[#coalition-curriculum-reform] 👋 Welcome, Ana, to Curriculum reform!" in output  # after the reply
    assert "Curriculum reform (1): Ana (console)" in output
    assert "Coalition proposed by Ana (console): 🌱 Green Med Ed" in output
    assert "[DM to ana] Your coalition 🌱 Green Med Ed was approved" in output
    assert "[created channel #coalition-green-med-ed]" in output
    assert "You left Curriculum reform." in output


async def test_circles_from_opt_in_to_follow_up(app):
    joins = "".join(
        f":as {name}\n/circles join\n{role}\nall\n{school}\n\n"
        for name, role, school in [
            ("Ana", 1, "Sinai"),
            ("Ben", 2, "NYU"),
            ("Cam", 3, "Howard"),
            ("Dee", 6, ""),
            ("Eli", 1, "Columbia"),
            ("Fay", 4, "Sinai"),
        ]
    )
    script = joins + (
        ":as Olu organizer\n/circles match dry-run=yes\n/circles match\n:advance 1d\n:advance 7d\n"
        ":as Ana\n:click circ-met:1:yes\n:click circ-met:2:yes\n:as Olu organizer\n/circles stats\n"
    )
    output = await run_script(app, script)
    assert output.count("You're in!") == 6
    assert "Dry run (seed" in output and "Console: 2 circle(s)" in output
    assert "Round #1 is announced" in output and "6 member(s) were told" in output
    assert output.count("Your coalition circle (round #1)") == 6
    assert output.count("Did your coalition circle (round #1) get to meet?") == 6
    assert "Thanks for telling us!" in output and "someone else's circle" in output
    assert "6 active members; 1 round(s), 2 circle(s)" in output


async def test_a_report_is_relayed_both_ways(app):
    script = (
        ":as Rae\n/report Someone keeps messaging me about=@sam\n"
        ":as Olu organizer\n/report reply 1 Thank you, we are on it.\n"
        ":as Rae\n/report reply 1 It happened again.\n"
        ":as Sam\n/report reply 1 what is this\n"
        ":as Olu organizer\n/report close 1\n"
    )
    output = await run_script(app, script)
    assert "Report #1 from Rae (console)" in output and "Someone keeps messaging me" in output
    assert "[DM to rae] 🛡️ The organizers answered your report #1" in output
    assert "Report #1, the reporter adds:" in output
    assert "You have no report #1." in output
    assert "[DM to rae] 🛡️ Your report #1 is closed" in output
    assert "[DM to sam]" not in output
