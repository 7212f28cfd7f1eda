-- Conversation prompts for every coalition: posted at once or at a time organizers chose
-- (either way through the delivery ledger, so never twice).
CREATE TABLE coalition_prompts (
    id INTEGER PRIMARY KEY,
    text TEXT NOT NULL,
    send_at TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('scheduled', 'sent', 'cancelled')),
    created_by TEXT NOT NULL,  -- 'platform:user_id'
    created_at TEXT NOT NULL
);

-- Who talked where during the event, for /event summary: messages per person in each area channel
-- (with its session threads) and each coalition's space. Counts only; no text is kept.
CREATE TABLE event_activity (
    platform TEXT NOT NULL,
    space TEXT NOT NULL,  -- 'area:ume' or 'coalition:3'
    user_id TEXT NOT NULL,
    messages INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (platform, space, user_id)
);
