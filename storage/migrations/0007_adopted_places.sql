-- Channels that existed before /event setup and were adopted rather than created: archive leaves them.
ALTER TABLE event_places ADD COLUMN adopted INTEGER NOT NULL DEFAULT 0;
