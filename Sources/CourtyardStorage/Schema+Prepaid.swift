// swift-format-ignore-file
// (Migrations are checksummed: their statements stay byte for byte as first released.)
extension Schema {
    /// Prepaid metering: plans (which wallets pay for which meter, at which tariff, with which thresholds and
    /// friendly-credit windows), one rated charge per accepted reading, the desired and reported supply state of each
    /// valve or switch, manual overrides, the device command queue, and the notification outbox.
    ///
    /// A plan keeps its running rating state (tier position in the current period, the sub-fen remainder not yet
    /// deducted) in its own row, updated in the same transaction as the reading, its charge and the ledger transfers.
    static let prepaid = Migration(version: 6, name: "prepaid", statements: [
        // Where an IoT platform takes commands for its devices (an HTTP callback, signed like its webhooks).
        "ALTER TABLE integrations ADD COLUMN command_url TEXT",
        """
        CREATE TABLE prepaid_plans (
            id TEXT PRIMARY KEY,
            company_id TEXT NOT NULL REFERENCES companies(id),
            community_id TEXT NOT NULL REFERENCES communities(id),
            house_id TEXT NOT NULL REFERENCES houses(id),
            device_id TEXT NOT NULL REFERENCES devices(id),
            register TEXT NOT NULL,
            utility TEXT NOT NULL CHECK (utility IN ('electricity', 'water', 'gas', 'heating')),
            config TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('active', 'ended')),
            created_by TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        )
        """,
        // The plan's running rating state, apart from its configuration so the per-batch update rewrites a small row.
        """
        CREATE TABLE prepaid_running (
            plan_id TEXT PRIMARY KEY REFERENCES prepaid_plans(id),
            company_id TEXT NOT NULL REFERENCES companies(id),
            period_key TEXT,
            period_usage_milli BIGINT NOT NULL,
            carry_exact BIGINT NOT NULL,
            last_measured_at BIGINT,
            warned INTEGER NOT NULL
        )
        """,
        "CREATE UNIQUE INDEX prepaid_plans_meter ON prepaid_plans (device_id, register) WHERE status = 'active'",
        "CREATE INDEX prepaid_plans_house ON prepaid_plans (company_id, house_id)",
        // Every house whose wallets pay for a plan (its own, and any other named in its wallets): what a top-up looks up.
        """
        CREATE TABLE prepaid_plan_payers (
            plan_id TEXT NOT NULL REFERENCES prepaid_plans(id),
            house_id TEXT NOT NULL REFERENCES houses(id),
            company_id TEXT NOT NULL REFERENCES companies(id),
            PRIMARY KEY (house_id, plan_id)
        )
        """,
        """
        CREATE TABLE prepaid_charges (
            id TEXT PRIMARY KEY,
            company_id TEXT NOT NULL REFERENCES companies(id),
            community_id TEXT NOT NULL REFERENCES communities(id),
            plan_id TEXT NOT NULL REFERENCES prepaid_plans(id),
            reading_id TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('reading', 'revision')),
            measured_at BIGINT NOT NULL,
            local_day TEXT NOT NULL,
            period_key TEXT NOT NULL,
            usage_milli BIGINT NOT NULL,
            position_milli BIGINT NOT NULL,
            time_window TEXT,
            exact BIGINT NOT NULL,
            amount BIGINT NOT NULL,
            rounding TEXT NOT NULL,
            carry_after BIGINT NOT NULL,
            from_wallets BIGINT NOT NULL,
            to_shortfall BIGINT NOT NULL,
            detail TEXT NOT NULL,
            created_at BIGINT NOT NULL
        )
        """,
        "CREATE INDEX prepaid_charges_plan ON prepaid_charges (plan_id, measured_at)",
        "CREATE INDEX prepaid_charges_reading ON prepaid_charges (reading_id)",
        """
        CREATE TABLE supply_states (
            device_id TEXT PRIMARY KEY REFERENCES devices(id),
            company_id TEXT NOT NULL REFERENCES companies(id),
            community_id TEXT NOT NULL REFERENCES communities(id),
            plan_id TEXT REFERENCES prepaid_plans(id),
            desired TEXT NOT NULL CHECK (desired IN ('open', 'closed')),
            reason TEXT NOT NULL,
            reported TEXT,
            reported_at BIGINT,
            safety_lock TEXT,
            cutoff_due_at BIGINT,
            reconcile_attempts INTEGER NOT NULL DEFAULT 0,
            callback_integration_id TEXT REFERENCES integrations(id),
            updated_at BIGINT NOT NULL
        )
        """,
        "CREATE INDEX supply_states_due ON supply_states (cutoff_due_at) WHERE cutoff_due_at IS NOT NULL",
        """
        CREATE TABLE supply_overrides (
            id TEXT PRIMARY KEY,
            company_id TEXT NOT NULL REFERENCES companies(id),
            community_id TEXT NOT NULL REFERENCES communities(id),
            device_id TEXT NOT NULL REFERENCES devices(id),
            kind TEXT NOT NULL CHECK (kind IN ('engineer_hold', 'exemption')),
            hold_state TEXT CHECK (hold_state IN ('open', 'closed')),
            reason TEXT NOT NULL,
            expires_at BIGINT NOT NULL,
            created_by TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            ended_at BIGINT,
            ended_by TEXT
        )
        """,
        "CREATE INDEX supply_overrides_device ON supply_overrides (device_id, expires_at)",
        """
        CREATE TABLE device_commands (
            id TEXT PRIMARY KEY,
            company_id TEXT NOT NULL REFERENCES companies(id),
            community_id TEXT NOT NULL REFERENCES communities(id),
            device_id TEXT NOT NULL REFERENCES devices(id),
            action TEXT NOT NULL CHECK (action IN ('open', 'close')),
            reason TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'delivered', 'succeeded', 'failed', 'expired', 'superseded')),
            transport TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            max_attempts INTEGER NOT NULL,
            next_attempt_at BIGINT NOT NULL,
            expires_at BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            sent_at BIGINT,
            delivered_at BIGINT,
            completed_at BIGINT,
            error TEXT,
            wait_for_uplink INTEGER NOT NULL DEFAULT 0
        )
        """,
        "CREATE INDEX device_commands_device ON device_commands (device_id, created_at)",
        "CREATE INDEX device_commands_open ON device_commands (state, next_attempt_at) WHERE state IN ('queued', 'sent', 'delivered')",
        """
        CREATE TABLE notification_outbox (
            id TEXT PRIMARY KEY,
            company_id TEXT NOT NULL REFERENCES companies(id),
            community_id TEXT NOT NULL REFERENCES communities(id),
            house_id TEXT,
            device_id TEXT,
            kind TEXT NOT NULL,
            audience TEXT NOT NULL,
            dedup_key TEXT NOT NULL,
            payload TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            delivered_at BIGINT,
            UNIQUE (company_id, dedup_key)
        )
        """,
        "CREATE INDEX notification_outbox_house ON notification_outbox (company_id, house_id, created_at)",
        """
        CREATE TABLE community_holidays (
            company_id TEXT NOT NULL REFERENCES companies(id),
            community_id TEXT NOT NULL REFERENCES communities(id),
            day TEXT NOT NULL,
            name TEXT NOT NULL,
            PRIMARY KEY (community_id, day)
        )
        """,
    ])
}
