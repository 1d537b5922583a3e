import CourtyardDomain
import CourtyardStorage
import Foundation
import SQLKit

/// A settled payment: money one channel transaction brought in, for one house. Unique per (company, channel,
/// channel transaction id), which is what makes a repeated callback a replay rather than a second payment.
///
/// Amounts are fen in storage and `{"amount": "88.88", "currency": "CNY"}` when encoded, as everywhere in the API.
public struct Payment: Encodable, Sendable, Hashable {
    public enum Status: String, Codable, Sendable { case settled, voided }

    public var id: String
    public var companyId: String
    public var communityId: String
    public var houseId: String
    public var orderId: String?
    public var channel: String
    public var channelTransactionId: String
    public var amount: Int64
    public var currency: String
    public var refundedAmount: Int64
    public var payerPersonId: String?
    /// The channel's payer id (openid, buyer id), for support; not personal data of ours.
    public var payerAccount: String?
    public var shiftId: String?
    public var status: Status
    public var voidedBy: String?
    public var voidReason: String?
    public var receiptNumber: Int64?
    public var paidAt: Date
    public var recordedBy: String
    public var contentDigest: String
    public var createdAt: Date

    static let columns = [
        "id", "community_id", "house_id", "order_id", "channel", "channel_transaction_id", "amount",
        "currency", "refunded_amount", "payer_person_id", "payer_account", "shift_id", "status", "voided_by", "void_reason",
        "receipt_number", "paid_at", "recorded_by", "content_digest", "created_at",
    ]

    init(row: any SQLRow, companyId: String) throws {
        let r = RowReader(row, table: "payments")
        id = try r.string("id"); self.companyId = companyId; communityId = try r.string("community_id")
        houseId = try r.string("house_id"); orderId = try r.optionalString("order_id"); channel = try r.string("channel")
        channelTransactionId = try r.string("channel_transaction_id"); amount = try r.int64("amount"); currency = try r.string("currency")
        refundedAmount = try r.int64("refunded_amount"); payerPersonId = try r.optionalString("payer_person_id")
        payerAccount = try r.optionalString("payer_account"); shiftId = try r.optionalString("shift_id")
        status = try r.value("status", as: Status.self); voidedBy = try r.optionalString("voided_by");
        voidReason = try r.optionalString("void_reason")
        receiptNumber = try r.optionalInt64("receipt_number"); paidAt = try r.instant("paid_at"); recordedBy = try r.string("recorded_by")
        contentDigest = try r.string("content_digest"); createdAt = try r.instant("created_at")
    }

    public init(
        id: String, companyId: String, communityId: String, houseId: String, orderId: String?, channel: String,
        channelTransactionId: String, amount: Int64, currency: String, payerPersonId: String?, payerAccount: String?,
        shiftId: String?, paidAt: Date, recordedBy: String, contentDigest: String, createdAt: Date
    ) {
        self.id = id; self.companyId = companyId; self.communityId = communityId; self.houseId = houseId; self.orderId = orderId
        self.channel = channel; self.channelTransactionId = channelTransactionId; self.amount = amount; self.currency = currency
        self.refundedAmount = 0; self.payerPersonId = payerPersonId; self.payerAccount = payerAccount; self.shiftId = shiftId
        self.status = .settled; self.paidAt = paidAt; self.recordedBy = recordedBy; self.contentDigest = contentDigest; self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case id, companyId, communityId, houseId, orderId, channel, channelTransactionId, amount, refundedAmount, payerPersonId, payerAccount,
            shiftId, status, voidedBy, voidReason, receiptNumber, paidAt, recordedBy, createdAt
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        let currency = Currency.supported[currency] ?? .cny
        try c.encode(id, forKey: .id); try c.encode(companyId, forKey: .companyId); try c.encode(communityId, forKey: .communityId)
        try c.encode(houseId, forKey: .houseId); try c.encodeIfPresent(orderId, forKey: .orderId); try c.encode(channel, forKey: .channel)
        try c.encode(channelTransactionId, forKey: .channelTransactionId)
        try c.encode(Money(minorUnits: amount, currency: currency), forKey: .amount)
        try c.encode(Money(minorUnits: refundedAmount, currency: currency), forKey: .refundedAmount)
        try c.encodeIfPresent(payerPersonId, forKey: .payerPersonId); try c.encodeIfPresent(payerAccount, forKey: .payerAccount)
        try c.encodeIfPresent(shiftId, forKey: .shiftId); try c.encode(status, forKey: .status)
        try c.encodeIfPresent(voidedBy, forKey: .voidedBy); try c.encodeIfPresent(voidReason, forKey: .voidReason)
        try c.encodeIfPresent(receiptNumber, forKey: .receiptNumber); try c.encode(paidAt, forKey: .paidAt)
        try c.encode(recordedBy, forKey: .recordedBy); try c.encode(createdAt, forKey: .createdAt)
    }

    var values: [any Encodable & Sendable] {
        [
            id, communityId, houseId, orderId, channel, channelTransactionId, amount, currency, refundedAmount, payerPersonId,
            payerAccount, shiftId, status.rawValue, voidedBy, voidReason, receiptNumber, paidAt.epochMilliseconds, recordedBy, contentDigest,
            createdAt.epochMilliseconds,
        ]
    }
}

/// Where part of a payment went: a bill's late fee or principal, a wallet, a deposit; with the ledger transfer that moved it.
public struct PaymentAllocation: Encodable, Sendable, Hashable {
    public enum Target: String, Codable, Sendable {
        case billLateFee = "bill_late_fee"
        case billPrincipal = "bill_principal"
        case wallet, deposit
    }

    public var id: String
    public var paymentId: String
    public var target: Target
    /// A bill id, a wallet account id, or a deposit id.
    public var targetId: String
    public var amount: Int64
    public var refundedAmount: Int64
    public var transferId: String

    init(row: any SQLRow) throws {
        let r = RowReader(row, table: "payment_allocations")
        id = try r.string("id"); paymentId = try r.string("payment_id"); target = try r.value("target_kind", as: Target.self)
        targetId = try r.string("target_id"); amount = try r.int64("amount"); refundedAmount = try r.int64("refunded_amount")
        transferId = try r.string("transfer_id")
    }

    enum CodingKeys: String, CodingKey { case id, paymentId, target, targetId, amount, refundedAmount, transferId }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id); try c.encode(paymentId, forKey: .paymentId); try c.encode(target, forKey: .target)
        try c.encode(targetId, forKey: .targetId); try c.encode(Money(minorUnits: amount), forKey: .amount)
        try c.encode(Money(minorUnits: refundedAmount), forKey: .refundedAmount); try c.encode(transferId, forKey: .transferId)
    }

    init(id: String, paymentId: String, target: Target, targetId: String, amount: Int64, transferId: String) {
        self.id = id; self.paymentId = paymentId; self.target = target; self.targetId = targetId; self.amount = amount
        self.refundedAmount = 0; self.transferId = transferId
    }
}

/// SQL for orders, payments, allocations and callbacks, written through ``TenantSQL``: a store made for one company
/// cannot read or write another's rows.
public struct PaymentStore: TenantStore {
    public let tenant: TenantSQL

    public init(_ tenant: TenantSQL) {
        self.tenant = tenant
    }

    static let orderColumns = [
        "id", "community_id", "house_id", "out_trade_no", "purpose", "items", "amount", "currency",
        "channel", "payer_person_id", "payer_relation", "state", "channel_request", "expires_at", "paid_at",
        "payment_id", "request_digest", "created_by", "created_at", "updated_at",
    ]

    public func insert(_ order: PaymentOrder) async throws {
        try await tenant.insert(
            into: "payment_orders", columns: Self.orderColumns,
            values: [
                order.id, order.communityId, order.houseId, order.outTradeNo, order.purpose.rawValue, StoredJSON.encode(order.items),
                order.amount, order.currency, order.channel, order.payerPersonId, order.payerRelation.rawValue, order.state.rawValue,
                order.channelRequest.map { StoredJSON.encode($0) }, order.expiresAt.epochMilliseconds, order.paidAt?.epochMilliseconds,
                order.paymentId, order.requestDigest, order.createdBy, order.createdAt.epochMilliseconds, order.updatedAt.epochMilliseconds,
            ]
        ).run()
    }

    /// Saves the mutable part of an order: state, channel request, payment.
    public func update(_ order: PaymentOrder) async throws {
        try await tenant.update(
            "payment_orders",
            set: """
                state = \(bind: order.state.rawValue), channel_request = \(bind: order.channelRequest.map { StoredJSON.encode($0) }),
                paid_at = \(bind: order.paidAt?.epochMilliseconds), payment_id = \(bind: order.paymentId),
                updated_at = \(bind: order.updatedAt.epochMilliseconds)
                """, where: "id = \(bind: order.id)"
        ).run()
    }

    /// The order with this out-trade-no; locked on PostgreSQL when `lock` (concurrent callbacks for one order queue here).
    public func order(outTradeNo: String, lock: Bool = false) async throws -> PaymentOrder? {
        try await tenant.select(
            "\(idents: Self.orderColumns, joinedBy: ", ")", from: "payment_orders",
            where: "out_trade_no = \(bind: outTradeNo)", lock: lock ? .forUpdate : .none
        )
        .first().map { try Self.order(from: $0, companyId: companyId) }
    }

    public func order(id: String) async throws -> PaymentOrder? {
        try await tenant.select("\(idents: Self.orderColumns, joinedBy: ", ")", from: "payment_orders", where: "id = \(bind: id)")
            .first().map { try Self.order(from: $0, companyId: companyId) }
    }

    static func order(from row: any SQLRow, companyId: String) throws -> PaymentOrder {
        let r = RowReader(row, table: "payment_orders")
        return PaymentOrder(
            id: try r.string("id"), companyId: companyId, communityId: try r.string("community_id"),
            houseId: try r.string("house_id"), outTradeNo: try r.string("out_trade_no"),
            purpose: try r.value("purpose", as: PaymentOrder.Purpose.self),
            items: try StoredJSON.decode(PaymentOrder.Items.self, try r.string("items"), table: "payment_orders", column: "items"),
            amount: try r.int64("amount"), currency: try r.string("currency"), channel: try r.string("channel"),
            payerPersonId: try r.optionalString("payer_person_id"),
            payerRelation: try r.value("payer_relation", as: PaymentOrder.PayerRelation.self),
            state: try r.value("state", as: PaymentOrder.State.self),
            channelRequest: try r.optionalString("channel_request").map {
                try StoredJSON.decode(ChannelOrderRequest.self, $0, table: "payment_orders", column: "channel_request")
            },
            expiresAt: try r.instant("expires_at"), paidAt: try r.optionalInt64("paid_at").map(Date.init(epochMilliseconds:)),
            paymentId: try r.optionalString("payment_id"), requestDigest: try r.string("request_digest"), createdBy: try r.string("created_by"),
            createdAt: try r.instant("created_at"), updatedAt: try r.instant("updated_at"))
    }

    public func payment(channel: String, transactionId: String) async throws -> Payment? {
        try await tenant.select(
            "\(idents: Payment.columns, joinedBy: ", ")", from: "payments",
            where: "channel = \(bind: channel) AND channel_transaction_id = \(bind: transactionId)"
        )
        .first().map { try Payment(row: $0, companyId: companyId) }
    }

    public func payment(id: String, lock: Bool = false) async throws -> Payment? {
        try await tenant.select(
            "\(idents: Payment.columns, joinedBy: ", ")", from: "payments", where: "id = \(bind: id)",
            lock: lock ? .forUpdate : .none
        )
        .first().map { try Payment(row: $0, companyId: companyId) }
    }

    func insert(_ payment: Payment) async throws {
        try await tenant.insert(into: "payments", columns: Payment.columns, values: payment.values).run()
    }

    public func allocations(paymentId: String) async throws -> [PaymentAllocation] {
        try await tenant.select(
            "id, payment_id, target_kind, target_id, amount, refunded_amount, transfer_id", from: "payment_allocations",
            where: "payment_id = \(bind: paymentId)", then: "ORDER BY id"
        )
        .all().map(PaymentAllocation.init(row:))
    }

    func insert(_ allocation: PaymentAllocation) async throws {
        try await tenant.insert(
            into: "payment_allocations",
            columns: ["id", "payment_id", "target_kind", "target_id", "amount", "refunded_amount", "transfer_id"],
            values: [
                allocation.id, allocation.paymentId, allocation.target.rawValue, allocation.targetId, allocation.amount,
                allocation.refundedAmount, allocation.transferId,
            ]
        ).run()
    }

    /// Filters for the payment list of the front desk and the owner.
    public struct PaymentFilter: Sendable {
        public var houseId: String?
        public var channel: String?
        public var from: Date?
        public var until: Date?
        public var shiftId: String?
        public var communityIds: Set<String>?

        public init(
            houseId: String? = nil, channel: String? = nil, from: Date? = nil, until: Date? = nil, shiftId: String? = nil,
            communityIds: Set<String>? = nil
        ) {
            self.houseId = houseId; self.channel = channel; self.from = from; self.until = until; self.shiftId = shiftId
            self.communityIds = communityIds
        }
    }

    /// Payments newest first, `limit` at a time; `cursor` is the last id of the previous page.
    public func payments(_ filter: PaymentFilter, after cursor: String?, limit: Int) async throws -> [Payment] {
        var conditions: [SQLQueryString] = ["1 = 1"]
        if let house = filter.houseId { conditions.append("house_id = \(bind: house)") }
        if let channel = filter.channel { conditions.append("channel = \(bind: channel)") }
        if let from = filter.from { conditions.append("paid_at >= \(bind: from.epochMilliseconds)") }
        if let until = filter.until { conditions.append("paid_at < \(bind: until.epochMilliseconds)") }
        if let shift = filter.shiftId { conditions.append("shift_id = \(bind: shift)") }
        if let communities = filter.communityIds {
            conditions.append(communities.isEmpty ? "1 = 0" : "community_id IN (\(binds: communities.sorted()))")
        }
        if let cursor { conditions.append("id < \(bind: cursor)") }
        return try await tenant.select(
            "\(idents: Payment.columns, joinedBy: ", ")", from: "payments",
            where: conditions.joined(separator: " AND "), then: "ORDER BY id DESC LIMIT \(literal: limit)"
        )
        .all().map { try Payment(row: $0, companyId: companyId) }
    }
}
