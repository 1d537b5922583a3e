import CourtyardDomain
import CourtyardLedger
import CourtyardStorage
import Crypto
import Foundation
import Logging
import SQLKit

/// Payment orders and channel notifications: the one way money from WeChat Pay, Alipay and bank transfers enters
/// Courtyard.
///
/// Verification happens before anything is read from storage; the applier then records, allocates and answers in one
/// transaction, so a callback is either fully applied, held for review, or (on a failure) not acknowledged and sent
/// again by the channel.
public struct PaymentService: Sendable {
    public let database: Database
    public let channels: ChannelConfiguration
    public let http: any ChannelHTTPClient
    public let clock: any WallClock
    /// Within a bill, late fees or principal first (company policy; late fees first by default).
    public let allocationOrder: Settlement.Order
    /// The wallets and bills payments reach.
    public let ports: PaymentPorts
    let logger = Logger(label: "courtyard.payments")

    public init(
        database: Database, channels: ChannelConfiguration, ports: PaymentPorts, http: any ChannelHTTPClient = LiveChannelHTTPClient(),
        clock: any WallClock = SystemClock(), allocationOrder: Settlement.Order = .lateFeeFirst
    ) {
        self.database = database
        self.channels = channels
        self.ports = ports
        self.http = http
        self.clock = clock
        self.allocationOrder = allocationOrder
    }

    /// How long an online order may be paid: WeChat's and Alipay's QR codes expire with it.
    public static let onlineOrderLifetime: TimeInterval = 15 * 60
    /// Bank transfers take days to arrive.
    public static let bankOrderLifetime: TimeInterval = 7 * 24 * 3600

    /// What a payer (or the front desk on their behalf) asks to pay.
    public struct OrderRequest: Codable, Sendable, Hashable {
        /// The client's idempotency key: the same id gives the same order (and out-trade-no).
        public var id: String
        public var houseId: String
        public var purpose: PaymentOrder.Purpose
        public var channel: String
        /// For bills: which ones (empty or absent: every unpaid bill, oldest first).
        public var billIds: [String]?
        /// For bills, optional (a partial payment); required for top-ups and deposits.
        public var amount: Money?
        public var walletPurpose: String?
        public var depositKind: String?
        public var depositConditions: [DepositCondition]?
        /// A proxy or occupant paying; an owner's own id is taken from the session.
        public var payerPersonId: String?
        /// The payer's WeChat openid in the company's mini program or official account: a JSAPI order instead of a QR code.
        public var wechatOpenid: String?

        public init(
            id: String, houseId: String, purpose: PaymentOrder.Purpose, channel: String, billIds: [String]? = nil, amount: Money? = nil,
            walletPurpose: String? = nil, depositKind: String? = nil, depositConditions: [DepositCondition]? = nil,
            payerPersonId: String? = nil
        ) {
            self.id = id; self.houseId = houseId; self.purpose = purpose; self.channel = channel; self.billIds = billIds; self.amount = amount
            self.walletPurpose = walletPurpose; self.depositKind = depositKind; self.depositConditions = depositConditions
            self.payerPersonId = payerPersonId
        }

        var digest: String {
            Canonical.digest([
                id, houseId, purpose.rawValue, channel, (billIds ?? []).joined(separator: ","), amount.map { String($0.minorUnits) } ?? "",
                walletPurpose ?? "", depositKind ?? "", StoredJSON.encode(depositConditions ?? []), payerPersonId ?? "",
                wechatOpenid ?? "",
            ])
        }
    }

    static let onlineChannels: Set<String> = ["wechatpay", "alipay", "bank"]
    static let depositKinds: Set<String> = ["decoration", "access_card", "facility", "other"]

    /// What a house owes today, as a payment would settle it: each unpaid bill's principal and late fees, oldest due
    /// first. Empty for a house outside `scope`. The pages show this, so what they offer to pay is what a payment takes.
    public func openDebts(houseId: String, scope: TenantScope) async throws -> [OpenDebt] {
        let now = clock.now()
        let engine = database.engine
        return try await database.read { [ports] db in
            let tenant = TenantSQL(db, scope: scope, engine: engine)
            let lookups = PaymentLedger(tenant: tenant)
            guard let community = try await lookups.community(ofHouse: houseId), scope.includes(communityId: community) else { return [] }
            let day = LocalDate.of(now, timeZone: try await lookups.timeZone(ofCommunity: community))
            return try await ports.receivables.openDebts(houseId: houseId, chosen: nil, asOf: day, tenant: tenant)
        }
    }

    /// Checks a request's shape without storage.
    public static func validate(_ request: OrderRequest, maximumTopUp: Int64) throws(PaymentError) {
        guard !request.id.isEmpty, request.id.utf8.count <= 128, request.id.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw PaymentError(.invalid, code: "invalid_value", field: "id", "id is 1 to 128 printable characters without spaces")
        }
        guard onlineChannels.contains(request.channel) else {
            throw PaymentError(
                .invalid, code: "unknown_channel", field: "channel",
                "orders are paid through wechatpay, alipay or bank; cash and POS are taken at the desk (cashier shifts)")
        }
        if let openid = request.wechatOpenid, openid.isEmpty || openid.count > 128 || request.channel != "wechatpay" {
            throw PaymentError(.invalid, code: "invalid_value", field: "wechat_openid", "wechat_openid is 1 to 128 characters, for wechatpay orders")
        }
        if let amount = request.amount {
            guard amount.minorUnits > 0 else { throw PaymentError(.invalid, code: "amount_not_positive", field: "amount", "an order is more than 0") }
            guard amount.minorUnits <= 10_000_000_00 else {
                throw PaymentError(.invalid, code: "amount_over_limit", field: "amount", "an order is at most 10000000.00")
            }
        }
        switch request.purpose {
        case .bills:
            if let ids = request.billIds, ids.count > 100 || Set(ids).count != ids.count {
                throw PaymentError(.invalid, code: "invalid_value", field: "bill_ids", "at most 100 distinct bills per order")
            }
        case .topUp:
            guard let amount = request.amount else { throw PaymentError(.invalid, code: "required", field: "amount", "a top-up names its amount") }
            guard amount.minorUnits <= maximumTopUp else {
                throw PaymentError(
                    .invalid, code: "amount_over_limit", field: "amount", "a single top-up is at most \(Money(minorUnits: maximumTopUp).decimalText)")
            }
            guard let purpose = request.walletPurpose, ["electricity", "water", "gas", "heating", "general"].contains(purpose) else {
                throw PaymentError(
                    .invalid, code: "invalid_value", field: "wallet_purpose", "wallet_purpose is electricity, water, gas, heating or general")
            }
        case .deposit:
            guard request.amount != nil else { throw PaymentError(.invalid, code: "required", field: "amount", "a deposit names its amount") }
            guard let kind = request.depositKind, depositKinds.contains(kind) else {
                throw PaymentError(
                    .invalid, code: "invalid_value", field: "deposit_kind", "deposit_kind is decoration, access_card, facility or other")
            }
            for condition in request.depositConditions ?? [] where condition.kind == .dateReached && condition.on == nil {
                throw PaymentError(.invalid, code: "required", field: "deposit_conditions.on", "a date condition names its date")
            }
        }
    }

    /// The out-trade-no for a client id: stable (a retry finds its order) and within WeChat's 32 characters.
    public static func outTradeNo(companyId: String, requestId: String) -> String {
        "CY" + String(Canonical.digest(["out-trade-no", companyId, requestId]).prefix(30)).uppercased()
    }

    /// Creates (or, for a repeated id, returns) an order and asks its channel for what the payer needs (a QR link).
    ///
    /// - Parameters:
    ///   - ownerPersonId: the signed-in owner's person id (owners pay as occupants); `nil` for staff.
    public func createOrder(_ request: OrderRequest, scope: TenantScope, actor: String, ownerPersonId: String?) async throws -> PaymentOrder {
        try Self.validate(request, maximumTopUp: ports.wallets.maximumCredit)
        let now = clock.now()
        let companyId = scope.companyId
        let outTradeNo = Self.outTradeNo(companyId: companyId, requestId: request.id)
        let engine = database.engine
        var order = try await database.transaction { [allocationOrder, ports] db -> PaymentOrder in
            let tenant = TenantSQL(db, scope: scope, engine: engine)
            let store = PaymentStore(tenant)
            if let existing = try await store.order(outTradeNo: outTradeNo, lock: true) {
                guard existing.requestDigest == request.digest else {
                    throw PaymentError(.conflict, code: "idempotency_conflict", field: "id", "order \(request.id) was made with other content")
                }
                return existing
            }
            let lookups = PaymentLedger(tenant: tenant)
            guard let house = try await lookups.community(ofHouse: request.houseId), scope.includes(communityId: house) else {
                throw PaymentError(.notFound, code: "not_found", field: "house_id", "no house \(request.houseId)")
            }
            if let requested = request.amount {
                try await PaymentError.requireCurrency([(requested, "amount.currency")], community: house, db: db, scope: scope)
            }
            let (payer, relation) = try await Self.payer(request, ownerPersonId: ownerPersonId, tenant: tenant, now: now)
            var amount = request.amount?.minorUnits ?? 0
            if request.purpose == .bills {
                let probe = PaymentOrder(
                    id: "", companyId: companyId, communityId: house, houseId: request.houseId, outTradeNo: outTradeNo,
                    purpose: .bills, items: .init(billIds: request.billIds), amount: 1, currency: "CNY", channel: request.channel,
                    payerPersonId: nil, payerRelation: .staff, state: .created, channelRequest: nil, expiresAt: now,
                    paidAt: nil, paymentId: nil, requestDigest: "", createdBy: actor, createdAt: now, updatedAt: now)
                let zone = try await lookups.timeZone(ofCommunity: house)
                let debts = try await PaymentApplier(db, companyId: companyId, engine: engine, ports: ports, order: allocationOrder)
                    .debts(for: probe, asOf: LocalDate.of(now, timeZone: zone))
                if let ids = request.billIds, !ids.isEmpty {
                    let open = Set(debts.map(\.debt.billId))
                    if let missing = ids.first(where: { !open.contains($0) }) {
                        throw PaymentError(
                            .invalid, code: "bill_not_payable", field: "bill_ids", "bill \(missing) is not an unpaid bill of this house")
                    }
                }
                let due = debts.reduce(Int64(0)) { $0 + $1.debt.lateFee + $1.debt.principal }
                if request.amount == nil { amount = due }
                guard amount > 0 else { throw PaymentError(.invalid, code: "nothing_due", field: "bill_ids", "nothing is due on these bills") }
            }
            let lifetime = request.channel == "bank" ? Self.bankOrderLifetime : Self.onlineOrderLifetime
            let order = PaymentOrder(
                id: Identifier.uuidV7(at: now), companyId: companyId, communityId: house, houseId: request.houseId,
                outTradeNo: outTradeNo, purpose: request.purpose,
                items: .init(
                    billIds: request.billIds, walletPurpose: request.walletPurpose, depositKind: request.depositKind,
                    depositConditions: request.depositConditions,
                    description: Self.describe(request)),
                amount: amount, currency: "CNY", channel: request.channel, payerPersonId: payer, payerRelation: relation,
                state: .created, channelRequest: nil, expiresAt: now.addingTimeInterval(lifetime), paidAt: nil, paymentId: nil,
                requestDigest: request.digest, createdBy: actor, createdAt: now, updatedAt: now)
            try await store.insert(order)
            return order
        }
        // The channel call is outside the transaction; a retry of the same id asks again until it answers.
        guard order.state == .created, order.channelRequest == nil, let channel = try onlineChannel(order.channel, companyId: companyId) else {
            return order
        }
        let requested = try await channel.createOrder(
            ChannelOrder(
                outTradeNo: order.outTradeNo, description: order.items.description ?? "Courtyard",
                amount: order.amount, expiresAt: order.expiresAt,
                payerOpenId: order.channel == "wechatpay" ? request.wechatOpenid : nil))
        order.channelRequest = requested
        order.updatedAt = clock.now()
        let saved = order
        try await database.transaction { db in try await PaymentStore(db, companyId: companyId, engine: engine).update(saved) }
        return order
    }

    static func describe(_ request: OrderRequest) -> String {
        switch request.purpose {
        case .bills: return "Property bills"
        case .topUp: return "Prepaid \(request.walletPurpose ?? "general") top-up"
        case .deposit: return "\((request.depositKind ?? "other").replacingOccurrences(of: "_", with: " ").capitalized) deposit"
        }
    }

    /// Who pays: the signed-in owner, a named occupant or linked proxy, or staff at the desk.
    static func payer(
        _ request: OrderRequest, ownerPersonId: String?, tenant: TenantSQL,
        now: Date
    ) async throws -> (String?, PaymentOrder.PayerRelation) {
        guard let person = ownerPersonId ?? request.payerPersonId else { return (nil, .staff) }
        let occupant =
            try await tenant.select(
                "COUNT(*) AS n", from: "occupancies",
                where: "house_id = \(bind: request.houseId) AND person_id = \(bind: person)"
            ).first().map { try RowReader($0, table: "occupancies").int64("n") } ?? 0
        if occupant > 0 { return (person, .occupant) }
        let proxy =
            try await tenant.select(
                "COUNT(*) AS n", from: "proxy_payers",
                where: "house_id = \(bind: request.houseId) AND person_id = \(bind: person)"
            ).first().map { try RowReader($0, table: "proxy_payers").int64("n") } ?? 0
        if proxy > 0 { return (person, .proxy) }
        throw PaymentError(
            .forbidden, code: "payer_not_linked", field: "payer_person_id",
            "the payer neither lives in the house nor is linked to it as a proxy payer")
    }

    func onlineChannel(_ name: String, companyId: String) throws(PaymentError) -> (any OnlineChannel)? {
        let company = channels.companies[companyId]
        let now: @Sendable () -> Date = { [clock] in clock.now() }
        switch name {
        case "wechatpay":
            guard let credentials = company?.wechatPay else {
                throw PaymentError(.invalid, code: "channel_not_configured", field: "channel", "WeChat Pay is not configured for this company")
            }
            return WeChatPayChannel(credentials: credentials, http: http, clock: now)
        case "alipay":
            guard let credentials = company?.alipay else {
                throw PaymentError(.invalid, code: "channel_not_configured", field: "channel", "Alipay is not configured for this company")
            }
            return AlipayChannel(credentials: credentials, http: http, clock: now)
        default:
            return nil
        }
    }

    /// Closes an unpaid order (the payer gave up); a paid order cannot be closed. The channel is asked to close it too,
    /// after the commit; if it cannot, money that still arrives for the order is held for review.
    public func close(outTradeNo: String, scope: TenantScope) async throws -> PaymentOrder {
        let now = clock.now()
        let engine = database.engine
        let closed = try await database.transaction { db in
            let store = PaymentStore(db, companyId: scope.companyId, engine: engine)
            guard let order = try await store.order(outTradeNo: outTradeNo, lock: true), scope.includes(communityId: order.communityId) else {
                throw PaymentError(.notFound, code: "not_found", field: "out_trade_no", "no order \(outTradeNo)")
            }
            let (action, next) = order.handle(.close(at: now))
            if case .refuse(let code, let message) = action { throw PaymentError(.conflict, code: code, field: "out_trade_no", message) }
            if next != order { try await store.update(next) }
            return next
        }
        if closed.channelRequest != nil, let channel = try? onlineChannel(closed.channel, companyId: scope.companyId) {
            do {
                try await channel.close(outTradeNo: outTradeNo)
            } catch {
                logger.warning("channel did not close the order", metadata: ["out_trade_no": "\(outTradeNo)", "code": "\(error.code)"])
            }
        }
        return closed
    }

    /// Marks orders past their expiry as expired; returns how many. (A late payment for one is held, never lost.)
    public func expireDue(limit: Int = 1_000) async throws -> Int {
        let now = clock.now()
        return try await database.transaction { db in
            let rows = try await db.raw(
                """
                SELECT id FROM payment_orders WHERE state = 'created' AND expires_at <= \(bind: now.epochMilliseconds) ORDER BY expires_at LIMIT \(unsafeRaw: String(limit))
                """
            ).all()
            let ids = try rows.map { try RowReader($0, table: "payment_orders").string("id") }
            guard !ids.isEmpty else { return 0 }
            try await db.update("payment_orders").set("state", to: SQLBind("expired")).set("updated_at", to: SQLBind(now.epochMilliseconds))
                .where("id", .in, SQLBind.group(ids)).where("state", .equal, SQLBind("created")).run()
            return ids.count
        }
    }

    // MARK: - Notifications

    /// A verified notification's effect, with the company it belongs to.
    public struct NotificationResult: Sendable {
        public var companyId: String
        public var outcome: PaymentOutcome?
        /// Events acknowledged without an effect (a closed trade, a refund status we did not ask about).
        public var ignored: String?
    }

    /// Verifies, decrypts and applies a WeChat Pay v3 notification. Throws 401/400-kind errors before anything is written.
    public func wechatPayNotification(headers: WeChatPayV3.NotificationHeaders, body: [UInt8]) async throws -> NotificationResult {
        let now = clock.now()
        let merchants = channels.wechatPayMerchants(serial: headers.serial ?? "")
        guard let first = merchants.first else {
            // Still check the headers so the answer names what is missing first.
            try WeChatPayV3.verify(headers, body: body, now: now, keys: [:])
            throw PaymentError(.unauthenticated, code: "unknown_serial", field: "Wechatpay-Serial", "no configured platform key has this serial")
        }
        try WeChatPayV3.verify(headers, body: body, now: now, keys: first.credentials.platformKeys)
        guard let notification = try? JSONDecoder().decode(WeChatPayV3.Notification.self, from: Data(body)) else {
            throw PaymentError(.malformed, code: "malformed_notification", field: "body", "the body is not a WeChat Pay notification")
        }
        var opened: (String, WeChatPayV3.Credentials, Data)?
        for merchant in merchants {
            if let plain = try? WeChatPayV3.decrypt(notification.resource, apiV3Key: merchant.credentials.apiV3Key) {
                opened = (merchant.companyId, merchant.credentials, plain)
                break
            }
        }
        guard let (companyId, credentials, plaintext) = opened else {
            throw PaymentError(.malformed, code: "decryption_failed", field: "resource", "the resource does not decrypt with a configured APIv3 key")
        }
        if notification.eventType.hasPrefix("REFUND.") {
            return try await wechatRefundNotification(plaintext, companyId: companyId, credentials: credentials)
        }
        guard notification.eventType == "TRANSACTION.SUCCESS" else {
            logger.info(
                "wechatpay notification acknowledged without effect", metadata: ["event": "\(notification.eventType)", "company": "\(companyId)"])
            return NotificationResult(companyId: companyId, outcome: nil, ignored: notification.eventType)
        }
        guard let transaction = try? JSONDecoder().decode(WeChatPayV3.Transaction.self, from: plaintext) else {
            throw PaymentError(.malformed, code: "malformed_notification", field: "resource", "the transaction resource is incomplete")
        }
        guard transaction.mchid == credentials.merchantId, transaction.appid.map({ $0 == credentials.appId }) ?? true else {
            throw PaymentError(.unauthenticated, code: "merchant_mismatch", field: "resource.mchid", "the transaction is for another merchant")
        }
        guard transaction.tradeState == "SUCCESS" else {
            return NotificationResult(companyId: companyId, outcome: nil, ignored: "trade_state " + transaction.tradeState)
        }
        let paidAt = transaction.successTime.flatMap { RFC3339.date($0) } ?? now
        let channelTransaction = ChannelTransaction(
            channel: "wechatpay", transactionId: transaction.transactionId, outTradeNo: transaction.outTradeNo,
            amount: transaction.amount.total, paidAt: paidAt, payerAccount: transaction.payer?.openid,
            recordedBy: "system:wechatpay")
        let outcome = try await apply(channelTransaction, companyId: companyId, payload: String(decoding: plaintext, as: UTF8.self))
        return NotificationResult(companyId: companyId, outcome: outcome, ignored: nil)
    }

    /// A decrypted `refund` resource (REFUND.SUCCESS, REFUND.ABNORMAL, REFUND.CLOSED).
    struct RefundResource: Decodable {
        var mchid: String
        var outRefundNo: String
        var refundId: String
        var refundStatus: String

        enum CodingKeys: String, CodingKey {
            case mchid
            case outRefundNo = "out_refund_no"
            case refundId = "refund_id"
            case refundStatus = "refund_status"
        }
    }

    /// A refund that WeChat accepted as PROCESSING settles (or fails) by notification.
    func wechatRefundNotification(_ plaintext: Data, companyId: String, credentials: WeChatPayV3.Credentials) async throws -> NotificationResult {
        guard let resource = try? JSONDecoder().decode(RefundResource.self, from: plaintext) else {
            throw PaymentError(.malformed, code: "malformed_notification", field: "resource", "the refund resource is incomplete")
        }
        guard resource.mchid == credentials.merchantId else {
            throw PaymentError(.unauthenticated, code: "merchant_mismatch", field: "resource.mchid", "the refund is for another merchant")
        }
        let hex = Array(resource.outRefundNo.dropFirst(2))
        guard resource.outRefundNo.hasPrefix("RF"), hex.count == 32 else {
            return NotificationResult(companyId: companyId, outcome: nil, ignored: "refund \(resource.outRefundNo) is not ours")
        }
        let id = [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { String(hex[$0]) }.joined(separator: "-")
        let answer: Result<ChannelRefundResult, PaymentError> =
            resource.refundStatus == "SUCCESS"
            ? .success(ChannelRefundResult(channelRefundId: resource.refundId, status: .succeeded))
            : .failure(
                PaymentError(.channelFailed, code: "refund_" + resource.refundStatus.lowercased(), "WeChat Pay reports \(resource.refundStatus)"))
        let now = clock.now()
        let engine = database.engine
        let scope = TenantScope(companyId: companyId)
        let known = try await database.transaction { db -> Bool in
            let refunds = Refunds(db, companyId: companyId, engine: engine)
            guard try await refunds.refund(id: id, scope: scope) != nil else { return false }
            _ = try await refunds.channelAnswered(id, result: answer, scope: scope, now: now)
            return true
        }
        return NotificationResult(companyId: companyId, outcome: nil, ignored: known ? nil : "unknown refund \(resource.outRefundNo)")
    }

    /// Verifies and applies an Alipay asynchronous notification (form-encoded).
    public func alipayNotification(body: [UInt8]) async throws -> NotificationResult {
        let apps = channels.alipayApps()
        let (notification, credentials) = try Alipay.verifyNotification(body, credentials: apps.map(\.credentials))
        guard let companyId = apps.first(where: { $0.credentials.appId == credentials.appId })?.companyId else {
            throw PaymentError(.unauthenticated, code: "unknown_app", field: "app_id", "no configured Alipay app has this app_id")
        }
        if let seller = notification.sellerId, seller != credentials.sellerId {
            throw PaymentError(.unauthenticated, code: "merchant_mismatch", field: "seller_id", "the trade is for another seller")
        }
        guard notification.tradeStatus == "TRADE_SUCCESS" || notification.tradeStatus == "TRADE_FINISHED" else {
            return NotificationResult(companyId: companyId, outcome: nil, ignored: "trade_status " + notification.tradeStatus)
        }
        let paidAt = notification.gmtPayment.flatMap(Self.beijingTime) ?? clock.now()
        let transaction = ChannelTransaction(
            channel: "alipay", transactionId: notification.tradeNo, outTradeNo: notification.outTradeNo,
            amount: notification.totalAmount, paidAt: paidAt, payerAccount: notification.buyerId,
            recordedBy: "system:alipay")
        let payload = String(
            decoding: (try? JSONSerialization.data(withJSONObject: notification.parameters, options: [.sortedKeys])) ?? Data(), as: UTF8.self)
        let outcome = try await apply(transaction, companyId: companyId, payload: payload)
        return NotificationResult(companyId: companyId, outcome: outcome, ignored: nil)
    }

    /// `yyyy-MM-dd HH:mm:ss` in Beijing time, Alipay's timestamps.
    static func beijingTime(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "Asia/Shanghai")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.date(from: text)
    }

    /// Applies a channel transaction in one transaction; a concurrent duplicate that loses the race on the unique key is
    /// retried once and then answers as the replay it is.
    ///
    /// Money the rules refuse to allocate (a top-up above the wallet limit, a ledger rule) is not lost either: the
    /// transaction rolls back and the callback is held for review as `apply_failed`, with the reason, in a second
    /// transaction, and the channel is told it arrived.
    public func apply(_ transaction: ChannelTransaction, companyId: String, payload: String) async throws -> PaymentOutcome {
        let engine = database.engine
        var attempt = 0
        while true {
            attempt += 1
            do {
                let now = clock.now()
                return try await database.transaction { [allocationOrder, ports] db in
                    try await PaymentApplier(db, companyId: companyId, engine: engine, ports: ports, order: allocationOrder).apply(
                        transaction, payload: payload, now: now)
                }
            } catch StorageError.alreadyExists where attempt < 3 {
                continue
            } catch let error as StorageError {
                throw error
            } catch let error as PaymentError {
                let now = clock.now()
                logger.error(
                    "payment held: it could not be allocated",
                    metadata: [
                        "company": "\(companyId)", "out_trade_no": "\(transaction.outTradeNo)",
                        "error": "\(error)",
                    ])
                try await database.transaction { db in
                    try await PaymentApplier(db, companyId: companyId, engine: engine, ports: ports).hold(
                        transaction, outcome: "apply_failed", detail: String(String(describing: error).prefix(500)), payload: payload, now: now)
                }
                return PaymentOutcome(
                    status: .heldForReview, outTradeNo: transaction.outTradeNo, paymentId: nil, amount: Money(minorUnits: transaction.amount),
                    allocations: [], receiptNumber: nil, receiptToken: nil, commands: [], review: "apply_failed")
            }
        }
    }
}
