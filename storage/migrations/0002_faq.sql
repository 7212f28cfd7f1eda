-- FAQ entries changed at run time by organizers (/faq add|edit|remove); they override faq.toml.
CREATE TABLE faq_overrides (
    entry_id TEXT PRIMARY KEY,
    question TEXT NOT NULL,
    alternates TEXT NOT NULL DEFAULT '[]',  -- JSON list
    answer TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]',        -- JSON list
    removed INTEGER NOT NULL DEFAULT 0,
    updated_by TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Questions the bot could not answer with confidence (for /faq gaps and forwarding).
CREATE TABLE faq_log (
    id INTEGER PRIMARY KEY,
    asked_at TEXT NOT NULL,
    platform TEXT NOT NULL,
    user_id TEXT NOT NULL,
    question TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('suggest', 'unknown')),
    top TEXT NOT NULL DEFAULT '[]'          -- JSON [[entry_id, score], …]
);
CREATE INDEX faq_log_asked_at ON faq_log (asked_at);

-- Questions forwarded to organizers, and their answers.
CREATE TABLE faq_forwarded (
    id INTEGER PRIMARY KEY,
    log_id INTEGER UNIQUE REFERENCES faq_log (id),
    platform TEXT NOT NULL,
    user_id TEXT NOT NULL,
    display_name TEXT NOT NULL,
    question TEXT NOT NULL,
    asked_at TEXT NOT NULL,
    answer TEXT,
    answered_by TEXT,
    answered_at TEXT
);
