-- Settings the bot keeps between runs (such as the fingerprint of the last command sync).
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- What people told the bot about themselves; one row per person per platform.
CREATE TABLE people (
    platform TEXT NOT NULL,
    user_id TEXT NOT NULL,
    display_name TEXT NOT NULL DEFAULT '',
    timezone TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (platform, user_id)
);
