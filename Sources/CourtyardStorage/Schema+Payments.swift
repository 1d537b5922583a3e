// swift-format-ignore-file
// (Migrations are checksummed: their statements stay byte for byte as first released.)
extension Schema {
    /// Payments: orders sent to channels, settled payments (one per channel transaction), how each payment was
    /// allocated (late fees, bill principal, wallets, deposits), every verified channel callback (applied or held for
    /// review, never dropped), refunds with their approval trail, cashier shifts, gapless receipts, deposits with their
    /// release conditions and deductions, bank statement lines, and channel reconciliation runs.
    ///
    /// Every table carries `company_id`; channel transaction ids are unique per company and channel, which is the
    /// idempotency key of a callback, and it commits in the same transaction as the ledger transfers it causes.
    static let payments = Migration(version: 7, name: "payments", statements: [
        """
        CREATE TABLE payment_orders (
            id TEXT PRIMARY KEY,
            company_id TEXT NOT NULL REFERENCES companies(id),
            community_id TEXT NOT NULL REFERENCES communities(id),
            house_id TEXT NOT NULL REFERENCES houses(id),
            out_trade_no TEXT NOT NULL,
            purpose TEXT NOT NULL CHECK (purpose IN ('bills', 'top_up', 'deposit')),
            items TEXT NOT NULL,
            amount BIGINT NOT NULL CHECK (amount > 0),
            currency TEXT NOT NULL,
            channel TEXT NOT NULL CHECK (channel IN ('wechatpay', 'alipay', 'cash', 'pos', 'bank')),
            payer_person_id TEXT REFERENCES people(id),
            payer_relation TEXT NOT NULL CHECK (payer_relation IN ('occupant', 'proxy', 'staff')),
            state TEXT NOT NULL CHECK (state IN ('created', 'paid', 'closed', 'expired')),
            channel_request TEXT,
            expires_at BIGINT NOT NULL,
            paid_at BIGINT,
            payment_id TEXT,
            request_digest TEXT NOT NULL,
            created_by TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            UNIQUE (company_id, out_trade_no)
        )
        """,
        "CREATE INDEX payment_orders_house ON payment_orders (company_id, house_id, created_at)",
        "CREATE INDEX payment_orders_open ON payment_orders (state, expires_at) WHERE state = 'created'",
        """
        CREATE TABLE proxy_payers (
            company_id TEXT NOT NULL REFERENCES companies(id),
            community_id TEXT NOT NULL REFERENCES communities(id),
            house_id TEXT NOT NULL REFERENCES houses(id),
            person_id TEXT NOT NULL REFERENCES people(id),
            relation TEXT NOT NULL,
            granted_by TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            PRIMARY KEY (house_id, person_id)
        )
        """,
        """
        CREATE TABLE cashier_shifts (
            id TEXT PRIMARY KEY,
            company_id TEXT NOT NULL REFERENCES companies(id),
            community_id TEXT NOT NULL REFERENCES communities(id),
            cashier_id TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
            opening_float BIGINT NOT NULL CHECK (opening_float >= 0),
            expected_cash BIGINT,
            counted_cash BIGINT,
            difference BIGINT,
            note TEXT,
            opened_at BIGINT NOT NULL,
            closed_at BIGINT
        )
        """,
        "CREATE UNIQUE INDEX cashier_shifts_one_open ON cashier_shifts (company_id, cashier_id) WHERE status = 'open'",
        """
        CREATE TABLE payments (
            id TEXT PRIMARY KEY,
            company_id TEXT NOT NULL REFERENCES companies(id),
            community_id TEXT NOT NULL REFERENCES communities(id),
            house_id TEXT NOT NULL REFERENCES houses(id),
            order_id TEXT REFERENCES payment_orders(id),
            channel TEXT NOT NULL CHECK (channel IN ('wechatpay', 'alipay', 'cash', 'pos', 'bank')),
            channel_transaction_id TEXT NOT NULL,
            amount BIGINT NOT NULL CHECK (amount > 0),
            currency TEXT NOT NULL,
            refunded_amount BIGINT NOT NULL CHECK (refunded_amount >= 0 AND refunded_amount <= amount),
            payer_person_id TEXT,
            payer_account TEXT,
            shift_id TEXT REFERENCES cashier_shifts(id),
            status TEXT NOT NULL CHECK (status IN ('settled', 'voided')),
            voided_by TEXT,
            void_reason TEXT,
            receipt_number BIGINT,
            paid_at BIGINT NOT NULL,
            recorded_by TEXT NOT NULL,
            content_digest TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            UNIQUE (company_id, channel, channel_transaction_id)
        )
        """,
        "CREATE INDEX payments_house ON payments (company_id, house_id, paid_at)",
        "CREATE INDEX payments_day ON payments (company_id, paid_at)",
        "CREATE INDEX payments_shift ON payments (shift_id) WHERE shift_id IS NOT NULL",
        """
        CREATE TABLE payment_allocations (
            id TEXT PRIMARY KEY,
            company_id TEXT NOT NULL REFERENCES companies(id),
            payment_id TEXT NOT NULL REFERENCES payments(id),
            target_kind TEXT NOT NULL CHECK (target_kind IN ('bill_late_fee', 'bill_principal', 'wallet', 'deposit')),
            target_id TEXT NOT NULL,
            amount BIGINT NOT NULL CHECK (amount > 0),
            refunded_amount BIGINT NOT NULL CHECK (refunded_amount >= 0 AND refunded_amount <= amount),
            transfer_id TEXT NOT NULL
        )
        """,
        "CREATE INDEX payment_allocations_payment ON payment_allocations (payment_id)",
        "CREATE INDEX payment_allocations_target ON payment_allocations (target_id)",
        // Late fees are computed as of a date; paying them settles the bill's late fees through that date.
        """
        CREATE TABLE bill_late_fee_settlements (
            bill_id TEXT NOT NULL REFERENCES bills(id),
            company_id TEXT NOT NULL REFERENCES companies(id),
            payment_id TEXT NOT NULL REFERENCES payments(id),
            settled_through TEXT NOT NULL,
            amount BIGINT NOT NULL,
            PRIMARY KEY (bill_id, payment_id)
        )
        """,
        // Every verified callback, applied or not: a late, unknown or mismatched one is held here for staff.
        """
        CREATE TABLE payment_callbacks (
            id TEXT PRIMARY KEY,
            company_id TEXT NOT NULL REFERENCES companies(id),
            channel TEXT NOT NULL,
            channel_transaction_id TEXT NOT NULL,
            out_trade_no TEXT NOT NULL,
            amount BIGINT NOT NULL,
            outcome TEXT NOT NULL CHECK (outcome IN ('applied', 'amount_mismatch', 'unknown_order', 'order_closed', 'order_paid_otherwise',
                                                  'apply_failed')),
            detail TEXT NOT NULL,
            payload TEXT NOT NULL,
            times_received INTEGER NOT NULL,
            received_at BIGINT NOT NULL,
            last_received_at BIGINT NOT NULL,
            resolved_by TEXT,
            resolution TEXT,
            resolved_at BIGINT,
            UNIQUE (company_id, channel, channel_transaction_id)
        )
        """,
        "CREATE INDEX payment_callbacks_review ON payment_callbacks (company_id, outcome) WHERE outcome <> 'applied' AND resolved_at IS NULL",
        """
        CREATE TABLE receipt_counters (
            company_id TEXT PRIMARY KEY REFERENCES companies(id),
            last_number BIGINT NOT NULL
        )
        """,
        """
        CREATE TABLE receipts (
            id TEXT PRIMARY KEY,
            company_id TEXT NOT NULL REFERENCES companies(id),
            community_id TEXT NOT NULL REFERENCES communities(id),
            number BIGINT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('payment', 'refund', 'deposit_release')),
            subject_id TEXT NOT NULL,
            token TEXT NOT NULL UNIQUE,
            document TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            UNIQUE (company_id, number),
            UNIQUE (company_id, kind, subject_id)
        )
        """,
        """
        CREATE TABLE refunds (
            id TEXT PRIMARY KEY,
            company_id TEXT NOT NULL REFERENCES companies(id),
            community_id TEXT NOT NULL REFERENCES communities(id),
            house_id TEXT NOT NULL REFERENCES houses(id),
            request_id TEXT NOT NULL,
            request_digest TEXT NOT NULL,
            source_kind TEXT NOT NULL CHECK (source_kind IN ('payment', 'bill_line', 'wallet')),
            source_id TEXT NOT NULL,
            payment_id TEXT REFERENCES payments(id),
            amount BIGINT NOT NULL CHECK (amount > 0),
            currency TEXT NOT NULL,
            reason_code TEXT NOT NULL,
            reason TEXT NOT NULL,
            destination TEXT NOT NULL CHECK (destination IN ('original_channel', 'wallet', 'cash')),
            state TEXT NOT NULL CHECK (state IN ('pending_approval', 'approved', 'rejected', 'processing', 'succeeded', 'failed')),
            rule_decision TEXT NOT NULL,
            requested_by TEXT NOT NULL,
            decided_by TEXT,
            decision_reason TEXT,
            decided_at BIGINT,
            channel_refund_id TEXT,
            failure TEXT,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            UNIQUE (company_id, request_id)
        )
        """,
        "CREATE INDEX refunds_payment ON refunds (payment_id)",
        "CREATE INDEX refunds_state ON refunds (company_id, state)",
        """
        CREATE TABLE deposits (
            id TEXT PRIMARY KEY,
            company_id TEXT NOT NULL REFERENCES companies(id),
            community_id TEXT NOT NULL REFERENCES communities(id),
            house_id TEXT NOT NULL REFERENCES houses(id),
            kind TEXT NOT NULL CHECK (kind IN ('decoration', 'access_card', 'facility', 'other')),
            amount BIGINT NOT NULL CHECK (amount > 0),
            payment_id TEXT NOT NULL REFERENCES payments(id),
            conditions TEXT NOT NULL,
            satisfied TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('held', 'released')),
            deducted BIGINT NOT NULL,
            refunded BIGINT NOT NULL,
            released_by TEXT,
            released_at BIGINT,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        )
        """,
        "CREATE INDEX deposits_house ON deposits (company_id, house_id)",
        """
        CREATE TABLE deposit_deductions (
            id TEXT PRIMARY KEY,
            company_id TEXT NOT NULL REFERENCES companies(id),
            deposit_id TEXT NOT NULL REFERENCES deposits(id),
            amount BIGINT NOT NULL CHECK (amount > 0),
            reason TEXT NOT NULL,
            created_by TEXT NOT NULL,
            created_at BIGINT NOT NULL
        )
        """,
        "CREATE INDEX deposit_deductions_deposit ON deposit_deductions (deposit_id)",
        """
        CREATE TABLE bank_statement_lines (
            id TEXT PRIMARY KEY,
            company_id TEXT NOT NULL REFERENCES companies(id),
            import_id TEXT NOT NULL,
            row_number INTEGER NOT NULL,
            bank_transaction_id TEXT NOT NULL,
            value_date TEXT NOT NULL,
            amount BIGINT NOT NULL,
            reference TEXT NOT NULL,
            payer_name TEXT,
            status TEXT NOT NULL CHECK (status IN ('matched', 'unmatched', 'resolved')),
            order_id TEXT,
            payment_id TEXT,
            note TEXT,
            created_at BIGINT NOT NULL,
            UNIQUE (company_id, bank_transaction_id)
        )
        """,
        "CREATE INDEX bank_statement_lines_open ON bank_statement_lines (company_id, status)",
        """
        CREATE TABLE reconciliation_runs (
            id TEXT PRIMARY KEY,
            company_id TEXT NOT NULL REFERENCES companies(id),
            channel TEXT NOT NULL,
            statement_date TEXT NOT NULL,
            summary TEXT NOT NULL,
            created_by TEXT NOT NULL,
            created_at BIGINT NOT NULL
        )
        """,
        """
        CREATE TABLE reconciliation_items (
            id TEXT PRIMARY KEY,
            company_id TEXT NOT NULL REFERENCES companies(id),
            run_id TEXT NOT NULL REFERENCES reconciliation_runs(id),
            kind TEXT NOT NULL CHECK (kind IN ('payment', 'refund')),
            outcome TEXT NOT NULL CHECK (outcome IN ('matched', 'missing_ours', 'missing_theirs', 'amount_mismatch')),
            channel_reference TEXT NOT NULL,
            out_trade_no TEXT,
            our_amount BIGINT,
            their_amount BIGINT
        )
        """,
        "CREATE INDEX reconciliation_items_run ON reconciliation_items (run_id, outcome)",
    ])
}
