-- Private reports to organizers, and the messages relayed about each (both ways).
CREATE TABLE reports (
    id INTEGER PRIMARY KEY,
    platform TEXT NOT NULL,
    reporter_id TEXT NOT NULL,
    reporter_name TEXT NOT NULL,
    about TEXT NOT NULL DEFAULT '',   -- a message link or a person, as the reporter gave it
    text TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    created_at TEXT NOT NULL
);
CREATE TABLE report_messages (
    id INTEGER PRIMARY KEY,
    report_id INTEGER NOT NULL REFERENCES reports (id),
    sender TEXT NOT NULL CHECK (sender IN ('reporter', 'organizers')),
    author_id TEXT NOT NULL,
    text TEXT NOT NULL,
    at TEXT NOT NULL
);

-- Coalition circles: who opted in, rounds, groups and whether groups met.
CREATE TABLE circle_people (
    platform TEXT NOT NULL,
    user_id TEXT NOT NULL,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    areas TEXT NOT NULL,            -- JSON list of area ids
    institution TEXT NOT NULL DEFAULT '',
    timezone TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('active', 'paused', 'left')),
    paused_until TEXT,
    joined_at TEXT NOT NULL,
    PRIMARY KEY (platform, user_id)
);
CREATE TABLE circle_rounds (
    id INTEGER PRIMARY KEY,
    size INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    match_at TEXT NOT NULL,         -- members are warned before this
    status TEXT NOT NULL CHECK (status IN ('announced', 'matched', 'cancelled')),
    repeats_avoided INTEGER NOT NULL DEFAULT 0,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE circle_groups (
    id INTEGER PRIMARY KEY,
    round_id INTEGER NOT NULL REFERENCES circle_rounds (id),
    number INTEGER NOT NULL,
    UNIQUE (round_id, number)
);
CREATE TABLE circle_members (
    group_id INTEGER NOT NULL REFERENCES circle_groups (id),
    platform TEXT NOT NULL,
    user_id TEXT NOT NULL,
    met TEXT,                       -- 'yes' / 'no' once they answer the follow-up
    PRIMARY KEY (group_id, platform, user_id)
);
