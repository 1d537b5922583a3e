import CourtyardDomain
import CourtyardLedger
import CourtyardStorage
import Foundation
import SQLKit

/// A cashier's shift at the front desk (收银班次): opened with a float, takes cash and POS payments (each with its
/// receipt), closed with the counted cash against what the shift should hold.
public struct CashierShift: Codable, Sendable, Hashable {
    public enum Status: String, Codable, Sendable { case open, closed }

    public var id: String
    public var communityId: String
    public var cashierId: String
    public var status: Status
    public var openingFloat: Money
    public var expectedCash: Money?
    public var countedCash: Money?
    /// Counted minus expected: negative is a shortage.
    public var difference: Money?
    public var note: String?
    public var openedAt: Date
    public var closedAt: Date?

    public init(
        id: String, communityId: String, cashierId: String, status: Status, openingFloat: Money, expectedCash: Money?, countedCash: Money?,
        difference: Money?, note: String?, openedAt: Date, closedAt: Date?
    ) {
        self.id = id; self.communityId = communityId; self.cashierId = cashierId; self.status = status; self.openingFloat = openingFloat
        self.expectedCash = expectedCash; self.countedCash = countedCash; self.difference = difference; self.note = note
        self.openedAt = openedAt; self.closedAt = closedAt
    }
}

/// Who asks for a void and who approves it, checked against the payment before anything is reversed.
///
/// A void takes money back out of the books, so two different people stand behind it: the **requester** is the
/// shift's own cashier or a supervisor; the **supervisor** holds the supervising permission, may act in the payment's
/// community, and is neither the cashier who took the payment nor the requester. (Comparing the supervisor with the
/// requester alone let a colleague void another cashier's payment by naming that cashier as "supervisor".)
public struct VoidApproval: Sendable, Equatable {
    public var requesterId: String
    public var requesterSupervises: Bool
    public var supervisorId: String
    public var supervisorSupervises: Bool
    /// The supervisor's communities; `nil` for every community of the company.
    public var supervisorCommunityIds: Set<String>?

    public init(
        requesterId: String, requesterSupervises: Bool, supervisorId: String, supervisorSupervises: Bool,
        supervisorCommunityIds: Set<String>?
    ) {
        self.requesterId = requesterId
        self.requesterSupervises = requesterSupervises
        self.supervisorId = supervisorId
        self.supervisorSupervises = supervisorSupervises
        self.supervisorCommunityIds = supervisorCommunityIds
    }

    /// Throws unless this approval may void a payment taken by `paymentCashierId` in a shift of `shiftCashierId`.
    public func check(paymentCashierId: String, shiftCashierId: String, communityId: String) throws(PaymentError) {
        guard requesterId == shiftCashierId || requesterSupervises else {
            throw PaymentError(
                .forbidden, code: "not_shift_cashier", field: "payment_id",
                "only the shift's cashier or a supervisor asks for a void")
        }
        guard supervisorSupervises, supervisorCommunityIds.map({ $0.contains(communityId) }) ?? true else {
            throw PaymentError(
                .forbidden, code: "supervisor_required", field: "Courtyard-Supervisor",
                "the approver must be a finance supervisor of this community")
        }
        guard supervisorId != paymentCashierId, supervisorId != shiftCashierId, supervisorId != requesterId else {
            throw PaymentError(
                .forbidden, code: "supervisor_required", field: "Courtyard-Supervisor",
                "a void is approved by a supervisor other than the cashier and the requester")
        }
    }
}

/// The front desk: shifts, cash and POS payments through the same applier as online channels, and voids within the
/// shift approved by a supervisor.
public struct CashDesk: TenantStore {
    public let tenant: TenantSQL

    public init(_ tenant: TenantSQL) {
        self.tenant = tenant
    }

    static let columns = "id, community_id, cashier_id, status, opening_float, expected_cash, counted_cash, difference, note, opened_at, closed_at"

    static func shift(from row: any SQLRow) throws -> CashierShift {
        let r = RowReader(row, table: "cashier_shifts")
        return CashierShift(
            id: try r.string("id"), communityId: try r.string("community_id"), cashierId: try r.string("cashier_id"),
            status: try r.value("status", as: CashierShift.Status.self), openingFloat: Money(minorUnits: try r.int64("opening_float")),
            expectedCash: try r.optionalInt64("expected_cash").map { Money(minorUnits: $0) },
            countedCash: try r.optionalInt64("counted_cash").map { Money(minorUnits: $0) },
            difference: try r.optionalInt64("difference").map { Money(minorUnits: $0) }, note: try r.optionalString("note"),
            openedAt: try r.instant("opened_at"), closedAt: try r.optionalInt64("closed_at").map(Date.init(epochMilliseconds:)))
    }

    public func shift(id: String, scope: TenantScope, lock: Bool = false) async throws -> CashierShift? {
        let shift = try await tenant.select(
            "\(unsafeRaw: Self.columns)", from: "cashier_shifts", where: "id = \(bind: id)",
            lock: lock ? .forUpdate : .none
        ).first().map(Self.shift(from:))
        return shift.flatMap { scope.includes(communityId: $0.communityId) ? $0 : nil }
    }

    /// The cashier's open shift, if any (there is at most one), within `scope`.
    public func openShift(cashierId: String, scope: TenantScope) async throws -> CashierShift? {
        let shift = try await tenant.select(
            "\(unsafeRaw: Self.columns)", from: "cashier_shifts", where: "cashier_id = \(bind: cashierId) AND status = 'open'"
        ).first().map(Self.shift(from:))
        return shift.flatMap { scope.includes(communityId: $0.communityId) ? $0 : nil }
    }

    /// Opens a shift; a cashier has at most one open shift.
    public func open(communityId: String, cashierId: String, openingFloat: Money, scope: TenantScope, now: Date) async throws -> CashierShift {
        guard scope.includes(communityId: communityId),
            try await tenant.select("id", from: "communities", where: "id = \(bind: communityId)").first() != nil
        else {
            throw PaymentError(.notFound, code: "not_found", field: "community_id", "no community \(communityId)")
        }
        try await PaymentError.requireCurrency([(openingFloat, "opening_float.currency")], community: communityId, db: db, scope: scope)
        guard openingFloat.minorUnits >= 0 else {
            throw PaymentError(.invalid, code: "amount_negative", field: "opening_float", "the float is 0 or more")
        }
        if try await tenant.select("id", from: "cashier_shifts", where: "cashier_id = \(bind: cashierId) AND status = 'open'").first() != nil {
            throw PaymentError(.conflict, code: "shift_already_open", field: "cashier_id", "this cashier already has an open shift; close it first")
        }
        let id = Identifier.uuidV7(at: now)
        try await tenant.insert(
            into: "cashier_shifts", columns: ["id", "community_id", "cashier_id", "status", "opening_float", "opened_at"],
            values: [id, communityId, cashierId, "open", openingFloat.minorUnits, now.epochMilliseconds]
        ).run()
        return CashierShift(
            id: id, communityId: communityId, cashierId: cashierId, status: .open, openingFloat: openingFloat, expectedCash: nil,
            countedCash: nil, difference: nil, note: nil, openedAt: now, closedAt: nil)
    }

    /// A payment taken at the desk.
    public struct DeskPayment: Codable, Sendable, Hashable {
        /// The desk's idempotency key (a retry after a timeout takes nothing twice).
        public var id: String
        public var houseId: String
        public var purpose: PaymentOrder.Purpose
        /// `cash` or `pos`.
        public var channel: String
        public var amount: Money
        public var billIds: [String]?
        public var walletPurpose: String?
        public var depositKind: String?
        public var depositConditions: [DepositCondition]?
        public var payerPersonId: String?
        /// The POS terminal's reference (required for POS).
        public var posReference: String?

        public init(
            id: String, houseId: String, purpose: PaymentOrder.Purpose, channel: String, amount: Money, billIds: [String]? = nil,
            walletPurpose: String? = nil, depositKind: String? = nil, depositConditions: [DepositCondition]? = nil,
            payerPersonId: String? = nil, posReference: String? = nil
        ) {
            self.id = id; self.houseId = houseId; self.purpose = purpose; self.channel = channel; self.amount = amount; self.billIds = billIds
            self.walletPurpose = walletPurpose; self.depositKind = depositKind; self.depositConditions = depositConditions
            self.payerPersonId = payerPersonId; self.posReference = posReference
        }
    }

    /// Takes a cash or POS payment in an open shift of the caller: an order paid at once, applied like any callback.
    public func take(
        _ request: DeskPayment, shiftId: String, cashierId: String, scope: TenantScope, order allocation: Settlement.Order,
        ports: PaymentPorts, now: Date
    ) async throws -> PaymentOutcome {
        guard request.channel == "cash" || request.channel == "pos" else {
            throw PaymentError(.invalid, code: "unknown_channel", field: "channel", "the desk takes cash or pos")
        }
        if request.channel == "pos", (request.posReference ?? "").isEmpty {
            throw PaymentError(.invalid, code: "required", field: "pos_reference", "a POS payment carries the terminal's reference")
        }
        // Validated as an order (the desk's channels are not order channels, so it is checked as a bank order, then set).
        var orderRequest = PaymentService.OrderRequest(
            id: request.id, houseId: request.houseId, purpose: request.purpose, channel: "bank",
            billIds: request.billIds, amount: request.amount, walletPurpose: request.walletPurpose,
            depositKind: request.depositKind, depositConditions: request.depositConditions,
            payerPersonId: request.payerPersonId)
        try PaymentService.validate(orderRequest, maximumTopUp: ports.wallets.maximumCredit)
        orderRequest.channel = request.channel
        guard let shift = try await shift(id: shiftId, scope: scope, lock: true) else {
            throw PaymentError(.notFound, code: "not_found", field: "shift_id", "no shift \(shiftId)")
        }
        guard shift.status == .open else { throw PaymentError(.conflict, code: "shift_closed", field: "shift_id", "the shift is closed") }
        guard shift.cashierId == cashierId else {
            throw PaymentError(.forbidden, code: "not_your_shift", field: "shift_id", "payments are taken in the cashier's own shift")
        }
        try await PaymentError.requireCurrency([(request.amount, "amount.currency")], community: shift.communityId, db: db, scope: scope)
        let outTradeNo = PaymentService.outTradeNo(companyId: companyId, requestId: "desk:" + request.id)
        let store = PaymentStore(tenant)
        let transactionId = "desk-" + (request.channel == "pos" ? request.posReference ?? request.id : request.id)
        if let existing = try await store.order(outTradeNo: outTradeNo, lock: true) {
            guard existing.requestDigest == orderRequest.digest else {
                throw PaymentError(.conflict, code: "idempotency_conflict", field: "id", "desk payment \(request.id) was taken with other content")
            }
        } else {
            guard let house = try await PaymentLedger(tenant: tenant).community(ofHouse: request.houseId),
                house == shift.communityId
            else {
                throw PaymentError(.notFound, code: "not_found", field: "house_id", "no house \(request.houseId) in the shift's community")
            }
            let (payer, relation) = try await PaymentService.payer(orderRequest, ownerPersonId: nil, tenant: tenant, now: now)
            try await store.insert(
                PaymentOrder(
                    id: Identifier.uuidV7(at: now), companyId: companyId, communityId: house, houseId: request.houseId, outTradeNo: outTradeNo,
                    purpose: request.purpose,
                    items: .init(
                        billIds: request.billIds, walletPurpose: request.walletPurpose, depositKind: request.depositKind,
                        depositConditions: request.depositConditions, description: PaymentService.describe(orderRequest)),
                    amount: request.amount.minorUnits, currency: "CNY", channel: request.channel, payerPersonId: payer,
                    payerRelation: payer == nil ? .staff : relation, state: .created, channelRequest: nil, expiresAt: now.addingTimeInterval(60),
                    paidAt: nil, paymentId: nil, requestDigest: orderRequest.digest, createdBy: cashierId, createdAt: now, updatedAt: now))
        }
        return try await PaymentApplier(db, companyId: companyId, engine: engine, ports: ports, order: allocation).apply(
            ChannelTransaction(
                channel: request.channel, transactionId: transactionId, outTradeNo: outTradeNo, amount: request.amount.minorUnits,
                paidAt: now, recordedBy: cashierId, shiftId: shiftId),
            payload: StoredJSON.encode(request), now: now)
    }

    /// Voids a desk payment of an open shift (a mistake at the counter): every allocation is reversed in the ledger, the
    /// bills reopen, and the audit log names the supervisor who approved it.
    public func void(
        paymentId: String, approval: VoidApproval, reason: String, scope: TenantScope, ports: PaymentPorts, now: Date
    ) async throws -> Payment {
        let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else { throw PaymentError(.invalid, code: "reason_required", field: "reason", "a void states its reason") }
        let store = PaymentStore(tenant)
        guard let payment = try await store.payment(id: paymentId, lock: true), scope.includes(communityId: payment.communityId) else {
            throw PaymentError(.notFound, code: "not_found", field: "payment_id", "no payment \(paymentId)")
        }
        guard let shiftId = payment.shiftId, let shift = try await shift(id: shiftId, scope: scope, lock: true) else {
            throw PaymentError(.conflict, code: "not_a_desk_payment", field: "payment_id", "only desk payments are voided; refund online payments")
        }
        guard shift.status == .open else {
            throw PaymentError(.conflict, code: "shift_closed", field: "payment_id", "voids happen within the shift; refund it instead")
        }
        try approval.check(paymentCashierId: payment.recordedBy, shiftCashierId: shift.cashierId, communityId: payment.communityId)
        let supervisorId = approval.supervisorId
        guard payment.status == .settled else { throw PaymentError(.conflict, code: "already_voided", field: "payment_id", "the payment is voided") }
        guard payment.refundedAmount == 0 else {
            throw PaymentError(.conflict, code: "payment_refunded", field: "payment_id", "part of the payment was refunded; it cannot be voided")
        }
        let order = try await payment.orderId.asyncMap { try await store.order(id: $0) } ?? nil
        let clearing = AccountKey.community(payment.communityId, .clearing, purpose: payment.channel)
        var operations: [LedgerOperation] = []
        for allocation in try await store.allocations(paymentId: paymentId) {
            let source: AccountKey
            switch allocation.target {
            case .billPrincipal:
                source = AccountKey(communityId: payment.communityId, kind: .receivable, owner: payment.houseId, purpose: "fees")
                try await ports.receivables.addPaid(-allocation.amount, to: allocation.targetId, tenant: tenant, now: now)
            case .billLateFee:
                source = AccountKey.community(payment.communityId, .lateFeeIncome)
                try await ports.receivables.unsettleLateFees(billId: allocation.targetId, paymentId: paymentId, tenant: tenant)
            case .wallet:
                let purpose = order?.purpose == .topUp ? order?.items.walletPurpose ?? "general" : "general"
                source = AccountKey.wallet(payment.communityId, house: payment.houseId, purpose: purpose)
            case .deposit:
                guard let deposit = order?.items.depositKind else { continue }
                source = AccountKey(communityId: payment.communityId, kind: .deposit, owner: payment.houseId, purpose: deposit)
                try await tenant.update(
                    "deposits",
                    set: """
                        state = 'released', refunded = amount - deducted, released_by = \(bind: supervisorId),
                        released_at = \(bind: now.epochMilliseconds), updated_at = \(bind: now.epochMilliseconds)
                        """, where: "id = \(bind: allocation.targetId) AND deducted = 0"
                ).run()
            }
            operations.append(
                .transfer(
                    Transfer(
                        id: "void:" + allocation.transferId, debit: source, credit: clearing, amount: allocation.amount,
                        code: allocation.target == .deposit ? .depositRefund : .adjustment, reference: "void:" + paymentId,
                        actor: supervisorId)))
        }
        try await PaymentLedger(tenant: tenant).post(
            operations, now: now, field: "payment_id", what: "the payment cannot be reversed", rename: ["insufficient_balance": "wallet_spent"])
        try await tenant.update(
            "payments", set: "status = 'voided', voided_by = \(bind: supervisorId), void_reason = \(bind: String(reason.prefix(500)))",
            where: "id = \(bind: paymentId)"
        ).run()
        var after = payment
        after.status = .voided
        after.voidedBy = supervisorId
        after.voidReason = reason
        try await ScopedStore(db, scope: TenantScope(companyId: companyId)).insert(
            AuditEntry(
                id: Identifier.uuidV7(at: now), companyId: companyId, communityId: payment.communityId, actor: supervisorId,
                action: "payment_voided", subjectType: "payment", subjectId: paymentId, reason: reason,
                beforeState: StoredJSON.encode(payment), afterState: StoredJSON.encode(after), createdAt: now))
        return after
    }

    /// Closes a shift: expected cash is the float plus the shift's settled cash payments; the count is recorded with
    /// its difference (a shortage is negative) and cannot be changed afterwards.
    public func close(shiftId: String, cashierId: String, counted: Money, note: String?, scope: TenantScope, now: Date) async throws -> CashierShift {
        guard var shift = try await shift(id: shiftId, scope: scope, lock: true) else {
            throw PaymentError(.notFound, code: "not_found", field: "shift_id", "no shift \(shiftId)")
        }
        guard shift.status == .open else { throw PaymentError(.conflict, code: "shift_closed", field: "shift_id", "the shift is closed") }
        guard shift.cashierId == cashierId else {
            throw PaymentError(.forbidden, code: "not_your_shift", field: "shift_id", "a shift is closed by its cashier")
        }
        try await PaymentError.requireCurrency([(counted, "counted_cash.currency")], community: shift.communityId, db: db, scope: scope)
        guard counted.minorUnits >= 0 else { throw PaymentError(.invalid, code: "amount_negative", field: "counted_cash", "the count is 0 or more") }
        let cash =
            try await tenant.select(
                "CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS total", from: "payments",
                where: "shift_id = \(bind: shiftId) AND channel = 'cash' AND status = 'settled'"
            ).first().map { try RowReader($0, table: "payments").int64("total") } ?? 0
        let expected = shift.openingFloat.minorUnits + cash
        try await tenant.update(
            "cashier_shifts",
            set: """
                status = 'closed', expected_cash = \(bind: expected), counted_cash = \(bind: counted.minorUnits),
                difference = \(bind: counted.minorUnits - expected), note = \(bind: note.map { String($0.prefix(500)) }), closed_at = \(bind: now.epochMilliseconds)
                """, where: "id = \(bind: shiftId)"
        ).run()
        shift.status = .closed
        shift.expectedCash = Money(minorUnits: expected)
        shift.countedCash = counted
        shift.difference = Money(minorUnits: counted.minorUnits - expected)
        shift.note = note
        shift.closedAt = now
        return shift
    }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
