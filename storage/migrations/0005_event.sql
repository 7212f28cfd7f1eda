-- Places the bot created for the event on each platform (so setup is idempotent and archive
-- touches only its own).
CREATE TABLE event_places (
    platform TEXT NOT NULL,
    key TEXT NOT NULL,        -- 'lobby', 'area:ume', 'coalitions', 'category'…
    place_id TEXT NOT NULL,
    kind TEXT NOT NULL,       -- 'category', 'channel', 'forum'
    name TEXT NOT NULL,
    archived INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    PRIMARY KEY (platform, key)
);

-- The Q&A thread opened for each session on each platform.
CREATE TABLE session_threads (
    platform TEXT NOT NULL,
    session_id TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    PRIMARY KEY (platform, session_id)
);

-- Questions asked with /ask; anonymous ones wait for the asker's confirmation.
CREATE TABLE session_questions (
    id INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL,
    platform TEXT NOT NULL,
    user_id TEXT NOT NULL,
    display_name TEXT NOT NULL,
    text TEXT NOT NULL,
    anonymous INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'posted', 'cancelled')),
    created_at TEXT NOT NULL
);

-- Topic coalitions: the defaults from config, and ones attendees propose.
CREATE TABLE coalitions (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    prompt TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('proposed', 'active', 'declined')),
    proposed_by TEXT NOT NULL DEFAULT '',  -- 'platform:user_id' ('' for config defaults)
    created_at TEXT NOT NULL
);

CREATE TABLE coalition_members (
    coalition_id INTEGER NOT NULL REFERENCES coalitions (id),
    platform TEXT NOT NULL,
    user_id TEXT NOT NULL,
    display_name TEXT NOT NULL,
    joined_at TEXT NOT NULL,
    PRIMARY KEY (coalition_id, platform, user_id)
);

-- Where each coalition talks on each platform (a forum thread on Discord, a channel on Slack).
CREATE TABLE coalition_places (
    coalition_id INTEGER NOT NULL REFERENCES coalitions (id),
    platform TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    thread_id TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (coalition_id, platform)
);

-- The moderation log: organizer actions and the authors of anonymous questions. Organizers only.
CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    platform TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
