import CourtyardDomain
import CourtyardLedger
import CourtyardStorage
import Foundation
import SQLKit

/// A refund (退款): money going back for a payment, an overcharged bill line, or a wallet balance. Never more than
/// what was paid, never zero or negative; approved by its rules or by finance; sent back through the original channel,
/// to the house's wallet, or paid out in cash.
public struct Refund: Codable, Sendable, Hashable {
    public enum Source: String, Codable, Sendable, CaseIterable {
        case payment
        case billLine = "bill_line"
        case wallet
    }

    public enum Destination: String, Codable, Sendable, CaseIterable {
        case originalChannel = "original_channel"
        case wallet, cash
    }

    public enum State: String, Codable, Sendable, CaseIterable {
        case pendingApproval = "pending_approval"
        case approved, rejected, processing, succeeded, failed
    }

    public var id: String
    public var communityId: String
    public var houseId: String
    public var requestId: String
    public var source: Source
    public var sourceId: String
    public var paymentId: String?
    public var amount: Money
    public var reasonCode: String
    public var reason: String
    public var destination: Destination
    public var state: State
    /// Why the rules approved it or sent it to finance.
    public var ruleDecision: String
    public var requestedBy: String
    public var decidedBy: String?
    public var decisionReason: String?
    public var decidedAt: Date?
    public var channelRefundId: String?
    public var failure: String?
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String, communityId: String, houseId: String, requestId: String, source: Source, sourceId: String, paymentId: String?,
        amount: Money, reasonCode: String, reason: String, destination: Destination, state: State, ruleDecision: String,
        requestedBy: String, decidedBy: String?, decisionReason: String?, decidedAt: Date?, channelRefundId: String?, failure: String?,
        createdAt: Date, updatedAt: Date
    ) {
        self.id = id; self.communityId = communityId; self.houseId = houseId; self.requestId = requestId; self.source = source
        self.sourceId = sourceId; self.paymentId = paymentId; self.amount = amount; self.reasonCode = reasonCode; self.reason = reason
        self.destination = destination; self.state = state; self.ruleDecision = ruleDecision; self.requestedBy = requestedBy
        self.decidedBy = decidedBy; self.decisionReason = decisionReason; self.decidedAt = decidedAt; self.channelRefundId = channelRefundId
        self.failure = failure; self.createdAt = createdAt; self.updatedAt = updatedAt
    }

    /// A decision by finance, or the channel's answer.
    public enum Event: Sendable, Hashable {
        case approve(by: String)
        case reject(by: String)
        case channelAccepted(refundId: String, settled: Bool)
        case channelFailed(String)
        case paidOut
    }

    /// The state after `event`, or why the event does not apply. Pure: the caller does the ledger and channel work.
    public func next(_ event: Event) -> Result<State, PaymentError> {
        switch (state, event) {
        case (.pendingApproval, .approve(let by)), (.pendingApproval, .reject(let by)):
            guard by != requestedBy else {
                return .failure(
                    PaymentError(.forbidden, code: "four_eyes", field: "refund_id", "a refund is approved by someone other than its requester"))
            }
            if case .approve = event { return .success(.approved) }
            return .success(.rejected)
        case (.approved, .channelAccepted(_, let settled)), (.failed, .channelAccepted(_, let settled)):
            return .success(settled ? .succeeded : .processing)
        case (.processing, .channelAccepted(_, true)):
            return .success(.succeeded)
        case (.approved, .channelFailed), (.processing, .channelFailed), (.failed, .channelFailed):
            return .success(.failed)
        case (.approved, .paidOut), (.failed, .paidOut):
            return .success(.succeeded)
        default:
            return .failure(PaymentError(.conflict, code: "refund_state", field: "refund_id", "a \(state.rawValue) refund cannot take that step"))
        }
    }
}

/// Which refunds approve themselves: small, for a listed reason, for a house that owes nothing overdue. Everything
/// else waits for finance.
public struct RefundRules: Codable, Sendable, Hashable {
    public var autoApproveUpTo: Money
    public var autoApproveReasons: Set<String>
    public var requireNoArrears: Bool
    /// The window over which refunds of the same source and the same house add up against ``autoApproveUpTo``, so that
    /// one large refund cannot be split into several small ones that each pass.
    public var windowDays: Int

    public init(
        autoApproveUpTo: Money = Money(minorUnits: 200_00),
        autoApproveReasons: Set<String> = ["duplicate_payment", "overpayment", "service_cancelled"], requireNoArrears: Bool = true,
        windowDays: Int = 30
    ) {
        self.autoApproveUpTo = autoApproveUpTo
        self.autoApproveReasons = autoApproveReasons
        self.requireNoArrears = requireNoArrears
        self.windowDays = windowDays
    }

    /// What a decision looks at besides the rules.
    public struct Facts: Sendable, Hashable {
        public var amount: Money
        public var reasonCode: String
        public var overdueBills: Int
        /// Refunds not rejected, of the same source or the same house, requested within ``RefundRules/windowDays``
        /// (pending, approved or paid out): they count with this one against the limit.
        public var recentRefunds: Money
        public var source: Refund.Source
        public var destination: Refund.Destination

        public init(
            amount: Money, reasonCode: String, overdueBills: Int, recentRefunds: Money = .zero(),
            source: Refund.Source = .payment, destination: Refund.Destination = .originalChannel
        ) {
            self.amount = amount; self.reasonCode = reasonCode; self.overdueBills = overdueBills
            self.recentRefunds = recentRefunds; self.source = source; self.destination = destination
        }
    }

    /// The reason codes a refund may give.
    public static let reasonCodes: Set<String> = ["duplicate_payment", "overpayment", "service_cancelled", "billing_error", "move_out", "other"]

    /// Whether a refund approves itself, and why (recorded on the refund).
    public func decide(amount: Money, reasonCode: String, overdueBills: Int) -> (approved: Bool, explanation: String) {
        decide(Facts(amount: amount, reasonCode: reasonCode, overdueBills: overdueBills))
    }

    /// Whether a refund approves itself, and why. Cash paid out of a wallet always waits for staff: the money leaves
    /// the books with nothing but the requester's word behind it.
    public func decide(_ facts: Facts) -> (approved: Bool, explanation: String) {
        var blockers: [String] = []
        let (total, overflow) = facts.amount.minorUnits.addingReportingOverflow(facts.recentRefunds.minorUnits)
        if facts.amount.minorUnits > autoApproveUpTo.minorUnits {
            blockers.append("amount above \(autoApproveUpTo.decimalText)")
        } else if overflow || total > autoApproveUpTo.minorUnits {
            blockers.append(
                "with \(facts.recentRefunds.decimalText) refunded or pending for this payment or house in \(windowDays) days, "
                    + "the total is above \(autoApproveUpTo.decimalText)")
        }
        if facts.source == .wallet, facts.destination == .cash { blockers.append("a wallet balance paid out in cash needs staff approval") }
        if !autoApproveReasons.contains(facts.reasonCode) { blockers.append("reason \(facts.reasonCode) needs approval") }
        if requireNoArrears, facts.overdueBills > 0 { blockers.append("the house has \(facts.overdueBills) overdue bill(s)") }
        return blockers.isEmpty
            ? (true, "auto-approved: at most \(autoApproveUpTo.decimalText), reason \(facts.reasonCode), no overdue bills")
            : (false, "finance approval: " + blockers.joined(separator: "; "))
    }
}

/// Refund requests, decisions and their ledger movements: source → refunds payable on approval, refunds payable →
/// the channel's clearing account (or the wallet) when the money has gone.
public struct Refunds: TenantStore {
    public let tenant: TenantSQL

    public init(_ tenant: TenantSQL) {
        self.tenant = tenant
    }

    public struct Request: Codable, Sendable, Hashable {
        /// Idempotency key.
        public var id: String
        public var source: Refund.Source
        public var paymentId: String?
        public var billLineId: String?
        public var houseId: String?
        public var walletPurpose: String?
        public var amount: Money
        public var reasonCode: String
        public var reason: String
        public var destination: Refund.Destination?

        public init(
            id: String, source: Refund.Source, paymentId: String? = nil, billLineId: String? = nil, houseId: String? = nil,
            walletPurpose: String? = nil, amount: Money, reasonCode: String, reason: String, destination: Refund.Destination? = nil
        ) {
            self.id = id; self.source = source; self.paymentId = paymentId; self.billLineId = billLineId; self.houseId = houseId
            self.walletPurpose = walletPurpose; self.amount = amount; self.reasonCode = reasonCode; self.reason = reason;
            self.destination = destination
        }

        var digest: String {
            Canonical.digest([
                id, source.rawValue, paymentId ?? "", billLineId ?? "", houseId ?? "", walletPurpose ?? "", String(amount.minorUnits),
                reasonCode, reason, destination?.rawValue ?? "",
            ])
        }
    }

    static let columns = """
        id, community_id, house_id, request_id, request_digest, source_kind, source_id, payment_id, amount, currency, reason_code, reason, destination,
        state, rule_decision, requested_by, decided_by, decision_reason, decided_at, channel_refund_id, failure, created_at, updated_at
        """

    static func refund(from row: any SQLRow) throws -> Refund {
        let r = RowReader(row, table: "refunds")
        return Refund(
            id: try r.string("id"), communityId: try r.string("community_id"), houseId: try r.string("house_id"),
            requestId: try r.string("request_id"), source: try r.value("source_kind", as: Refund.Source.self),
            sourceId: try r.string("source_id"), paymentId: try r.optionalString("payment_id"),
            amount: Money(minorUnits: try r.int64("amount")), reasonCode: try r.string("reason_code"), reason: try r.string("reason"),
            destination: try r.value("destination", as: Refund.Destination.self), state: try r.value("state", as: Refund.State.self),
            ruleDecision: try r.string("rule_decision"), requestedBy: try r.string("requested_by"), decidedBy: try r.optionalString("decided_by"),
            decisionReason: try r.optionalString("decision_reason"), decidedAt: try r.optionalInt64("decided_at").map(Date.init(epochMilliseconds:)),
            channelRefundId: try r.optionalString("channel_refund_id"), failure: try r.optionalString("failure"),
            createdAt: try r.instant("created_at"), updatedAt: try r.instant("updated_at"))
    }

    public func refund(id: String, scope: TenantScope, lock: Bool = false) async throws -> Refund? {
        try await tenant.select("\(unsafeRaw: Self.columns)", from: "refunds", where: "id = \(bind: id)", lock: lock ? .forUpdate : .none).first()
            .map(Self.refund(from:)).flatMap { scope.includes(communityId: $0.communityId) ? $0 : nil }
    }

    func digest(requestId: String) async throws -> (Refund, String)? {
        try await tenant.select("\(unsafeRaw: Self.columns)", from: "refunds", where: "request_id = \(bind: requestId)").first().map {
            (try Self.refund(from: $0), try RowReader($0, table: "refunds").string("request_digest"))
        }
    }

    /// Records a refund request: checks what remains refundable, reserves it, and lets the rules decide. An
    /// auto-approved refund is approved in the same transaction (the caller then sends it).
    public func request(
        _ request: Request, rules: RefundRules, actor: String, scope: TenantScope, ports: PaymentPorts, now: Date
    ) async throws -> Refund {
        guard !request.id.isEmpty, request.id.utf8.count <= 128 else {
            throw PaymentError(.invalid, code: "invalid_value", field: "id", "id is 1 to 128 characters")
        }
        guard request.amount.minorUnits > 0 else {
            throw PaymentError(.invalid, code: "amount_not_positive", field: "amount", "a refund is more than 0")
        }
        guard RefundRules.reasonCodes.contains(request.reasonCode) else {
            throw PaymentError(
                .invalid, code: "invalid_value", field: "reason_code",
                "reason_code is one of " + RefundRules.reasonCodes.sorted().joined(separator: ", "))
        }
        let reason = request.reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty, reason.count <= 500 else {
            throw PaymentError(.invalid, code: "reason_required", field: "reason", "a refund states its reason")
        }
        if let (existing, digest) = try await digest(requestId: request.id) {
            guard digest == request.digest else {
                throw PaymentError(.conflict, code: "idempotency_conflict", field: "id", "refund \(request.id) was asked for with other content")
            }
            return existing
        }
        let store = PaymentStore(tenant)
        let community: String, house: String, sourceId: String
        var paymentId: String?
        var destination = request.destination
        switch request.source {
        case .payment:
            guard let id = request.paymentId, let payment = try await store.payment(id: id, lock: true),
                scope.includes(communityId: payment.communityId)
            else {
                throw PaymentError(.notFound, code: "not_found", field: "payment_id", "no payment \(request.paymentId ?? "")")
            }
            guard payment.status == .settled else {
                throw PaymentError(.conflict, code: "payment_voided", field: "payment_id", "the payment was voided")
            }
            let remaining = payment.amount - payment.refundedAmount
            guard request.amount.minorUnits <= remaining else {
                throw PaymentError(
                    .invalid, code: "refund_above_remaining", field: "amount",
                    "at most \(Money(minorUnits: remaining).decimalText) of this payment is left to refund")
            }
            // Reserve now: a second request sees only what is left.
            try await tenant.update(
                "payments", set: "refunded_amount = refunded_amount + \(bind: request.amount.minorUnits)",
                where: "id = \(bind: id)"
            ).run()
            (community, house, sourceId, paymentId) = (payment.communityId, payment.houseId, payment.id, payment.id)
            destination = destination ?? .originalChannel
        case .billLine:
            guard let lineId = request.billLineId, let line = try await ScopedStore(db, scope: scope).find(BillLine.self, id: lineId),
                let billId = line.billId, let bill = try await ScopedStore(db, scope: scope).find(Bill.self, id: billId)
            else {
                throw PaymentError(.notFound, code: "not_found", field: "bill_line_id", "no bill line \(request.billLineId ?? "")")
            }
            guard bill.status == .paid else {
                throw PaymentError(.conflict, code: "bill_not_paid", field: "bill_line_id", "refund lines of paid bills; correct open bills instead")
            }
            let refunded = try await reserved(sourceId: lineId)
            guard request.amount.minorUnits <= line.amount - refunded else {
                throw PaymentError(
                    .invalid, code: "refund_above_remaining", field: "amount",
                    "at most \(Money(minorUnits: max(0, line.amount - refunded)).decimalText) of this line is left to refund")
            }
            (community, house, sourceId) = (line.communityId, line.houseId, lineId)
            destination = destination ?? .wallet
            if destination == .originalChannel {
                throw PaymentError(.invalid, code: "invalid_value", field: "destination", "a bill line is refunded to the wallet or in cash")
            }
        case .wallet:
            guard let houseId = request.houseId, let purpose = request.walletPurpose,
                let houseCommunity = try await PaymentLedger(tenant: tenant).community(ofHouse: houseId),
                scope.includes(communityId: houseCommunity)
            else {
                throw PaymentError(.notFound, code: "not_found", field: "house_id", "no house \(request.houseId ?? "") with a wallet_purpose")
            }
            let wallet = AccountKey.wallet(houseCommunity, house: houseId, purpose: purpose)
            let available = try await LedgerStore(db, companyId: companyId, engine: engine).account(id: wallet.id)?.available ?? 0
            let reserved = try await reserved(sourceId: wallet.id)
            guard request.amount.minorUnits <= available - reserved else {
                throw PaymentError(
                    .invalid, code: "refund_above_remaining", field: "amount",
                    "the wallet holds \(Money(minorUnits: max(0, available - reserved)).decimalText) that can be refunded")
            }
            (community, house, sourceId) = (houseCommunity, houseId, wallet.id)
            destination = destination ?? .cash
            guard destination == .cash else {
                throw PaymentError(
                    .invalid, code: "invalid_value", field: "destination", "a wallet balance is paid out in cash (or by bank transfer)")
            }
        }
        try await PaymentError.requireCurrency([(request.amount, "amount.currency")], community: community, db: db, scope: scope)
        // "Overdue" is by the calendar of the house's own community.
        let today = LocalDate.of(now, timeZone: try await PaymentLedger(tenant: tenant).timeZone(ofCommunity: community))
        let overdue = try await ports.receivables.overdueCount(houseId: house, on: today, tenant: tenant)
        // Refunds of the same source or house within the window count against the limit together (a pending 300.00
        // and then 200.00 and 50.00 on the same payment must not each pass on their own).
        let windowStart = now.epochMilliseconds - Int64(max(0, rules.windowDays)) * 86_400_000
        let sameSourceOrHouse = SQLGroupExpression(
            SQLBinaryExpression(
                SQLBinaryExpression(SQLColumn("source_id"), .equal, SQLBind(sourceId)), .or,
                SQLBinaryExpression(SQLColumn("house_id"), .equal, SQLBind(house))))
        let recent =
            try await ScopedStore(db, scope: TenantScope(companyId: companyId)).sum(
                "amount", from: "refunds",
                where: [
                    sameSourceOrHouse, SQLBinaryExpression(SQLColumn("state"), .notEqual, SQLBind("rejected")),
                    SQLBinaryExpression(SQLColumn("created_at"), .greaterThanOrEqual, SQLBind(windowStart)),
                ]
            ).first.map { try $0.int64("total") } ?? 0
        let (approved, explanation) = rules.decide(
            RefundRules.Facts(
                amount: request.amount, reasonCode: request.reasonCode, overdueBills: Int(overdue),
                recentRefunds: Money(minorUnits: recent), source: request.source,
                destination: destination ?? .cash))
        var refund = Refund(
            id: Identifier.uuidV7(at: now), communityId: community, houseId: house, requestId: request.id, source: request.source,
            sourceId: sourceId, paymentId: paymentId, amount: request.amount, reasonCode: request.reasonCode, reason: reason,
            destination: destination ?? .cash, state: approved ? .approved : .pendingApproval, ruleDecision: explanation,
            requestedBy: actor, decidedBy: approved ? "system:refund-rules" : nil, decisionReason: approved ? explanation : nil,
            decidedAt: approved ? now : nil, channelRefundId: nil, failure: nil, createdAt: now, updatedAt: now)
        try await tenant.insert(
            into: "refunds",
            columns: [
                "id", "community_id", "house_id", "request_id", "request_digest", "source_kind", "source_id", "payment_id", "amount", "currency",
                "reason_code", "reason", "destination", "state", "rule_decision", "requested_by", "decided_by", "decision_reason", "decided_at",
                "created_at", "updated_at",
            ],
            values: [
                refund.id, community, house, request.id, request.digest, request.source.rawValue, sourceId, paymentId, request.amount.minorUnits,
                "CNY", request.reasonCode, reason, refund.destination.rawValue, refund.state.rawValue, explanation, actor, refund.decidedBy,
                refund.decisionReason, refund.decidedAt?.epochMilliseconds, now.epochMilliseconds, now.epochMilliseconds,
            ]
        ).run()
        try await audit(nil, refund, action: "refund_requested", actor: actor, reason: reason, now: now)
        if approved { refund = try await reserveInLedger(refund, actor: actor, ports: ports, now: now) }
        return refund
    }

    /// Refunds not rejected against a source (line or wallet): what is already spoken for.
    func reserved(sourceId: String) async throws -> Int64 {
        try await tenant.select(
            "CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS total", from: "refunds",
            where: "source_id = \(bind: sourceId) AND state NOT IN ('rejected', 'succeeded')"
        ).first().map { try RowReader($0, table: "refunds").int64("total") } ?? 0
    }

    /// Finance approves or rejects a pending refund (never its own request).
    public func decide(
        _ id: String, approve: Bool, reason: String, actor: String, scope: TenantScope, ports: PaymentPorts, now: Date
    ) async throws -> Refund {
        guard var refund = try await refund(id: id, scope: scope, lock: true) else {
            throw PaymentError(.notFound, code: "not_found", field: "refund_id", "no refund \(id)")
        }
        let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else { throw PaymentError(.invalid, code: "reason_required", field: "reason", "a decision states its reason") }
        let before = refund
        switch refund.next(approve ? .approve(by: actor) : .reject(by: actor)) {
        case .failure(let error): throw error
        case .success(let state): refund.state = state
        }
        refund.decidedBy = actor
        refund.decisionReason = String(reason.prefix(500))
        refund.decidedAt = now
        refund.updatedAt = now
        try await save(refund)
        if !approve, let paymentId = refund.paymentId {
            try await tenant.update(
                "payments", set: "refunded_amount = refunded_amount - \(bind: refund.amount.minorUnits)",
                where: "id = \(bind: paymentId)"
            ).run()
        }
        try await audit(before, refund, action: approve ? "refund_approved" : "refund_rejected", actor: actor, reason: reason, now: now)
        if approve { refund = try await reserveInLedger(refund, actor: actor, ports: ports, now: now) }
        return refund
    }

    /// On approval: the refunded money leaves its source for refunds payable (the liability until it is paid out).
    func reserveInLedger(_ refund: Refund, actor: String, ports: PaymentPorts, now: Date) async throws -> Refund {
        let payable = AccountKey.community(refund.communityId, .refundsPayable)
        var operations: [LedgerOperation] = []
        switch refund.source {
        case .payment:
            // Undo the allocations: the unspent wallet money first, then bill principal (the bill reopens), then late fees.
            let store = PaymentStore(tenant)
            guard let paymentId = refund.paymentId, let payment = try await store.payment(id: paymentId) else { break }
            let order = try await payment.orderId.asyncMap { try await store.order(id: $0) } ?? nil
            let rank: [PaymentAllocation.Target: Int] = [.wallet: 0, .billPrincipal: 1, .billLateFee: 2, .deposit: 3]
            var left = refund.amount.minorUnits
            let ledger = LedgerStore(db, companyId: companyId, engine: engine)
            for allocation in try await store.allocations(paymentId: paymentId).sorted(by: { (rank[$0.target]!, $0.id) < (rank[$1.target]!, $1.id) })
            where left > 0 {
                var take = min(left, allocation.amount - allocation.refundedAmount)
                let source: AccountKey
                switch allocation.target {
                case .wallet:
                    let purpose = order?.purpose == .topUp ? order?.items.walletPurpose ?? "general" : "general"
                    source = AccountKey.wallet(refund.communityId, house: refund.houseId, purpose: purpose)
                    take = min(take, max(0, try await ledger.account(id: source.id)?.available ?? 0))
                case .billPrincipal:
                    source = AccountKey(communityId: refund.communityId, kind: .receivable, owner: refund.houseId, purpose: "fees")
                    if take > 0 { try await ports.receivables.addPaid(-take, to: allocation.targetId, tenant: tenant, now: now) }
                case .billLateFee:
                    source = AccountKey.community(refund.communityId, .lateFeeIncome)
                case .deposit:
                    continue
                }
                guard take > 0 else { continue }
                operations.append(
                    .transfer(
                        Transfer(
                            id: "refund:\(refund.id):\(allocation.id)", debit: source, credit: payable, amount: take,
                            code: .refund, reference: "refund:" + refund.id, actor: actor)))
                try await tenant.update(
                    "payment_allocations", set: "refunded_amount = refunded_amount + \(bind: take)",
                    where: "id = \(bind: allocation.id)"
                ).run()
                left -= take
            }
            guard left == 0 else {
                throw PaymentError(
                    .conflict, code: "refund_not_covered", field: "amount",
                    "\(Money(minorUnits: left).decimalText) of this refund was already spent from the wallet; refund less")
            }
        case .billLine:
            guard let line = try await ScopedStore(db, scope: TenantScope(companyId: companyId)).find(BillLine.self, id: refund.sourceId) else {
                break
            }
            let item = try await ScopedStore(db, scope: TenantScope(companyId: companyId)).find(FeeItem.self, id: line.feeItemId)
            operations.append(
                .transfer(
                    Transfer(
                        id: "refund:\(refund.id)", debit: AccountKey.community(refund.communityId, .revenue, purpose: item?.code ?? "custom"),
                        credit: payable, amount: refund.amount.minorUnits, code: .refund, reference: "refund:" + refund.id,
                        actor: actor)))
        case .wallet:
            let account = try await LedgerStore(db, companyId: companyId, engine: engine).account(id: refund.sourceId)
            guard let key = account?.key else { throw PaymentError(.notFound, code: "not_found", field: "wallet", "the wallet has no account") }
            operations.append(
                .transfer(
                    Transfer(
                        id: "refund:\(refund.id)", debit: key, credit: payable, amount: refund.amount.minorUnits,
                        code: .refund, reference: "refund:" + refund.id, actor: actor)))
        }
        // Wallet and cash destinations pay out at once; the original channel pays out when it confirms.
        var result = refund
        let channel = try await paymentChannel(refund)
        if refund.destination != .originalChannel || ["cash", "pos", "bank"].contains(channel ?? "") {
            let payoutChannel = refund.destination == .originalChannel ? channel ?? "cash" : "cash"
            let credit =
                refund.destination == .wallet
                ? AccountKey.wallet(refund.communityId, house: refund.houseId, purpose: "general")
                : AccountKey.community(refund.communityId, .clearing, purpose: payoutChannel)
            operations.append(
                .transfer(
                    Transfer(
                        id: "refund:\(refund.id):payout", debit: payable, credit: credit, amount: refund.amount.minorUnits,
                        code: .refund, reference: "refund:" + refund.id, actor: actor)))
            result.state = .succeeded
            result.updatedAt = now
        }
        try await move(operations, now: now)
        if result.state != refund.state {
            try await save(result)
            try await issueVoucher(
                result, channel: refund.destination == .wallet ? "wallet" : (refund.destination == .originalChannel ? channel ?? "cash" : "cash"),
                now: now)
        }
        return result
    }

    /// The refund voucher (退款凭证): a receipt of kind `refund`, numbered in the same gapless sequence as payments.
    func issueVoucher(_ refund: Refund, channel: String, now: Date) async throws {
        _ = try await ReceiptBook(tenant).issue(
            kind: .refund, subjectId: refund.id, communityId: refund.communityId, houseId: refund.houseId, payer: nil, channel: channel,
            channelReference: refund.channelRefundId ?? refund.id,
            lines: [
                Receipt.Line(
                    description: "refund (\(refund.reasonCode.replacingOccurrences(of: "_", with: " "))): \(refund.reason)",
                    amount: refund.amount)
            ],
            total: refund.amount, at: now)
    }

    func paymentChannel(_ refund: Refund) async throws -> String? {
        guard let id = refund.paymentId else { return nil }
        return try await PaymentStore(tenant).payment(id: id)?.channel
    }

    /// Records the channel's answer to a refund sent back through it; the payout transfer is posted once it succeeded.
    public func channelAnswered(_ id: String, result: Result<ChannelRefundResult, PaymentError>, scope: TenantScope, now: Date) async throws -> Refund
    {
        guard var refund = try await refund(id: id, scope: scope, lock: true) else {
            throw PaymentError(.notFound, code: "not_found", field: "refund_id", "no refund \(id)")
        }
        let before = refund
        switch result {
        case .success(let answer):
            guard case .success(let state) = refund.next(.channelAccepted(refundId: answer.channelRefundId, settled: answer.status == .succeeded))
            else {
                return refund
            }
            refund.state = state
            refund.channelRefundId = answer.channelRefundId
            refund.failure = nil
            if state == .succeeded, let channel = try await paymentChannel(refund) {
                try await move(
                    [
                        .transfer(
                            Transfer(
                                id: "refund:\(refund.id):payout", debit: AccountKey.community(refund.communityId, .refundsPayable),
                                credit: AccountKey.community(refund.communityId, .clearing, purpose: channel),
                                amount: refund.amount.minorUnits, code: .refund, reference: "refund:" + refund.id,
                                actor: "system:" + channel))
                    ], now: now)
                try await issueVoucher(refund, channel: channel, now: now)
            }
        case .failure(let error):
            guard case .success(let state) = refund.next(.channelFailed(error.message)) else { return refund }
            refund.state = state
            refund.failure = String(error.message.prefix(500))
        }
        refund.updatedAt = now
        try await save(refund)
        try await audit(
            before, refund, action: "refund_" + refund.state.rawValue, actor: "system:payments", reason: refund.failure ?? "channel answered",
            now: now)
        return refund
    }

    func save(_ refund: Refund) async throws {
        try await tenant.update(
            "refunds",
            set: """
                state = \(bind: refund.state.rawValue), decided_by = \(bind: refund.decidedBy), decision_reason = \(bind: refund.decisionReason),
                decided_at = \(bind: refund.decidedAt?.epochMilliseconds), channel_refund_id = \(bind: refund.channelRefundId),
                failure = \(bind: refund.failure), updated_at = \(bind: refund.updatedAt.epochMilliseconds)
                """, where: "id = \(bind: refund.id)"
        ).run()
    }

    func audit(_ before: Refund?, _ after: Refund, action: String, actor: String, reason: String, now: Date) async throws {
        try await ScopedStore(db, scope: TenantScope(companyId: companyId)).insert(
            AuditEntry(
                id: Identifier.uuidV7(at: now), companyId: companyId, communityId: after.communityId, actor: actor, action: action,
                subjectType: "refund", subjectId: after.id, reason: String(reason.prefix(500)), beforeState: before.map { StoredJSON.encode($0) },
                afterState: StoredJSON.encode(after), createdAt: now))
    }

    func move(_ operations: [LedgerOperation], now: Date) async throws {
        try await PaymentLedger(tenant: tenant).post(operations, now: now, what: "the ledger refused the refund")
    }

    /// Refunds waiting for finance, oldest first.
    public func pending(scope: TenantScope, limit: Int = 100) async throws -> [Refund] {
        try await tenant.select(
            "\(unsafeRaw: Self.columns)", from: "refunds", where: "state = 'pending_approval'",
            then: "ORDER BY id LIMIT \(literal: limit)"
        ).all().map(Self.refund(from:)).filter { scope.includes(communityId: $0.communityId) }
    }
}
