// swift-format-ignore-file
// (Migrations are checksummed: their statements stay byte for byte as first released.)
extension Schema {
    /// Meter readings and what ingestion needs around them: held readings awaiting review, meter replacements,
    /// device presence and its alerts, IoT-platform integrations with their webhook secrets, and seen signatures.
    ///
    /// `meter_readings` holds only accepted readings; each carries the usage since the device's previous accepted
    /// reading of the same register (`usage_milli`, from `since`), so usage per hour, day or month is a range
    /// query over one device. A reading that cannot be accepted as is (a conflicting duplicate, a negative delta,
    /// a value over the plausibility caps) waits in `held_readings` for an engineer.
    static let ingestion = Migration(version: 5, name: "ingestion", statements: [
        "ALTER TABLE devices ADD COLUMN register_modulus_milli BIGINT",
        "ALTER TABLE devices ADD COLUMN firmware TEXT",
        """
        CREATE TABLE meter_readings (
            id TEXT PRIMARY KEY,
            company_id TEXT NOT NULL REFERENCES companies(id),
            community_id TEXT NOT NULL REFERENCES communities(id),
            device_id TEXT NOT NULL REFERENCES devices(id),
            register TEXT NOT NULL,
            measured_at BIGINT NOT NULL,
            received_at BIGINT NOT NULL,
            reading_milli BIGINT,
            usage_milli BIGINT,
            since BIGINT,
            message_id TEXT,
            source TEXT NOT NULL,
            origin TEXT NOT NULL,
            entered_by TEXT,
            note TEXT,
            photo_ref TEXT,
            UNIQUE (device_id, register, measured_at)
        )
        """,
        "CREATE UNIQUE INDEX meter_readings_message ON meter_readings (device_id, message_id) WHERE message_id IS NOT NULL",
        """
        CREATE TABLE held_readings (
            id TEXT PRIMARY KEY,
            company_id TEXT NOT NULL REFERENCES companies(id),
            community_id TEXT NOT NULL REFERENCES communities(id),
            device_id TEXT NOT NULL REFERENCES devices(id),
            register TEXT NOT NULL,
            measured_at BIGINT NOT NULL,
            received_at BIGINT NOT NULL,
            reading_milli BIGINT,
            interval_usage_milli BIGINT,
            message_id TEXT,
            source TEXT NOT NULL,
            reason TEXT NOT NULL,
            detail TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
            decided_by TEXT,
            decided_at BIGINT,
            decision_note TEXT
        )
        """,
        "CREATE INDEX held_readings_status ON held_readings (company_id, status, id)",
        "CREATE INDEX held_readings_key ON held_readings (device_id, register, measured_at)",
        """
        CREATE TABLE meter_replacements (
            id TEXT PRIMARY KEY,
            company_id TEXT NOT NULL REFERENCES companies(id),
            community_id TEXT NOT NULL REFERENCES communities(id),
            device_id TEXT NOT NULL REFERENCES devices(id),
            register TEXT NOT NULL,
            replaced_at BIGINT NOT NULL,
            old_final_milli BIGINT NOT NULL,
            new_start_milli BIGINT NOT NULL,
            reason TEXT NOT NULL,
            created_by TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            UNIQUE (device_id, register, replaced_at)
        )
        """,
        """
        CREATE TABLE device_presence (
            device_id TEXT PRIMARY KEY REFERENCES devices(id),
            company_id TEXT NOT NULL REFERENCES companies(id),
            community_id TEXT NOT NULL REFERENCES communities(id),
            last_seen_at BIGINT NOT NULL,
            online INTEGER NOT NULL,
            changed_at BIGINT NOT NULL
        )
        """,
        "CREATE INDEX device_presence_online ON device_presence (online, last_seen_at)",
        """
        CREATE TABLE device_alerts (
            id TEXT PRIMARY KEY,
            company_id TEXT NOT NULL REFERENCES companies(id),
            community_id TEXT NOT NULL REFERENCES communities(id),
            device_id TEXT NOT NULL REFERENCES devices(id),
            kind TEXT NOT NULL CHECK (kind IN ('offline', 'online')),
            at BIGINT NOT NULL,
            last_seen_at BIGINT NOT NULL
        )
        """,
        "CREATE INDEX device_alerts_device ON device_alerts (device_id, at)",
        """
        CREATE TABLE integrations (
            id TEXT PRIMARY KEY,
            company_id TEXT NOT NULL REFERENCES companies(id),
            name TEXT NOT NULL,
            secret TEXT NOT NULL,
            previous_secret TEXT,
            rotated_at BIGINT,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            UNIQUE (company_id, name)
        )
        """,
        """
        CREATE TABLE webhook_signatures (
            signature TEXT PRIMARY KEY,
            integration_id TEXT NOT NULL REFERENCES integrations(id),
            expires_at BIGINT NOT NULL
        )
        """,
        "CREATE INDEX webhook_signatures_expiry ON webhook_signatures (expires_at)",
        // Bumped by every change to readings, holds, replacements or presence made outside the ingestion writer, so
        // the writer knows to forget what it keeps in memory.
        "CREATE TABLE ingest_generation (id INTEGER PRIMARY KEY, value BIGINT NOT NULL)",
        "INSERT INTO ingest_generation (id, value) VALUES (1, 0)",
    ])
}
