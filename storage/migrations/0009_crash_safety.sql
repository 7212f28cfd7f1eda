-- A place /event setup is about to create, written before asking the platform and removed once the
-- place is in event_places: after a crash in between, a channel with this name is the event's own
-- (welcomed, archived at the end), not one that existed before and was adopted.
CREATE TABLE event_place_intents (
    platform TEXT NOT NULL,
    key TEXT NOT NULL,   -- as in event_places: 'lobby', 'area:ume'…
    name TEXT NOT NULL,  -- the planned name
    created_at TEXT NOT NULL,
    PRIMARY KEY (platform, key)
);

-- Platform event ids already handled (Slack's Events API redelivers an event when an
-- acknowledgement was slow or lost, up to minutes later), so a redelivery reaching a restarted bot
-- is not answered twice. Rows are pruned after an hour.
CREATE TABLE seen_events (
    platform TEXT NOT NULL,
    event_id TEXT NOT NULL,
    seen_at REAL NOT NULL,  -- Unix time (real, not the rehearsal clock: redeliveries follow real time)
    PRIMARY KEY (platform, event_id)
);
CREATE INDEX seen_events_at ON seen_events (seen_at);
