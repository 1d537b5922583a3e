import CourtyardDomain
import CourtyardLedger
import CourtyardStorage
import Foundation
import SQLKit

/// A confirmed top-up of a house's wallet (front desk now; payment channels later), with its consequences in the
/// same transaction: usage owed beyond the wallets is repaid first, warnings re-arm, and a supply that may open again
/// gets its restore command queued, so the dispatcher sends it the moment the transaction commits.
public struct TopUp: Sendable {
    /// What the front desk asks for.
    public struct Request: Codable, Sendable, Hashable {
        /// The client's id for this top-up: the idempotency key.
        public var id: String
        public var purpose: String
        public var amount: Money
        /// `cash`, `pos`, `bank`, `wechatpay` or `alipay`.
        public var channel: String
        public var note: String?

        public init(id: String, purpose: String, amount: Money, channel: String, note: String? = nil) {
            self.id = id
            self.purpose = purpose
            self.amount = amount
            self.channel = channel
            self.note = note
        }
    }

    /// What a top-up did.
    public struct Result: Codable, Sendable, Hashable {
        public var id: String
        public var houseId: String
        public var walletId: String
        public var amount: Money
        public var walletBalance: Money
        /// Usage owed beyond the wallets that this top-up repaid, by utility.
        public var repaid: [String: Money]
        /// Restore (or other) commands queued by this top-up.
        public var commands: [String]
        /// True when this id was applied before: nothing moved this time.
        public var replayed: Bool

        public init(
            id: String, houseId: String, walletId: String, amount: Money, walletBalance: Money, repaid: [String: Money],
            commands: [String], replayed: Bool
        ) {
            self.id = id; self.houseId = houseId; self.walletId = walletId; self.amount = amount; self.walletBalance = walletBalance
            self.repaid = repaid; self.commands = commands; self.replayed = replayed
        }
    }

    /// The largest single top-up (fen): 50,000.00.
    public static let maximum: Int64 = 50_000_00
    public static let channels: Set<String> = ["cash", "pos", "bank", "wechatpay", "alipay"]
    public static let purposes: Set<String> = ["electricity", "water", "gas", "heating", "general"]

    public let db: any SQLDatabase
    public let companyId: String
    public let engine: Database.Engine

    public init(_ db: any SQLDatabase, companyId: String, engine: Database.Engine) {
        self.db = db
        self.companyId = companyId
        self.engine = engine
    }

    /// Checks a request without touching storage.
    public static func validate(_ request: Request) throws(PrepaidError) {
        guard !request.id.isEmpty, request.id.utf8.count <= 100, request.id.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw PrepaidError(.invalid, code: "invalid_value", field: "id", "id is 1 to 100 printable characters without spaces")
        }
        guard request.amount.minorUnits > 0 else {
            throw PrepaidError(.invalid, code: "amount_not_positive", field: "amount", "a top-up is more than 0")
        }
        guard request.amount.minorUnits <= maximum else {
            throw PrepaidError(.invalid, code: "amount_over_limit", field: "amount", "a single top-up is at most 50000.00")
        }
        guard purposes.contains(request.purpose) else {
            throw PrepaidError(.invalid, code: "invalid_value", field: "purpose", "purpose is electricity, water, gas, heating or general")
        }
        guard channels.contains(request.channel) else {
            throw PrepaidError(.invalid, code: "invalid_value", field: "channel", "channel is cash, pos, bank, wechatpay or alipay")
        }
    }

    public func apply(_ request: Request, house: String, scope: TenantScope, actor: String, now: Date) async throws -> Result {
        try Self.validate(request)
        // The house's community, with the community's currency and zone, in one query.
        guard
            let row = try await TenantSQL(db, companyId: companyId, engine: engine).select(
                "h.community_id AS community_id, c.currency AS currency, c.time_zone AS time_zone", from: "houses", as: "h",
                joining: [.inner("communities", as: "c", on: "c.id = h.community_id")], where: "h.id = \(bind: house)"
            ).first().map({ RowReader($0, table: "houses") }),
            case let community = try row.string("community_id"), scope.includes(communityId: community)
        else {
            throw PrepaidError(.notFound, code: "not_found", field: "house_id", "no house \(house)")
        }
        let currency = try row.string("currency")
        guard request.amount.currency.code == currency else {
            throw PrepaidError(
                .invalid, code: "currency_mismatch", field: "amount.currency",
                "the top-up is in \(request.amount.currency.code); this community keeps its books in \(currency)")
        }
        let zone = TimeZone(identifier: try row.string("time_zone")) ?? .gmt
        let wallet = AccountKey.wallet(community, house: house, purpose: request.purpose)
        // Lock the plans first (the deduction path's order: plans, then accounts).
        let plans = try await PlanStore(db, companyId: companyId).plansPaying(from: house, community: community, lock: true)
            .filter { plan in plan.walletKeys().contains(wallet) }
        let topUpId = "topup:" + request.id
        let transfer = Transfer(
            id: topUpId, debit: AccountKey.community(community, .clearing, purpose: request.channel), credit: wallet,
            amount: request.amount.minorUnits, code: .topUp, reference: request.note.map { String($0.prefix(100)) },
            actor: actor)
        var probes: [LedgerOperation] = [.transfer(transfer)]
        for plan in plans {
            probes.append(
                .transfer(
                    Transfer(
                        id: topUpId + ":repay:" + plan.id, debit: wallet, credit: plan.shortfallKey, amount: 1,
                        code: .walletTransfer, actor: actor)))
            for key in plan.walletKeys() where key != wallet {
                probes.append(
                    .transfer(
                        Transfer(
                            id: topUpId + ":probe:" + key.id, debit: key, credit: plan.revenueKey, amount: 1,
                            code: .deduction, actor: actor)))
            }
        }
        let ledger = LedgerStore(db, companyId: companyId, engine: engine)
        var state = LedgerState(companyId: companyId)
        try await ledger.load(probes, into: &state, now: now)
        let millis = now.epochMilliseconds
        let outcome: LedgerState.Outcome
        switch state.apply(.transfer(transfer), at: millis) {
        case .success(let value): outcome = value
        case .failure(.idempotencyConflict):
            throw PrepaidError(.conflict, code: "idempotency_conflict", field: "id", "top-up \(request.id) was already made with other content")
        case .failure(let error):
            throw PrepaidError(.invalid, code: error.code, field: "amount", "\(error)")
        }
        if outcome.replayed {
            return Result(
                id: request.id, houseId: house, walletId: wallet.id, amount: request.amount,
                walletBalance: Money(minorUnits: state.accounts[wallet.id]?.balance ?? 0), repaid: [:], commands: [], replayed: true)
        }
        var repaid: [String: Money] = [:]
        for plan in plans {
            let owed = state.accounts[plan.shortfallKey.id]?.balance ?? 0
            let amount = min(owed, max(0, state.accounts[wallet.id]?.available ?? 0))
            guard amount > 0 else { continue }
            let repay = Transfer(
                id: topUpId + ":repay:" + plan.id, debit: wallet, credit: plan.shortfallKey, amount: amount,
                code: .walletTransfer, reference: "prepaid shortfall", actor: actor)
            if case .failure(let error) = state.apply(.transfer(repay), at: millis) { throw error }
            repaid[plan.utility] = Money(minorUnits: amount + (repaid[plan.utility]?.minorUnits ?? 0))
        }
        try await ledger.write(state, now: now)
        var commands: [String] = []
        let supply = SupplyController(db, companyId: companyId, engine: engine)
        for var plan in plans {
            let available = SupplyController.available(plan, accounts: state.accounts)
            if plan.warned, let warn = plan.config.warnBelow, available > warn.minorUnits {
                plan.warned = false
                try await PlanStore(db, companyId: companyId).saveRunningState(plan)
            }
            if let command = try await supply.evaluate(plan, available: available, zone: zone, now: now) { commands.append(command) }
        }
        return Result(
            id: request.id, houseId: house, walletId: wallet.id, amount: request.amount,
            walletBalance: Money(minorUnits: state.accounts[wallet.id]?.balance ?? 0), repaid: repaid, commands: commands,
            replayed: false)
    }
}
