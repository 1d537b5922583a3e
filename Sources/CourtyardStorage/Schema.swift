// swift-format-ignore-file
// (Migrations are checksummed: their statements stay byte for byte as first released.)
/// Courtyard's schema as an ordered list of migrations.
///
/// Every tenant table carries `company_id` and `community_id` (communities
/// themselves use their own `id` as community), which is what
/// ``ScopedStore`` filters on. The DDL is portable: it runs as written on
/// SQLite 3.35+ and PostgreSQL 15.
public enum Schema {
    public static let migrations: [Migration] = [foundation, ledger, billing, ledgerBalancesAndLinks, ingestion, prepaid, payments, recentReadings,
                                                 frontDeskSearch, outboxBacklog, ledgerAccountSchemes]

    /// Which communities keep hash-only account ids (`AccountIdScheme.hashOnly`): those that already had accounts when
    /// owner-ordered ids became the default. The journal's hashes cover account ids, so their ledgers keep the ids
    /// they were written with; every other community (and every new one) derives owner-ordered ids. Read at open and
    /// after migrating (`Database.registerAccountIdSchemes()`).
    static let ledgerAccountSchemes = Migration(version: 11, name: "ledger_account_schemes", statements: [
        """
        CREATE TABLE ledger_account_schemes (
            community_id TEXT PRIMARY KEY REFERENCES communities(id),
            company_id TEXT NOT NULL REFERENCES companies(id),
            scheme INTEGER NOT NULL
        )
        """,
        """
        INSERT INTO ledger_account_schemes (community_id, company_id, scheme)
        SELECT community_id, MIN(company_id), 1 FROM ledger_accounts GROUP BY community_id
        """,
    ])

    /// The notifications not yet delivered, oldest first, without reading the delivered ones: what the outbox backlog
    /// gauge counts every 30 s, and what a notification sender takes next.
    static let outboxBacklog = Migration(version: 10, name: "outbox_backlog", statements: [
        "CREATE INDEX notification_outbox_undelivered ON notification_outbox (created_at) WHERE delivered_at IS NULL",
    ])

    /// Makes the ledger's write per transfer small: balances in a narrow table of their own, and per-account back-links
    /// in place of the journal's two per-account indexes.
    ///
    /// A batch of random transfers touches most accounts, so every account row
    /// it updates used to rewrite a page of the wide `ledger_accounts` table
    /// (ids, owner, purpose…): tens of MB per commit. `ledger_balances` holds
    /// only the numbers that change. Each entry records the previous entry of
    /// its debit and of its credit account, and each balance row its account's
    /// last entry, so statements and "as of" balances walk an account's own
    /// chain instead of two random-key indexes taking an insert per transfer.
    /// Existing data is carried over and linked up before the old columns and
    /// indexes go. See docs/PERFORMANCE.md.
    static let ledgerBalancesAndLinks = Migration(version: 4, name: "ledger_balances_and_links", statements: [
        """
        CREATE TABLE ledger_balances (
            account_id TEXT PRIMARY KEY REFERENCES ledger_accounts(id),
            debits_posted BIGINT NOT NULL DEFAULT 0,
            credits_posted BIGINT NOT NULL DEFAULT 0,
            debits_pending BIGINT NOT NULL DEFAULT 0,
            credits_pending BIGINT NOT NULL DEFAULT 0,
            last_sequence BIGINT NOT NULL DEFAULT 0
        )
        """,
        """
        INSERT INTO ledger_balances (account_id, debits_posted, credits_posted, debits_pending, credits_pending)
        SELECT id, debits_posted, credits_posted, debits_pending, credits_pending FROM ledger_accounts
        """,
        "ALTER TABLE ledger_accounts DROP COLUMN debits_posted",
        "ALTER TABLE ledger_accounts DROP COLUMN credits_posted",
        "ALTER TABLE ledger_accounts DROP COLUMN debits_pending",
        "ALTER TABLE ledger_accounts DROP COLUMN credits_pending",
        "ALTER TABLE ledger_entries ADD COLUMN debit_previous BIGINT NOT NULL DEFAULT 0",
        "ALTER TABLE ledger_entries ADD COLUMN credit_previous BIGINT NOT NULL DEFAULT 0",
        """
        UPDATE ledger_entries SET
            debit_previous = COALESCE((SELECT MAX(p.sequence) FROM ledger_entries p
                WHERE p.community_id = ledger_entries.community_id AND p.sequence < ledger_entries.sequence
                  AND (p.debit_account_id = ledger_entries.debit_account_id OR p.credit_account_id = ledger_entries.debit_account_id)), 0),
            credit_previous = COALESCE((SELECT MAX(p.sequence) FROM ledger_entries p
                WHERE p.community_id = ledger_entries.community_id AND p.sequence < ledger_entries.sequence
                  AND (p.debit_account_id = ledger_entries.credit_account_id OR p.credit_account_id = ledger_entries.credit_account_id)), 0)
        """,
        """
        UPDATE ledger_balances SET last_sequence = COALESCE((SELECT MAX(e.sequence) FROM ledger_entries e, ledger_accounts a
            WHERE a.id = ledger_balances.account_id AND e.community_id = a.community_id
              AND (e.debit_account_id = a.id OR e.credit_account_id = a.id)), 0)
        """,
        "DROP INDEX ledger_entries_debit",
        "DROP INDEX ledger_entries_credit",
    ])

    static let billing = Migration(version: 3, name: "billing", statements: [
        """
        CREATE TABLE fee_items (
            id TEXT PRIMARY KEY,
            company_id TEXT NOT NULL REFERENCES companies(id),
            community_id TEXT NOT NULL REFERENCES communities(id),
            code TEXT NOT NULL,
            name TEXT NOT NULL,
            category TEXT NOT NULL,
            billing_cycle TEXT NOT NULL,
            usage_kind TEXT,
            due_days INTEGER NOT NULL,
            late_fee_policy TEXT,
            large_household TEXT,
            apportion_basis TEXT,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            UNIQUE (community_id, code)
        )
        """,
        """
        CREATE TABLE fee_standards (
            id TEXT PRIMARY KEY,
            company_id TEXT NOT NULL REFERENCES companies(id),
            community_id TEXT NOT NULL REFERENCES communities(id),
            fee_item_id TEXT NOT NULL REFERENCES fee_items(id),
            version INTEGER NOT NULL,
            effective_from TEXT NOT NULL,
            effective_until TEXT,
            rule TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            UNIQUE (fee_item_id, version)
        )
        """,
        """
        CREATE TABLE fee_attachments (
            id TEXT PRIMARY KEY,
            company_id TEXT NOT NULL REFERENCES companies(id),
            community_id TEXT NOT NULL REFERENCES communities(id),
            fee_item_id TEXT NOT NULL REFERENCES fee_items(id),
            scope TEXT NOT NULL,
            target TEXT,
            shared_meter_id TEXT,
            valid_from TEXT NOT NULL,
            valid_until TEXT,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        )
        """,
        "CREATE INDEX fee_attachments_item ON fee_attachments (fee_item_id)",
        // Bill runs find the houses of a building or unit attachment (a lift meter's 公摊 group) in id order.
        // (The tenant columns follow the building, so the planner prefers this index over houses_scope for these queries.)
        "CREATE INDEX houses_building ON houses (building_id, company_id, community_id, id)",
        "CREATE INDEX houses_unit ON houses (unit_id, company_id, community_id, id) WHERE unit_id IS NOT NULL",
        """
        CREATE TABLE usage_records (
            id TEXT PRIMARY KEY,
            company_id TEXT NOT NULL REFERENCES companies(id),
            community_id TEXT NOT NULL REFERENCES communities(id),
            subject_kind TEXT NOT NULL,
            subject_id TEXT NOT NULL,
            usage_kind TEXT NOT NULL,
            period TEXT NOT NULL,
            quantity_milli BIGINT NOT NULL,
            windows TEXT,
            estimated INTEGER NOT NULL,
            source TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            UNIQUE (subject_id, usage_kind, period)
        )
        """,
        """
        CREATE TABLE bill_runs (
            id TEXT PRIMARY KEY,
            company_id TEXT NOT NULL REFERENCES companies(id),
            community_id TEXT NOT NULL REFERENCES communities(id),
            period TEXT NOT NULL,
            status TEXT NOT NULL,
            summary TEXT NOT NULL,
            created_by TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        )
        """,
        "CREATE INDEX bill_runs_period ON bill_runs (community_id, period)",
        """
        CREATE TABLE bills (
            id TEXT PRIMARY KEY,
            company_id TEXT NOT NULL,
            community_id TEXT NOT NULL,
            house_id TEXT NOT NULL,
            bill_run_id TEXT NOT NULL,
            period TEXT NOT NULL,
            issue_date TEXT NOT NULL,
            due_date TEXT NOT NULL,
            currency TEXT NOT NULL,
            total_amount BIGINT NOT NULL,
            paid_amount BIGINT NOT NULL,
            status TEXT NOT NULL,
            posted_at BIGINT,
            late_fee_waived_by TEXT,
            late_fee_waiver_reason TEXT,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        )
        """,
        "CREATE INDEX bills_house ON bills (house_id, period)",
        "CREATE INDEX bills_run ON bills (bill_run_id)",
        "CREATE INDEX bills_due ON bills (community_id, status, due_date)",
        """
        CREATE TABLE bill_lines (
            id TEXT PRIMARY KEY,
            company_id TEXT NOT NULL,
            community_id TEXT NOT NULL,
            bill_id TEXT,
            house_id TEXT NOT NULL,
            fee_item_id TEXT NOT NULL,
            period TEXT NOT NULL,
            kind TEXT NOT NULL,
            standard_id TEXT NOT NULL,
            standard_version INTEGER NOT NULL,
            quantity_milli BIGINT,
            unit TEXT,
            unit_price BIGINT,
            basis TEXT NOT NULL,
            breakdown TEXT NOT NULL,
            exact TEXT NOT NULL,
            rounding TEXT NOT NULL,
            billable_days INTEGER NOT NULL,
            period_days INTEGER NOT NULL,
            amount BIGINT NOT NULL,
            adjusts_line_id TEXT,
            created_at BIGINT NOT NULL
        )
        """,
        "CREATE UNIQUE INDEX bill_lines_charge ON bill_lines (house_id, fee_item_id, period) WHERE kind = 'charge'",
        "CREATE INDEX bill_lines_bill ON bill_lines (bill_id)",
        "CREATE INDEX bill_lines_adjusts ON bill_lines (adjusts_line_id) WHERE adjusts_line_id IS NOT NULL",
        """
        CREATE TABLE audit_log (
            id TEXT PRIMARY KEY,
            company_id TEXT NOT NULL,
            community_id TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            subject_type TEXT NOT NULL,
            subject_id TEXT NOT NULL,
            reason TEXT,
            before_state TEXT,
            after_state TEXT,
            created_at BIGINT NOT NULL
        )
        """,
        "CREATE INDEX audit_log_subject ON audit_log (company_id, subject_id)",
        """
        CREATE TABLE bill_reminders (
            id TEXT PRIMARY KEY,
            company_id TEXT NOT NULL,
            community_id TEXT NOT NULL,
            bill_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            for_date TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            UNIQUE (bill_id, kind, for_date)
        )
        """,
    ])

    static let ledger = Migration(version: 2, name: "ledger", statements: [
        """
        CREATE TABLE ledger_accounts (
            id TEXT PRIMARY KEY,
            company_id TEXT NOT NULL REFERENCES companies(id),
            community_id TEXT NOT NULL REFERENCES communities(id),
            kind TEXT NOT NULL,
            owner TEXT NOT NULL,
            purpose TEXT NOT NULL,
            currency TEXT NOT NULL,
            debits_posted BIGINT NOT NULL DEFAULT 0,
            credits_posted BIGINT NOT NULL DEFAULT 0,
            debits_pending BIGINT NOT NULL DEFAULT 0,
            credits_pending BIGINT NOT NULL DEFAULT 0,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            UNIQUE (community_id, kind, owner, purpose)
        )
        """,
        "CREATE INDEX ledger_accounts_scope ON ledger_accounts (company_id, community_id, kind)",
        """
        CREATE TABLE ledger_entries (
            company_id TEXT NOT NULL,
            community_id TEXT NOT NULL,
            sequence BIGINT NOT NULL,
            transfer_id TEXT NOT NULL,
            type TEXT NOT NULL,
            debit_account_id TEXT NOT NULL REFERENCES ledger_accounts(id),
            credit_account_id TEXT NOT NULL REFERENCES ledger_accounts(id),
            amount BIGINT NOT NULL,
            pending_amount BIGINT NOT NULL,
            currency TEXT NOT NULL,
            code TEXT NOT NULL,
            reference TEXT,
            actor TEXT NOT NULL,
            hold_id TEXT,
            expires_at BIGINT,
            recorded_at BIGINT NOT NULL,
            content_digest TEXT NOT NULL,
            debit_balance_after BIGINT NOT NULL,
            credit_balance_after BIGINT NOT NULL,
            previous_hash TEXT NOT NULL,
            hash TEXT NOT NULL,
            PRIMARY KEY (community_id, sequence),
            UNIQUE (company_id, transfer_id)
        )
        """,
        "CREATE INDEX ledger_entries_debit ON ledger_entries (debit_account_id, sequence)",
        "CREATE INDEX ledger_entries_credit ON ledger_entries (credit_account_id, sequence)",
        """
        CREATE TABLE ledger_holds (
            id TEXT NOT NULL,
            company_id TEXT NOT NULL,
            community_id TEXT NOT NULL,
            debit_account_id TEXT NOT NULL REFERENCES ledger_accounts(id),
            credit_account_id TEXT NOT NULL REFERENCES ledger_accounts(id),
            amount BIGINT NOT NULL,
            currency TEXT NOT NULL,
            code TEXT NOT NULL,
            expires_at BIGINT NOT NULL,
            status TEXT NOT NULL,
            PRIMARY KEY (company_id, id)
        )
        """,
        "CREATE INDEX ledger_holds_due ON ledger_holds (status, expires_at)",
        """
        CREATE TABLE ledger_heads (
            community_id TEXT PRIMARY KEY REFERENCES communities(id),
            company_id TEXT NOT NULL,
            sequence BIGINT NOT NULL,
            hash TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE ledger_policies (
            company_id TEXT NOT NULL,
            community_id TEXT NOT NULL REFERENCES communities(id),
            purpose TEXT NOT NULL,
            emergency_credit BIGINT NOT NULL CHECK (emergency_credit >= 0),
            PRIMARY KEY (community_id, purpose)
        )
        """,
    ])

    static let foundation = Migration(version: 1, name: "foundation", statements: [
        """
        CREATE TABLE companies (
            id TEXT PRIMARY KEY,
            code TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            currency TEXT NOT NULL DEFAULT 'CNY',
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        )
        """,
        """
        CREATE TABLE communities (
            id TEXT PRIMARY KEY,
            company_id TEXT NOT NULL REFERENCES companies(id),
            code TEXT NOT NULL,
            name TEXT NOT NULL,
            time_zone TEXT NOT NULL,
            currency TEXT NOT NULL,
            address TEXT,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            UNIQUE (company_id, code)
        )
        """,
        """
        CREATE TABLE buildings (
            id TEXT PRIMARY KEY,
            company_id TEXT NOT NULL REFERENCES companies(id),
            community_id TEXT NOT NULL REFERENCES communities(id),
            name TEXT NOT NULL,
            floors INTEGER,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            UNIQUE (community_id, name)
        )
        """,
        """
        CREATE TABLE units (
            id TEXT PRIMARY KEY,
            company_id TEXT NOT NULL REFERENCES companies(id),
            community_id TEXT NOT NULL REFERENCES communities(id),
            building_id TEXT NOT NULL REFERENCES buildings(id),
            name TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            UNIQUE (building_id, name)
        )
        """,
        """
        CREATE TABLE houses (
            id TEXT PRIMARY KEY,
            company_id TEXT NOT NULL REFERENCES companies(id),
            community_id TEXT NOT NULL REFERENCES communities(id),
            building_id TEXT NOT NULL REFERENCES buildings(id),
            unit_id TEXT REFERENCES units(id),
            number TEXT NOT NULL,
            floor INTEGER,
            built_area_hundredths BIGINT NOT NULL CHECK (built_area_hundredths > 0),
            indoor_area_hundredths BIGINT NOT NULL CHECK (indoor_area_hundredths > 0),
            house_type TEXT NOT NULL,
            status TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            CHECK (indoor_area_hundredths <= built_area_hundredths)
        )
        """,
        "CREATE UNIQUE INDEX houses_number ON houses (building_id, COALESCE(unit_id, ''), number)",
        "CREATE INDEX houses_scope ON houses (company_id, community_id, id)",
        """
        CREATE TABLE people (
            id TEXT PRIMARY KEY,
            company_id TEXT NOT NULL REFERENCES companies(id),
            community_id TEXT NOT NULL REFERENCES communities(id),
            name TEXT NOT NULL,
            phone TEXT,
            email TEXT,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        )
        """,
        "CREATE INDEX people_scope ON people (company_id, community_id, id)",
        """
        CREATE TABLE occupancies (
            id TEXT PRIMARY KEY,
            company_id TEXT NOT NULL REFERENCES companies(id),
            community_id TEXT NOT NULL REFERENCES communities(id),
            house_id TEXT NOT NULL REFERENCES houses(id),
            person_id TEXT NOT NULL REFERENCES people(id),
            role TEXT NOT NULL CHECK (role IN ('owner', 'resident', 'tenant')),
            valid_from TEXT NOT NULL,
            valid_until TEXT,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        )
        """,
        "CREATE INDEX occupancies_house ON occupancies (house_id, valid_from)",
        "CREATE INDEX occupancies_person ON occupancies (person_id)",
        """
        CREATE TABLE parking_spaces (
            id TEXT PRIMARY KEY,
            company_id TEXT NOT NULL REFERENCES companies(id),
            community_id TEXT NOT NULL REFERENCES communities(id),
            code TEXT NOT NULL,
            kind TEXT NOT NULL,
            house_id TEXT REFERENCES houses(id),
            area_hundredths BIGINT CHECK (area_hundredths IS NULL OR area_hundredths > 0),
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            UNIQUE (community_id, code)
        )
        """,
        """
        CREATE TABLE vehicles (
            id TEXT PRIMARY KEY,
            company_id TEXT NOT NULL REFERENCES companies(id),
            community_id TEXT NOT NULL REFERENCES communities(id),
            plate TEXT NOT NULL,
            person_id TEXT REFERENCES people(id),
            house_id TEXT REFERENCES houses(id),
            parking_space_id TEXT REFERENCES parking_spaces(id),
            energy TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            UNIQUE (community_id, plate)
        )
        """,
        """
        CREATE TABLE devices (
            id TEXT PRIMARY KEY,
            company_id TEXT NOT NULL REFERENCES companies(id),
            community_id TEXT NOT NULL REFERENCES communities(id),
            device_key TEXT NOT NULL,
            kind TEXT NOT NULL,
            protocol TEXT NOT NULL,
            model TEXT,
            address TEXT,
            status TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            UNIQUE (company_id, device_key)
        )
        """,
        """
        CREATE TABLE device_bindings (
            id TEXT PRIMARY KEY,
            company_id TEXT NOT NULL REFERENCES companies(id),
            community_id TEXT NOT NULL REFERENCES communities(id),
            device_id TEXT NOT NULL REFERENCES devices(id),
            target_kind TEXT NOT NULL CHECK (target_kind IN ('house', 'parking_space', 'facility', 'common_area')),
            target_id TEXT NOT NULL,
            valid_from TEXT NOT NULL,
            valid_until TEXT,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        )
        """,
        "CREATE INDEX device_bindings_device ON device_bindings (device_id, valid_from)",
        "CREATE INDEX device_bindings_target ON device_bindings (target_kind, target_id)",
        """
        CREATE TABLE users (
            id TEXT PRIMARY KEY,
            company_id TEXT REFERENCES companies(id),
            login TEXT NOT NULL UNIQUE,
            display_name TEXT NOT NULL,
            role TEXT NOT NULL,
            password_hash TEXT NOT NULL,
            person_id TEXT REFERENCES people(id),
            community_ids TEXT,
            status TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            CHECK (role = 'platform_admin' OR company_id IS NOT NULL),
            CHECK (role <> 'owner' OR person_id IS NOT NULL)
        )
        """,
        """
        CREATE TABLE sessions (
            token_hash TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users(id),
            created_at BIGINT NOT NULL,
            expires_at BIGINT NOT NULL
        )
        """,
        "CREATE INDEX sessions_user ON sessions (user_id)",
        """
        CREATE TABLE machine_credentials (
            id TEXT PRIMARY KEY,
            company_id TEXT NOT NULL REFERENCES companies(id),
            community_id TEXT REFERENCES communities(id),
            kind TEXT NOT NULL CHECK (kind IN ('device', 'integration')),
            subject TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            created_at BIGINT NOT NULL,
            revoked_at BIGINT
        )
        """,
    ])
}
