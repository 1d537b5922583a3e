import CourtyardDomain
import CourtyardLedger
import CourtyardStorage
import Foundation
import SQLKit

/// Money a channel reports as received (a verified callback, a desk payment, a matched bank line).
public struct ChannelTransaction: Sendable, Hashable {
    public var channel: String
    /// Unique per channel: WeChat's `transaction_id`, Alipay's `trade_no`, the bank's transaction id, the desk's receipt id.
    public var transactionId: String
    public var outTradeNo: String
    public var amount: Int64
    public var paidAt: Date
    public var payerAccount: String?
    public var recordedBy: String
    public var shiftId: String?

    public init(
        channel: String, transactionId: String, outTradeNo: String, amount: Int64, paidAt: Date, payerAccount: String? = nil,
        recordedBy: String, shiftId: String? = nil
    ) {
        self.channel = channel; self.transactionId = transactionId; self.outTradeNo = outTradeNo; self.amount = amount
        self.paidAt = paidAt; self.payerAccount = payerAccount; self.recordedBy = recordedBy; self.shiftId = shiftId
    }

    /// What a replay must repeat exactly.
    var digest: String { Canonical.digest([channel, transactionId, outTradeNo, String(amount)]) }
}

/// What applying a channel transaction did.
public struct PaymentOutcome: Codable, Sendable, Hashable {
    public enum Status: String, Codable, Sendable {
        /// Recorded and allocated now.
        case applied
        /// Applied before; nothing moved this time.
        case duplicate
        /// Kept for staff: unknown or closed order, amount mismatch, paid twice.
        case heldForReview = "held_for_review"
    }

    public struct Part: Codable, Sendable, Hashable {
        public var target: PaymentAllocation.Target
        public var targetId: String
        public var amount: Money

        public init(target: PaymentAllocation.Target, targetId: String, amount: Money) {
            self.target = target; self.targetId = targetId; self.amount = amount
        }
    }

    public var status: Status
    public var outTradeNo: String
    public var paymentId: String?
    public var amount: Money
    public var allocations: [Part]
    public var receiptNumber: Int64?
    public var receiptToken: String?
    /// Device commands (restores) queued by a top-up.
    public var commands: [String]
    /// For held callbacks: why.
    public var review: String?

    public init(
        status: Status, outTradeNo: String, paymentId: String?, amount: Money, allocations: [Part], receiptNumber: Int64?,
        receiptToken: String?, commands: [String], review: String?
    ) {
        self.status = status; self.outTradeNo = outTradeNo; self.paymentId = paymentId; self.amount = amount; self.allocations = allocations
        self.receiptNumber = receiptNumber; self.receiptToken = receiptToken; self.commands = commands; self.review = review
    }
}

/// Records a payment and allocates it, in the caller's transaction: the payment row (unique per channel transaction),
/// the ledger transfers (clearing → receivable / late-fee income / wallet / deposit), the bills' paid amounts, the
/// order's state and the receipt all commit together or not at all.
public struct PaymentApplier: Sendable {
    public let tenant: TenantSQL
    /// Within a bill, late fee or principal first.
    public let order: Settlement.Order
    /// The wallets and bills an allocation reaches (their owners write them).
    public let ports: PaymentPorts

    public init(_ tenant: TenantSQL, ports: PaymentPorts, order: Settlement.Order = .lateFeeFirst) {
        self.tenant = tenant
        self.ports = ports
        self.order = order
    }

    public init(_ db: any SQLDatabase, companyId: String, engine: Database.Engine, ports: PaymentPorts, order: Settlement.Order = .lateFeeFirst) {
        self.init(TenantSQL(db, companyId: companyId, engine: engine), ports: ports, order: order)
    }

    public var db: any SQLDatabase { tenant.db }
    public var companyId: String { tenant.companyId }
    public var engine: Database.Engine { tenant.engine }

    var store: PaymentStore { PaymentStore(tenant) }

    /// Applies `transaction` to its order, or holds it for review; never drops it.
    public func apply(_ transaction: ChannelTransaction, payload: String, now: Date) async throws -> PaymentOutcome {
        let money = Money(minorUnits: transaction.amount)
        // The same channel transaction again: a replay (same content) or a conflict.
        if let existing = try await store.payment(channel: transaction.channel, transactionId: transaction.transactionId) {
            guard existing.contentDigest == transaction.digest else {
                try await hold(
                    transaction, outcome: "amount_mismatch",
                    detail: "a replay of transaction \(transaction.transactionId) differs from the one applied",
                    payload: payload, now: now)
                return PaymentOutcome(
                    status: .heldForReview, outTradeNo: transaction.outTradeNo, paymentId: existing.id, amount: money,
                    allocations: [], receiptNumber: nil, receiptToken: nil, commands: [], review: "amount_mismatch")
            }
            try await touchCallback(transaction, now: now)
            return PaymentOutcome(
                status: .duplicate, outTradeNo: transaction.outTradeNo, paymentId: existing.id, amount: money,
                allocations: try await parts(existing.id), receiptNumber: existing.receiptNumber,
                receiptToken: try await ReceiptBook(tenant).receipt(kind: .payment, subjectId: existing.id)?.token,
                commands: [], review: nil)
        }
        guard let order = try await store.order(outTradeNo: transaction.outTradeNo, lock: true) else {
            try await hold(transaction, outcome: "unknown_order", detail: "no order \(transaction.outTradeNo)", payload: payload, now: now)
            return PaymentOutcome(
                status: .heldForReview, outTradeNo: transaction.outTradeNo, paymentId: nil, amount: money, allocations: [],
                receiptNumber: nil, receiptToken: nil, commands: [], review: "unknown_order")
        }
        guard order.channel == transaction.channel else {
            try await hold(
                transaction, outcome: "unknown_order", detail: "order \(order.outTradeNo) is for \(order.channel)", payload: payload, now: now)
            return PaymentOutcome(
                status: .heldForReview, outTradeNo: transaction.outTradeNo, paymentId: nil, amount: money, allocations: [],
                receiptNumber: nil, receiptToken: nil, commands: [], review: "unknown_order")
        }
        // A duplicate that raced the first delivery waited on the order's lock (PostgreSQL) and finds it paid by this very transaction.
        let appliedTransaction = try await order.paymentId.asyncMap { try await store.payment(id: $0)?.channelTransactionId } ?? nil
        let (action, paid) = order.handle(
            .paid(channelTransactionId: transaction.transactionId, amount: transaction.amount, at: transaction.paidAt),
            appliedTransactionId: appliedTransaction)
        if action == .alreadyApplied, let existing = try await store.payment(channel: transaction.channel, transactionId: transaction.transactionId) {
            try await touchCallback(transaction, now: now)
            return PaymentOutcome(
                status: .duplicate, outTradeNo: transaction.outTradeNo, paymentId: existing.id, amount: money,
                allocations: try await parts(existing.id), receiptNumber: existing.receiptNumber, receiptToken: nil,
                commands: [], review: nil)
        }
        switch action {
        case .applyPayment:
            return try await settle(paid, transaction, payload: payload, now: now)
        case .holdForReview(let outcome, let detail):
            try await hold(transaction, outcome: outcome, detail: detail, payload: payload, now: now)
            return PaymentOutcome(
                status: .heldForReview, outTradeNo: transaction.outTradeNo, paymentId: nil, amount: money, allocations: [],
                receiptNumber: nil, receiptToken: nil, commands: [], review: outcome)
        case .alreadyApplied, .changeState, .refuse:
            // A paid order's own transaction was found above; anything else is held.
            try await hold(
                transaction, outcome: "order_paid_otherwise", detail: "order \(order.outTradeNo) is \(order.state.rawValue)",
                payload: payload, now: now)
            return PaymentOutcome(
                status: .heldForReview, outTradeNo: transaction.outTradeNo, paymentId: nil, amount: money, allocations: [],
                receiptNumber: nil, receiptToken: nil, commands: [], review: "order_paid_otherwise")
        }
    }

    /// Applies a held callback's money to its order anyway (staff resolved it), as if the order had been open.
    public func applyHeld(_ transaction: ChannelTransaction, payload: String, now: Date) async throws -> PaymentOutcome {
        guard var order = try await store.order(outTradeNo: transaction.outTradeNo, lock: true) else {
            throw PaymentError(.notFound, code: "unknown_order", field: "out_trade_no", "no order \(transaction.outTradeNo) to apply the money to")
        }
        guard order.state != .paid else {
            throw PaymentError(.conflict, code: "order_paid", field: "out_trade_no", "the order is paid; refund the second payment instead")
        }
        order.amount = transaction.amount
        order.state = .paid
        order.paidAt = transaction.paidAt
        order.updatedAt = now
        return try await settle(order, transaction, payload: payload, now: now)
    }

    func settle(_ paidOrder: PaymentOrder, _ transaction: ChannelTransaction, payload: String, now: Date) async throws -> PaymentOutcome {
        var order = paidOrder
        let paymentId = Identifier.uuidV7(at: now)
        // Allocation ids in the order the money was spread (listing by id shows late fee before principal).
        var ids = IdentifierSequence(at: now)
        let zone = try await PaymentLedger(tenant: tenant).timeZone(ofCommunity: order.communityId)
        let localDay = LocalDate.of(transaction.paidAt, timeZone: zone)
        let clearing = AccountKey.community(order.communityId, .clearing, purpose: transaction.channel)
        let actor = transaction.recordedBy
        let payment = Payment(
            id: paymentId, companyId: companyId, communityId: order.communityId, houseId: order.houseId, orderId: order.id,
            channel: transaction.channel, channelTransactionId: transaction.transactionId, amount: transaction.amount,
            currency: order.currency, payerPersonId: order.payerPersonId, payerAccount: transaction.payerAccount,
            shiftId: transaction.shiftId, paidAt: transaction.paidAt, recordedBy: actor, contentDigest: transaction.digest,
            createdAt: now)
        // The order row is locked (PostgreSQL) and SQLite has one writer, so a concurrent duplicate of this transaction waits
        // and then finds the payment; the unique key on (channel, transaction id) is the backstop.
        // Its receipt number is taken last (below): the company's receipt counter is the last lock of a transaction.
        try await store.insert(payment)
        var allocations: [PaymentAllocation] = []
        var operations: [LedgerOperation] = []
        var lines: [Receipt.Line] = []
        var walletTopUp: (purpose: String, amount: Int64)?
        switch order.purpose {
        case .bills:
            let debts = try await debts(for: order, asOf: localDay)
            let (parts, excess) = Settlement.allocate(transaction.amount, over: debts.map(\.debt), order: self.order)
            let periods = Dictionary(uniqueKeysWithValues: debts.map { ($0.debt.billId, $0.period) })
            for part in parts {
                let transferId = "pay:\(paymentId):\(part.part == .lateFee ? "late" : "bill"):\(part.billId)"
                let credit =
                    part.part == .lateFee
                    ? AccountKey.community(order.communityId, .lateFeeIncome)
                    : AccountKey(communityId: order.communityId, kind: .receivable, owner: order.houseId, purpose: "fees")
                operations.append(
                    .transfer(
                        Transfer(
                            id: transferId, debit: clearing, credit: credit, amount: part.amount, currency: order.currency,
                            code: part.part == .lateFee ? .lateFee : .payment, reference: "bill:" + part.billId, actor: actor)))
                allocations.append(
                    PaymentAllocation(
                        id: ids.next(), paymentId: paymentId,
                        target: part.part == .lateFee ? .billLateFee : .billPrincipal, targetId: part.billId,
                        amount: part.amount, transferId: transferId))
                lines.append(
                    Receipt.Line(
                        description: "\(periods[part.billId] ?? "") " + (part.part == .lateFee ? "late fee" : "bill"),
                        amount: Money(minorUnits: part.amount)))
            }
            if excess > 0 { walletTopUp = ("general", excess) }
        case .topUp:
            walletTopUp = (order.items.walletPurpose ?? "general", transaction.amount)
        case .deposit:
            let kind = order.items.depositKind ?? "other"
            let depositId = Identifier.uuidV7(at: now)
            let transferId = "pay:\(paymentId):deposit"
            operations.append(
                .transfer(
                    Transfer(
                        id: transferId, debit: clearing,
                        credit: AccountKey(communityId: order.communityId, kind: .deposit, owner: order.houseId, purpose: kind),
                        amount: transaction.amount, currency: order.currency, code: .depositReceived,
                        reference: "deposit:" + depositId, actor: actor)))
            allocations.append(
                PaymentAllocation(
                    id: ids.next(), paymentId: paymentId, target: .deposit, targetId: depositId,
                    amount: transaction.amount, transferId: transferId))
            try await Deposits(db, companyId: companyId, engine: engine).open(
                id: depositId, order: order, paymentId: paymentId,
                amount: transaction.amount, now: now)
            lines.append(
                Receipt.Line(description: "\(kind.replacingOccurrences(of: "_", with: " ")) deposit", amount: Money(minorUnits: transaction.amount)))
        }
        // The wallet first, then the bills: a wallet credit locks the house's prepaid plans and then the ledger's chain
        // head, as a top-up at the desk and a prepaid deduction do; posting the bills first would hold the head while
        // waiting for the plans (the lock order is in docs/RELIABILITY.md).
        var commands: [String] = []
        if let (purpose, amount) = walletTopUp {
            let result = try await ports.wallets.credit(
                WalletCredit(
                    id: "payment-" + paymentId, houseId: order.houseId, purpose: purpose, amount: amount,
                    channel: transaction.channel, note: "payment " + order.outTradeNo, actor: actor),
                tenant: tenant, now: now)
            commands = result.commands
            allocations.append(
                PaymentAllocation(
                    id: ids.next(), paymentId: paymentId, target: .wallet, targetId: result.walletId,
                    amount: amount, transferId: "topup:payment-" + paymentId))
            lines.append(Receipt.Line(description: "\(purpose) wallet top-up", amount: Money(minorUnits: amount)))
        }
        try await PaymentLedger(tenant: tenant).post(operations, now: now, what: "the ledger refused the allocation")
        try await recordBillEffects(allocations.filter { $0.target != .wallet }, paymentId: paymentId, settledThrough: localDay, now: now)
        for allocation in allocations where allocation.target == .wallet { try await store.insert(allocation) }
        // Last, the receipt: its number comes from the company's counter row, which every payment, refund and deposit
        // voucher of the company waits for, so it is held only from here to the commit. A rollback gives it back.
        let receipt = try await ReceiptBook(tenant).issue(
            kind: .payment, subjectId: paymentId, communityId: order.communityId, houseId: order.houseId,
            payer: try await payerName(order.payerPersonId), channel: transaction.channel, channelReference: transaction.transactionId,
            lines: lines, total: Money(minorUnits: transaction.amount), at: now, fresh: true)
        try await tenant.update("payments", set: "receipt_number = \(bind: receipt.number)", where: "id = \(bind: paymentId)").run()
        order.paymentId = paymentId
        order.updatedAt = now
        try await store.update(order)
        try await recordCallback(transaction, outcome: "applied", detail: "payment \(paymentId)", payload: payload, now: now)
        return PaymentOutcome(
            status: .applied, outTradeNo: order.outTradeNo, paymentId: paymentId, amount: Money(minorUnits: transaction.amount),
            allocations: allocations.map { PaymentOutcome.Part(target: $0.target, targetId: $0.targetId, amount: Money(minorUnits: $0.amount)) },
            receiptNumber: receipt.number, receiptToken: receipt.token, commands: commands, review: nil)
    }

    /// Bill allocations: allocation rows, paid amounts and status, late fees settled through the payment day.
    func recordBillEffects(_ allocations: [PaymentAllocation], paymentId: String, settledThrough: LocalDate, now: Date) async throws {
        var principal: [String: Int64] = [:]
        for allocation in allocations {
            try await store.insert(allocation)
            switch allocation.target {
            case .billPrincipal:
                principal[allocation.targetId, default: 0] += allocation.amount
            case .billLateFee:
                try await ports.receivables.settleLateFees(
                    billId: allocation.targetId, paymentId: paymentId, through: settledThrough,
                    amount: allocation.amount, tenant: tenant)
            case .wallet, .deposit:
                break
            }
        }
        // Bills whose late fees were paid without principal still settle their fees through the day.
        for (billId, amount) in principal.sorted(by: { $0.key < $1.key }) {
            try await ports.receivables.addPaid(amount, to: billId, tenant: tenant, now: now)
        }
    }

    /// The debts an order settles, in order: its chosen bills, or every unpaid bill of the house, oldest due first.
    func debts(for order: PaymentOrder, asOf day: LocalDate) async throws -> [OpenDebt] {
        try await ports.receivables.openDebts(houseId: order.houseId, chosen: order.items.billIds, asOf: day, tenant: tenant)
    }

    func payerName(_ personId: String?) async throws -> String? {
        guard let personId else { return nil }
        let name = try await tenant.select("name", from: "people", where: "id = \(bind: personId)").first().map {
            try RowReader($0, table: "people").string("name")
        }
        // Receipts show the surname and a mask, as counters do (张**).
        return name.map(ReceiptBook.masked)
    }

    func parts(_ paymentId: String) async throws -> [PaymentOutcome.Part] {
        try await store.allocations(paymentId: paymentId).map {
            PaymentOutcome.Part(target: $0.target, targetId: $0.targetId, amount: Money(minorUnits: $0.amount))
        }
    }

    // MARK: - The callback record

    func recordCallback(_ transaction: ChannelTransaction, outcome: String, detail: String, payload: String, now: Date) async throws {
        try await tenant.insert(
            into: "payment_callbacks",
            columns: [
                "id", "channel", "channel_transaction_id", "out_trade_no", "amount", "outcome", "detail", "payload", "times_received", "received_at",
                "last_received_at",
            ],
            values: [
                Identifier.uuidV7(at: now), transaction.channel, transaction.transactionId, transaction.outTradeNo, transaction.amount, outcome,
                detail, payload, Int64(1), now.epochMilliseconds, now.epochMilliseconds,
            ],
            onConflict: .onTenantKey(
                ["channel", "channel_transaction_id"],
                doUpdate: """
                    times_received = payment_callbacks.times_received + 1, last_received_at = excluded.last_received_at,
                    outcome = CASE WHEN excluded.outcome = 'applied' THEN 'applied' ELSE payment_callbacks.outcome END,
                    detail = CASE WHEN excluded.outcome = 'applied' THEN excluded.detail ELSE payment_callbacks.detail END
                    """)
        ).run()
    }

    func hold(_ transaction: ChannelTransaction, outcome: String, detail: String, payload: String, now: Date) async throws {
        try await recordCallback(transaction, outcome: outcome, detail: detail, payload: payload, now: now)
    }

    func touchCallback(_ transaction: ChannelTransaction, now: Date) async throws {
        try await tenant.update(
            "payment_callbacks", set: "times_received = times_received + 1, last_received_at = \(bind: now.epochMilliseconds)",
            where: "channel = \(bind: transaction.channel) AND channel_transaction_id = \(bind: transaction.transactionId)"
        ).run()
    }
}
