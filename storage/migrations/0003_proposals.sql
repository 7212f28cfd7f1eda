-- Proposal intents: what people plan to submit through the official form, until they confirm.
CREATE TABLE intents (
    id INTEGER PRIMARY KEY,
    platform TEXT NOT NULL,
    user_id TEXT NOT NULL,
    display_name TEXT NOT NULL,
    type TEXT NOT NULL,
    area TEXT NOT NULL,
    title TEXT NOT NULL,
    title_key TEXT NOT NULL,  -- the title folded for duplicate detection
    description TEXT NOT NULL,
    co_presenters TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL,
    affiliation TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT 'intent' CHECK (state IN ('intent', 'submitted', 'withdrawn')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    submitted_at TEXT,
    withdrawn_at TEXT
);
CREATE INDEX intents_author ON intents (platform, user_id);
-- One live intent per title per author (withdrawn ones do not count).
CREATE UNIQUE INDEX intents_author_title ON intents (platform, user_id, title_key) WHERE state != 'withdrawn';

-- Late access granted by organizers to a named person after the deadline.
CREATE TABLE late_access (
    platform TEXT NOT NULL,
    user_id TEXT NOT NULL,
    until TEXT NOT NULL,
    granted_by TEXT NOT NULL,
    granted_at TEXT NOT NULL,
    PRIMARY KEY (platform, user_id)
);
