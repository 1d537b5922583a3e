import CourtyardDomain
import CourtyardLedger
import CourtyardStorage
import Foundation
import SQLKit

/// A deposit (押金): decoration, access card, facility. Held in the house's own deposit account, apart from every other
/// balance; released only when its conditions hold, less itemized deductions, with a voucher listing them.
public struct Deposit: Codable, Sendable, Hashable {
    public enum State: String, Codable, Sendable { case held, released }

    public struct Deduction: Codable, Sendable, Hashable {
        public var id: String
        public var amount: Money
        public var reason: String
        public var createdBy: String
        public var createdAt: Date

        public init(id: String, amount: Money, reason: String, createdBy: String, createdAt: Date) {
            self.id = id; self.amount = amount; self.reason = reason; self.createdBy = createdBy; self.createdAt = createdAt
        }
    }

    public var id: String
    public var communityId: String
    public var houseId: String
    public var kind: String
    public var amount: Money
    public var paymentId: String
    public var conditions: [DepositCondition]
    /// Conditions staff recorded as met (`inspection_passed`, `move_out`), with who and when.
    public var satisfied: [String: String]
    public var state: State
    public var deducted: Money
    public var refunded: Money
    public var deductions: [Deduction]
    public var releasedBy: String?
    public var releasedAt: Date?
    public var createdAt: Date

    public init(
        id: String, communityId: String, houseId: String, kind: String, amount: Money, paymentId: String, conditions: [DepositCondition],
        satisfied: [String: String], state: State, deducted: Money, refunded: Money, deductions: [Deduction], releasedBy: String?,
        releasedAt: Date?, createdAt: Date
    ) {
        self.id = id; self.communityId = communityId; self.houseId = houseId; self.kind = kind; self.amount = amount; self.paymentId = paymentId
        self.conditions = conditions; self.satisfied = satisfied; self.state = state; self.deducted = deducted; self.refunded = refunded
        self.deductions = deductions; self.releasedBy = releasedBy; self.releasedAt = releasedAt; self.createdAt = createdAt
    }

    /// The conditions not met as of `today`.
    public func unmet(today: LocalDate) -> [DepositCondition] {
        conditions.filter { condition in
            switch condition.kind {
            case .dateReached: return condition.on.map { today < $0 } ?? false
            case .inspectionPassed, .moveOut: return satisfied[condition.kind.rawValue] == nil
            }
        }
    }
}

/// Deposits in storage, and their ledger movements (deposit account ← clearing when paid; deposit → revenue per
/// deduction; deposit → wallet or cash on release).
public struct Deposits: TenantStore {
    public let tenant: TenantSQL

    public init(_ tenant: TenantSQL) {
        self.tenant = tenant
    }

    func open(id: String, order: PaymentOrder, paymentId: String, amount: Int64, now: Date) async throws {
        try await tenant.insert(
            into: "deposits",
            columns: [
                "id", "community_id", "house_id", "kind", "amount", "payment_id", "conditions", "satisfied", "state", "deducted", "refunded",
                "created_at", "updated_at",
            ],
            values: [
                id, order.communityId, order.houseId, order.items.depositKind ?? "other", amount, paymentId,
                StoredJSON.encode(order.items.depositConditions ?? []), StoredJSON.encode([String: String]()), "held", Int64(0), Int64(0),
                now.epochMilliseconds, now.epochMilliseconds,
            ]
        ).run()
    }

    public func deposit(id: String, scope: TenantScope, lock: Bool = false) async throws -> Deposit? {
        guard
            let row = try await tenant.select(
                """
                id, community_id, house_id, kind, amount, payment_id, conditions, satisfied, state, deducted, refunded, released_by, released_at, created_at
                """, from: "deposits", where: "id = \(bind: id)", lock: lock ? .forUpdate : .none
            ).first()
        else { return nil }
        let r = RowReader(row, table: "deposits")
        guard scope.includes(communityId: try r.string("community_id")) else { return nil }
        let deductions = try await tenant.select(
            "id, amount, reason, created_by, created_at", from: "deposit_deductions",
            where: "deposit_id = \(bind: id)", then: "ORDER BY id"
        ).all().map { row -> Deposit.Deduction in
            let d = RowReader(row, table: "deposit_deductions")
            return Deposit.Deduction(
                id: try d.string("id"), amount: Money(minorUnits: try d.int64("amount")), reason: try d.string("reason"),
                createdBy: try d.string("created_by"), createdAt: try d.instant("created_at"))
        }
        return Deposit(
            id: try r.string("id"), communityId: try r.string("community_id"), houseId: try r.string("house_id"),
            kind: try r.string("kind"), amount: Money(minorUnits: try r.int64("amount")), paymentId: try r.string("payment_id"),
            conditions: try StoredJSON.decode([DepositCondition].self, try r.string("conditions"), table: "deposits", column: "conditions"),
            satisfied: try StoredJSON.decode([String: String].self, try r.string("satisfied"), table: "deposits", column: "satisfied"),
            state: try r.value("state", as: Deposit.State.self), deducted: Money(minorUnits: try r.int64("deducted")),
            refunded: Money(minorUnits: try r.int64("refunded")), deductions: deductions,
            releasedBy: try r.optionalString("released_by"), releasedAt: try r.optionalInt64("released_at").map(Date.init(epochMilliseconds:)),
            createdAt: try r.instant("created_at"))
    }

    func require(_ id: String, scope: TenantScope) async throws -> Deposit {
        guard let deposit = try await deposit(id: id, scope: scope, lock: true) else {
            throw PaymentError(.notFound, code: "not_found", field: "deposit_id", "no deposit \(id)")
        }
        return deposit
    }

    func saveAudit(_ before: Deposit, _ after: Deposit?, action: String, actor: String, reason: String, now: Date) async throws {
        try await ScopedStore(db, scope: TenantScope(companyId: companyId)).insert(
            AuditEntry(
                id: Identifier.uuidV7(at: now), companyId: companyId, communityId: before.communityId, actor: actor, action: action,
                subjectType: "deposit", subjectId: before.id, reason: reason, beforeState: StoredJSON.encode(before),
                afterState: after.map { StoredJSON.encode($0) }, createdAt: now))
    }

    /// Records that a condition (`inspection_passed`, `move_out`) is met.
    public func satisfy(
        _ id: String, condition: DepositCondition.Kind, note: String, actor: String, scope: TenantScope, now: Date
    ) async throws -> Deposit {
        let deposit = try await require(id, scope: scope)
        guard condition != .dateReached else {
            throw PaymentError(.invalid, code: "condition_automatic", field: "kind", "date conditions are met by the calendar")
        }
        guard deposit.state == .held else { throw PaymentError(.conflict, code: "deposit_released", field: "deposit_id", "the deposit was released") }
        var satisfied = deposit.satisfied
        satisfied[condition.rawValue] = "\(actor) at \(ISO8601DateFormatter().string(from: now)): \(note.prefix(200))"
        try await tenant.update(
            "deposits", set: "satisfied = \(bind: StoredJSON.encode(satisfied)), updated_at = \(bind: now.epochMilliseconds)",
            where: "id = \(bind: id)"
        ).run()
        var after = deposit
        after.satisfied = satisfied
        try await saveAudit(deposit, after, action: "deposit_condition_met", actor: actor, reason: note, now: now)
        return after
    }

    /// Deducts an itemized amount (damage, unreturned card) from a held deposit into revenue.
    public func deduct(_ id: String, amount: Money, reason: String, actor: String, scope: TenantScope, now: Date) async throws -> Deposit {
        let deposit = try await require(id, scope: scope)
        let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else { throw PaymentError(.invalid, code: "reason_required", field: "reason", "a deduction states its reason") }
        guard amount.minorUnits > 0 else { throw PaymentError(.invalid, code: "amount_not_positive", field: "amount", "a deduction is more than 0") }
        try await PaymentError.requireCurrency([(amount, "amount.currency")], community: deposit.communityId, db: db, scope: scope)
        guard deposit.state == .held else { throw PaymentError(.conflict, code: "deposit_released", field: "deposit_id", "the deposit was released") }
        guard amount.minorUnits <= deposit.amount.minorUnits - deposit.deducted.minorUnits else {
            throw PaymentError(
                .invalid, code: "amount_above_remaining", field: "amount",
                "at most \(Money(minorUnits: deposit.amount.minorUnits - deposit.deducted.minorUnits).decimalText) remains")
        }
        let deductionId = Identifier.uuidV7(at: now)
        try await move(
            .transfer(
                Transfer(
                    id: "deposit:\(id):deduction:\(deductionId)",
                    debit: AccountKey(communityId: deposit.communityId, kind: .deposit, owner: deposit.houseId, purpose: deposit.kind),
                    credit: AccountKey.community(deposit.communityId, .revenue, purpose: "deposit_deduction"),
                    amount: amount.minorUnits, code: .depositDeduction, reference: String(reason.prefix(100)), actor: actor)), now: now)
        try await tenant.insert(
            into: "deposit_deductions", columns: ["id", "deposit_id", "amount", "reason", "created_by", "created_at"],
            values: [deductionId, id, amount.minorUnits, String(reason.prefix(500)), actor, now.epochMilliseconds]
        ).run()
        try await tenant.update(
            "deposits", set: "deducted = deducted + \(bind: amount.minorUnits), updated_at = \(bind: now.epochMilliseconds)",
            where: "id = \(bind: id)"
        ).run()
        guard let after = try await self.deposit(id: id, scope: scope) else { throw PaymentError(.notFound, code: "not_found", "deposit vanished") }
        try await saveAudit(deposit, after, action: "deposit_deducted", actor: actor, reason: reason, now: now)
        return after
    }

    /// What a release did: the deposit and its voucher.
    public struct Release: Codable, Sendable {
        public var deposit: Deposit
        public var voucher: Receipt
    }

    /// Releases what remains of a deposit to the house's general wallet or in cash, once every condition holds.
    public func release(_ id: String, to destination: String, actor: String, scope: TenantScope, now: Date) async throws -> Release {
        let deposit = try await require(id, scope: scope)
        let today = LocalDate.of(now, timeZone: try await PaymentLedger(tenant: tenant).timeZone(ofCommunity: deposit.communityId))
        guard deposit.state == .held else { throw PaymentError(.conflict, code: "deposit_released", field: "deposit_id", "the deposit was released") }
        let unmet = deposit.unmet(today: today)
        guard unmet.isEmpty else {
            throw PaymentError(
                .conflict, code: "release_conditions_unmet", field: "conditions",
                "not met yet: " + unmet.map { $0.kind.rawValue + ($0.on.map { " (\($0))" } ?? "") }.joined(separator: ", "))
        }
        guard destination == "wallet" || destination == "cash" else {
            throw PaymentError(.invalid, code: "invalid_value", field: "destination", "destination is wallet or cash")
        }
        let remaining = deposit.amount.minorUnits - deposit.deducted.minorUnits
        let account = AccountKey(communityId: deposit.communityId, kind: .deposit, owner: deposit.houseId, purpose: deposit.kind)
        if remaining > 0 {
            if destination == "cash" {
                try await move(
                    .transfer(
                        Transfer(
                            id: "deposit:\(id):release", debit: account,
                            credit: AccountKey.community(deposit.communityId, .clearing, purpose: "cash"),
                            amount: remaining, code: .depositRefund, reference: "deposit:" + id, actor: actor)), now: now)
            } else {
                // Deposits leave only for refunds payable (or a clearing account): the wallet is credited from there.
                let payable = AccountKey.community(deposit.communityId, .refundsPayable)
                try await move(
                    .transfer(
                        Transfer(
                            id: "deposit:\(id):release", debit: account, credit: payable,
                            amount: remaining, code: .depositRefund, reference: "deposit:" + id, actor: actor)), now: now)
                try await move(
                    .transfer(
                        Transfer(
                            id: "deposit:\(id):release:wallet", debit: payable,
                            credit: AccountKey.wallet(deposit.communityId, house: deposit.houseId, purpose: "general"),
                            amount: remaining, code: .refund, reference: "deposit:" + id, actor: actor)), now: now)
            }
        }
        try await tenant.update(
            "deposits",
            set: """
                state = 'released', refunded = \(bind: remaining), released_by = \(bind: actor), released_at = \(bind: now.epochMilliseconds),
                updated_at = \(bind: now.epochMilliseconds)
                """, where: "id = \(bind: id)"
        ).run()
        var lines = [Receipt.Line(description: "\(deposit.kind.replacingOccurrences(of: "_", with: " ")) deposit paid", amount: deposit.amount)]
        for deduction in deposit.deductions {
            lines.append(Receipt.Line(description: "deduction: \(deduction.reason)", amount: Money(minorUnits: -deduction.amount.minorUnits)))
        }
        let voucher = try await ReceiptBook(tenant).issue(
            kind: .depositRelease, subjectId: id, communityId: deposit.communityId, houseId: deposit.houseId, payer: nil,
            channel: destination, channelReference: "deposit " + id, lines: lines, total: Money(minorUnits: remaining), at: now)
        guard let after = try await self.deposit(id: id, scope: scope) else { throw PaymentError(.notFound, code: "not_found", "deposit vanished") }
        try await saveAudit(deposit, after, action: "deposit_released", actor: actor, reason: "released to \(destination)", now: now)
        return Release(deposit: after, voucher: voucher)
    }

    func move(_ operation: LedgerOperation, now: Date) async throws {
        try await PaymentLedger(tenant: tenant).post([operation], now: now)
    }
}
