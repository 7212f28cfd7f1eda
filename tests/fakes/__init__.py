"""In-repo fakes of the platforms the bot talks to; each listens on 127.0.0.1 only."""
