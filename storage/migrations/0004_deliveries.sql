-- The delivery ledger: one row per (what, occurrence, platform, target), so every scheduled
-- message goes out effectively once, across crashes and restarts.
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY,
    what TEXT NOT NULL,        -- e.g. 'deadline', 'nudge', 'announcement'
    occurrence TEXT NOT NULL,  -- e.g. '7d', 'passed', an announcement id
    platform TEXT NOT NULL,
    target TEXT NOT NULL,      -- 'channel:ID' or 'user:ID'
    due_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'skipped')),
    attempts INTEGER NOT NULL DEFAULT 0,
    message_id TEXT,
    detail TEXT NOT NULL DEFAULT '',  -- why it failed or was skipped; 'late' when sent late
    updated_at TEXT NOT NULL,
    UNIQUE (what, occurrence, platform, target)
);
CREATE INDEX deliveries_status ON deliveries (status, due_at);

-- People's choices about messages: personal deadline nudges, and the opt-in announcement ping.
ALTER TABLE people ADD COLUMN nudges_off INTEGER NOT NULL DEFAULT 0;
ALTER TABLE people ADD COLUMN notify INTEGER NOT NULL DEFAULT 0;

-- Organizers' announcements, from draft to sent (or cancelled).
CREATE TABLE announcements (
    id INTEGER PRIMARY KEY,
    text TEXT NOT NULL,
    targets TEXT NOT NULL,  -- JSON [{"platform": …, "channel_id": …, "name": …}]
    send_at TEXT,           -- NULL: as soon as confirmed
    ping INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'scheduled', 'sent', 'cancelled')),
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL
);
