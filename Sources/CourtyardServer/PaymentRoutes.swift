import CourtyardDevices
import CourtyardDomain
import CourtyardPayments
import CourtyardPrepaid
import CourtyardStorage
import Foundation
import HTTPTypes
import Hummingbird
import Logging

extension PaymentError {
    /// The problem answer, with the error's stable code and field.
    var problem: Problem {
        let status: HTTPResponse.Status
        switch kind {
        case .unauthenticated: status = .unauthorized
        case .malformed: status = .badRequest
        case .invalid: status = .unprocessableContent
        case .notFound: status = .notFound
        case .conflict: status = .conflict
        case .forbidden: status = .forbidden
        case .channelFailed: status = .badGateway
        }
        return Problem(
            status, code: code, title: kind == .unauthenticated ? "The callback is not authentic" : "The request was refused",
            detail: message, errors: field.map { [FieldIssue(field: $0, code: code, message: message)] } ?? [])
    }
}

/// Payment orders, channel notifications, payments and receipts, the cash desk, refunds, deposits, bank statements,
/// reconciliation and the review of held callbacks.
enum PaymentRoutes {
    static let logger = Logger(label: "courtyard.payments")

    /// Runs `body`, turning payment (and prepaid) errors into problems.
    static func mapped<T>(_ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch let error as PaymentError { throw error.problem } catch let error as PrepaidErrorBridge {
            throw error.problem
        }
    }

    /// The order named by the path's `out_trade_no`, if the caller may see its house (`staff` for staff callers; an owner
    /// or proxy payer of the house otherwise), with the house's scope.
    static func visibleOrder(
        _ context: CourtyardRequestContext, staff: Permission,
        services: ServerServices
    ) async throws -> (order: PaymentOrder, scope: TenantScope) {
        let outTradeNo = try context.parameters.require("out_trade_no")
        let principal = try context.requireOwner(orStaff: staff)
        let engine = services.database.engine
        guard let companyId = principal.scope?.companyId,
            let order = try await services.database.read({ db in
                try await PaymentStore(db, companyId: companyId, engine: engine).order(outTradeNo: outTradeNo)
            })
        else { throw Problem.notFound("payment order") }
        return (order, try await PrepaidRoutes.houseScope(context, house: order.houseId, staff: staff, services: services))
    }

    struct OrderView: Codable, Sendable {
        var id: String
        var outTradeNo: String
        var houseId: String
        var purpose: PaymentOrder.Purpose
        var amount: Money
        var channel: String
        var state: PaymentOrder.State
        var payerRelation: PaymentOrder.PayerRelation
        /// What the payer scans (WeChat `code_url`, Alipay `qr_code`); for bank orders, the reference to quote.
        var payWith: ChannelOrderRequest?
        var qrSvg: String?
        var expiresAt: Date
        var paidAt: Date?
        var paymentId: String?

        init(_ order: PaymentOrder) {
            id = order.id; outTradeNo = order.outTradeNo; houseId = order.houseId; purpose = order.purpose
            amount = Money(minorUnits: order.amount); channel = order.channel; state = order.state; payerRelation = order.payerRelation
            payWith = order.channelRequest ?? (order.channel == "bank" ? ChannelOrderRequest(kind: "bank_reference", codeUrl: order.outTradeNo) : nil)
            qrSvg = order.channelRequest.flatMap { try? QRCodeDrawing.svg($0.codeUrl) }
            expiresAt = order.expiresAt; paidAt = order.paidAt; paymentId = order.paymentId
        }
    }

    struct PaymentView: Encodable, Sendable {
        var payment: Payment
        var allocations: [PaymentAllocation]
        var receiptUrl: String?
    }

    struct ShiftOpen: Codable, Sendable { var communityId: String; var openingFloat: Money }
    struct ShiftClose: Codable, Sendable { var countedCash: Money; var note: String? }
    struct ShiftView: Encodable, Sendable { var shift: CashierShift; var payments: [Payment] }
    struct Reason: Codable, Sendable { var reason: String }
    struct ConditionInput: Codable, Sendable { var kind: DepositCondition.Kind; var note: String }
    struct DeductionInput: Codable, Sendable { var amount: Money; var reason: String }
    struct ReleaseInput: Codable, Sendable { var destination: String }
    struct MatchInput: Codable, Sendable { var outTradeNo: String }
    struct ResolveInput: Codable, Sendable { var action: String; var reason: String }
    struct ProxyInput: Codable, Sendable { var personId: String; var relation: String }
    typealias RefundList = Page<Refund>
    typealias LineList = Page<BankStatements.Line>
    typealias HeldList = Page<HeldCallback>

    static func register(on api: DocumentedRouter, services: ServerServices) {
        let payments = services.payments
        let engine = services.database.engine
        api.schema(
            "PaymentOrderInput",
            example: PaymentService.OrderRequest(
                id: "owner-app-20261120-0001", houseId: Example.house, purpose: .bills,
                channel: "wechatpay", billIds: [Example.device]),
            required: ["id", "house_id", "purpose", "channel"])
        api.schema(
            "PaymentOrder",
            example: OrderView(
                PaymentOrder(
                    id: Example.device, companyId: Example.company, communityId: Example.community, houseId: Example.house,
                    outTradeNo: "CY0123456789ABCDEF0123456789ABCD", purpose: .bills, items: .init(), amount: 88_88, currency: "CNY",
                    channel: "wechatpay",
                    payerPersonId: Example.person, payerRelation: .proxy, state: .created,
                    channelRequest: ChannelOrderRequest(kind: "wechatpay_native", codeUrl: "weixin://wxpay/bizpayurl?pr=abc"),
                    expiresAt: Example.date,
                    paidAt: nil, paymentId: nil, requestDigest: "", createdBy: Example.person, createdAt: Example.date, updatedAt: Example.date)))
        api.schema(
            "PaymentOutcome",
            example: PaymentOutcome(
                status: .applied, outTradeNo: "CY0123456789ABCDEF0123456789ABCD", paymentId: Example.device, amount: Money(minorUnits: 88_88),
                allocations: [
                    .init(target: .billLateFee, targetId: Example.device, amount: Money(minorUnits: 14)),
                    .init(target: .billPrincipal, targetId: Example.device, amount: Money(minorUnits: 88_74)),
                ],
                receiptNumber: 1, receiptToken: "3f7a9c0e5b2d4168a0c1e2f3a4b5c6d7", commands: [Example.device], review: "unknown_order"))
        api.schema(
            "DeskPaymentInput",
            example: CashDesk.DeskPayment(
                id: "desk-0001", houseId: Example.house, purpose: .bills, channel: "cash",
                amount: Money(minorUnits: 88_88)),
            required: ["id", "house_id", "purpose", "channel", "amount"])
        api.schema(
            "ShiftOpenInput", example: ShiftOpen(communityId: Example.community, openingFloat: Money(minorUnits: 500_00)),
            required: ["community_id", "opening_float"])
        api.schema("ShiftCloseInput", example: ShiftClose(countedCash: Money(minorUnits: 588_88), note: nil), required: ["counted_cash"])
        api.schema(
            "CashierShift",
            example: CashierShift(
                id: Example.device, communityId: Example.community, cashierId: Example.person, status: .open,
                openingFloat: Money(minorUnits: 500_00), expectedCash: nil, countedCash: nil, difference: nil,
                note: nil, openedAt: Example.date, closedAt: nil))
        api.schema("Reason", example: Reason(reason: "keyed in twice"), required: ["reason"])
        api.schema(
            "RefundInput",
            example: Refunds.Request(
                id: "refund-0001", source: .payment, paymentId: Example.device, amount: Money(minorUnits: 10_00),
                reasonCode: "overpayment", reason: "paid twice"),
            required: ["id", "source", "amount", "reason_code", "reason"])
        api.schema(
            "Refund",
            example: Refund(
                id: Example.device, communityId: Example.community, houseId: Example.house, requestId: "refund-0001", source: .payment,
                sourceId: Example.device,
                paymentId: Example.device, amount: Money(minorUnits: 10_00), reasonCode: "overpayment", reason: "paid twice",
                destination: .originalChannel,
                state: .succeeded, ruleDecision: "auto-approved: at most 200.00, reason overpayment, no overdue bills", requestedBy: Example.person,
                decidedBy: "system:refund-rules", decisionReason: "auto-approved", decidedAt: Example.date,
                channelRefundId: "50300000012026112200000777",
                failure: "wechatpay: refused with HTTP 500", createdAt: Example.date, updatedAt: Example.date))
        api.schema("RefundList", example: RefundList(items: []), items: ["items": .schema("Refund")])
        api.schema(
            "Deposit",
            example: Deposit(
                id: Example.device, communityId: Example.community, houseId: Example.house, kind: "decoration", amount: Money(minorUnits: 2_000_00),
                paymentId: Example.device,
                conditions: [DepositCondition(kind: .inspectionPassed), DepositCondition(kind: .dateReached, on: Example.day)],
                satisfied: ["inspection_passed": "inspected by engineer Wang"], state: .held, deducted: Money(minorUnits: 300_00),
                refunded: Money(minorUnits: 0),
                deductions: [
                    .init(
                        id: Example.device, amount: Money(minorUnits: 300_00), reason: "damaged lift wall panel", createdBy: Example.person,
                        createdAt: Example.date)
                ],
                releasedBy: Example.person, releasedAt: Example.date, createdAt: Example.date))
        api.schema(
            "DepositConditionInput", example: ConditionInput(kind: .inspectionPassed, note: "inspected by engineer Wang"), required: ["kind", "note"])
        api.schema(
            "DepositDeductionInput", example: DeductionInput(amount: Money(minorUnits: 300_00), reason: "damaged lift wall panel"),
            required: ["amount", "reason"])
        api.schema("DepositReleaseInput", example: ReleaseInput(destination: "wallet"), required: ["destination"])
        api.schema(
            "BankImportResult",
            example: BankStatements.ImportResult(
                importId: Example.device, matched: 1, unmatched: 1, duplicates: 0, errors: 1,
                rows: [
                    .init(
                        row: 4, status: .error, transactionId: "B20261122003", outTradeNo: "CY0123456789ABCDEF0123456789ABCD", code: "invalid_date",
                        field: "value_date", message: "value_date is YYYY-MM-DD")
                ], commands: [Example.device]))
        api.schema(
            "BankLineList", example: LineList(items: []),
            items: ["items": .object(description: "an unmatched statement line: id, value date, amount, payer, reference, transaction id")])
        api.schema("BankMatchInput", example: MatchInput(outTradeNo: "CY0123456789ABCDEF0123456789ABCD"), required: ["out_trade_no"])
        api.schema(
            "ReconciliationReport",
            example: Reconciliation.Report(
                runId: Example.device, channel: "wechatpay", date: Example.day, matched: 10, missingOurs: 1, missingTheirs: 0, amountMismatch: 0,
                exceptions: [
                    .init(
                        kind: .payment, outcome: .missingOurs, channelReference: "4200000001202611220000000099",
                        outTradeNo: "CY0123456789ABCDEF0123456789ABCD",
                        ourAmount: Money(minorUnits: 9_00), theirAmount: Money(minorUnits: 9_00))
                ]))
        api.schema(
            "HeldCallbackList", example: HeldList(items: []),
            items: ["items": .object(description: "a held channel callback: id, channel, out_trade_no, transaction id, amount, reason, received_at")])
        api.schema("ResolveInput", example: ResolveInput(action: "apply", reason: "payer confirmed by phone"), required: ["action", "reason"])
        api.schema("ProxyPayerInput", example: ProxyInput(personId: Example.person, relation: "child"), required: ["person_id", "relation"])
        var examplePayment = Payment(
            id: Example.device, companyId: Example.company, communityId: Example.community, houseId: Example.house,
            orderId: Example.device, channel: "wechatpay", channelTransactionId: "4200001841202305111695101523",
            amount: 88_88, currency: "CNY", payerPersonId: Example.person, payerAccount: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
            shiftId: Example.device, paidAt: Example.date, recordedBy: "system:wechatpay", contentDigest: "…", createdAt: Example.date)
        examplePayment.receiptNumber = 1
        examplePayment.voidedBy = Example.person
        examplePayment.voidReason = "keyed in twice"
        api.schema("Payment", example: examplePayment)

        // MARK: Orders

        api.on(
            .post, "/api/v1/payment-orders",
            summary: "Create a payment order (bills, a wallet top-up or a deposit) and get what the payer scans; the same id returns the same order",
            tag: "Payments", request: "PaymentOrderInput", response: "PaymentOrder", status: 201
        ) { request, context in
            let principal = try context.requireOwner(orStaff: .takePayments)
            let input = try await request.decode(as: PaymentService.OrderRequest.self, context: context)
            let scope = try await PrepaidRoutes.houseScope(context, house: input.houseId, staff: .takePayments, services: services)
            let order = try await mapped {
                try await payments.createOrder(
                    input, scope: scope, actor: principal.user.id,
                    ownerPersonId: principal.role == .owner ? principal.user.personId : nil)
            }
            return try .json(OrderView(order), status: .created, location: "/api/v1/payment-orders/\(order.outTradeNo)")
        }

        api.on(
            .get, "/api/v1/payment-orders/:out_trade_no", summary: "An order's status by out-trade-no (the payer's app polls it)",
            tag: "Payments", response: "PaymentOrder"
        ) { _, context in
            let (order, _) = try await visibleOrder(context, staff: .readFinance, services: services)
            return try .json(OrderView(order))
        }

        api.on(
            .post, "/api/v1/payment-orders/:out_trade_no/close", summary: "Close an unpaid order (a late payment for it is held for review)",
            tag: "Payments", response: "PaymentOrder"
        ) { _, context in
            let (order, scope) = try await visibleOrder(context, staff: .takePayments, services: services)
            return try .json(OrderView(try await mapped { try await payments.close(outTradeNo: order.outTradeNo, scope: scope) }))
        }

        api.on(
            .post, "/api/v1/houses/:id/proxy-payers", summary: "Link a proxy payer to a house (a child paying for a parent's home)",
            tag: "Payments", permission: .managePeople, request: "ProxyPayerInput", status: 204
        ) { request, context in
            let scope = try context.scope(for: .managePeople)
            let principal = try context.requirePrincipal()
            let house = try context.parameters.require("id")
            let input = try await request.decode(as: ProxyInput.self, context: context)
            guard !input.relation.isEmpty, input.relation.count <= 40 else {
                throw Problem.invalid("relation", code: "invalid_value", "relation is 1 to 40 characters")
            }
            let now = services.clock.now()
            try await services.database.transaction { db in
                let store = ScopedStore(db, scope: scope)
                guard let target = try await store.find(House.self, id: house) else { throw Problem.notFound("house") }
                guard try await store.find(Person.self, id: input.personId) != nil else { throw Problem.notFound("person") }
                try await PaymentStore(TenantSQL(db, scope: scope, engine: services.database.engine))
                    .linkProxyPayer(
                        houseId: house, communityId: target.communityId, personId: input.personId, relation: input.relation,
                        grantedBy: principal.user.id, now: now)
            }
            return Response(status: .noContent)
        }

        // MARK: Notifications (no session: the signature is the credential)

        api.on(
            .post, "/api/v1/payments/notify/wechatpay",
            summary:
                "WeChat Pay v3 notification: verified (SHA256withRSA over the raw body, ±300 s), decrypted, applied once; 204 also for replays and held money",
            tag: "Payment callbacks", status: 204
        ) { request, context in
            let body = [UInt8](try await IngestRoutes.collect(request, context))
            let header = { (name: String) in request.headers[HTTPField.Name(name)!] }
            let headers = WeChatPayV3.NotificationHeaders(
                timestamp: header("Wechatpay-Timestamp"), nonce: header("Wechatpay-Nonce"),
                signature: header("Wechatpay-Signature"), serial: header("Wechatpay-Serial"),
                signatureType: header("Wechatpay-Signature-Type"))
            do {
                let result = try await payments.wechatPayNotification(headers: headers, body: body)
                if let outcome = result.outcome {
                    logger.info(
                        "wechatpay notification",
                        metadata: [
                            "company": "\(result.companyId)", "outcome": "\(outcome.status.rawValue)",
                            "out_trade_no": "\(outcome.outTradeNo)",
                        ])
                    if !outcome.commands.isEmpty { await services.dispatcher.wake() }
                }
                return Response(status: .noContent)
            } catch let error as PaymentError {
                // Logged by code and serial only: never the body, the signature or a key.
                logger.warning("wechatpay notification refused", metadata: ["code": "\(error.code)", "serial": "\(headers.serial ?? "-")"])
                throw error.problem
            }
        }

        api.on(
            .post, "/api/v1/payments/notify/alipay",
            summary:
                "Alipay asynchronous notification (RSA2 over the sorted parameters): verified, checked against app and seller, applied once; answers `success`",
            tag: "Payment callbacks"
        ) { request, context in
            let body = [UInt8](try await IngestRoutes.collect(request, context))
            do {
                let result = try await payments.alipayNotification(body: body)
                if let outcome = result.outcome {
                    logger.info(
                        "alipay notification",
                        metadata: [
                            "company": "\(result.companyId)", "outcome": "\(outcome.status.rawValue)",
                            "out_trade_no": "\(outcome.outTradeNo)",
                        ])
                    if !outcome.commands.isEmpty { await services.dispatcher.wake() }
                }
                var headers = HTTPFields()
                headers[.contentType] = "text/plain; charset=utf-8"
                return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "success")))
            } catch let error as PaymentError {
                logger.warning("alipay notification refused", metadata: ["code": "\(error.code)"])
                throw error.problem
            }
        }

        // MARK: Payments and receipts

        api.on(
            .get, "/api/v1/payments", summary: "Payments newest first, by house, channel, shift and date range (from/until, RFC 3339)",
            tag: "Payments", response: "Payment", query: ["house_id", "channel", "shift_id", "from", "until", "cursor", "limit"]
        ) { request, context in
            let query = request.uri.queryParameters
            let house = query["house_id"].map(String.init)
            let principal = try context.requireOwner(orStaff: .readFinance)
            let scope: TenantScope
            if principal.role == .owner {
                guard let house else { throw Problem.invalid("house_id", code: "required", "owners list the payments of one of their houses") }
                scope = try await PrepaidRoutes.houseScope(context, house: house, staff: .readFinance, services: services)
            } else {
                scope = try context.scope(for: .readFinance)
            }
            let date = { (name: String) throws -> Date? in
                guard let text = query[name[...]].map(String.init) else { return nil }
                guard let value = RFC3339.date(text) else {
                    throw Problem.invalid(name, code: "invalid_format", "\(name) is an RFC 3339 time")
                }
                return value
            }
            let (_, cursor, limit) = try ResourceRoutes.listParameters(request, filters: [])
            let filter = PaymentStore.PaymentFilter(
                houseId: house, channel: query["channel"].map(String.init), from: try date("from"),
                until: try date("until"), shiftId: query["shift_id"].map(String.init), communityIds: scope.communityIds)
            let items = try await services.database.read { db in
                try await PaymentStore(db, companyId: scope.companyId, engine: engine).payments(filter, after: cursor, limit: limit)
            }
            return try .json(Page(items: items, nextCursor: items.count == limit ? items.last?.id : nil))
        }

        api.on(.get, "/api/v1/payments/:id", summary: "A payment with where its money went", tag: "Payments", response: "Payment") { _, context in
            let id = try context.parameters.require("id")
            let principal = try context.requireOwner(orStaff: .readFinance)
            guard let companyId = principal.scope?.companyId else { throw Problem.notFound("payment") }
            let view = try await services.database.read { db -> PaymentView? in
                let store = PaymentStore(db, companyId: companyId, engine: engine)
                guard let payment = try await store.payment(id: id) else { return nil }
                let receipt = try await ReceiptBook(db, companyId: companyId, engine: services.database.engine).receipt(kind: .payment, subjectId: id)
                return PaymentView(
                    payment: payment, allocations: try await store.allocations(paymentId: id),
                    receiptUrl: receipt.map { services.configuration.publicURL + "/r/" + $0.token })
            }
            guard let view else { throw Problem.notFound("payment") }
            _ = try await PrepaidRoutes.houseScope(context, house: view.payment.houseId, staff: .readFinance, services: services)
            return try .json(view)
        }

        api.on(
            .get, "/api/v1/payments/:id/receipt", summary: "Re-print a payment's receipt (printable HTML with its verification QR code)",
            tag: "Payments"
        ) { _, context in
            let id = try context.parameters.require("id")
            let principal = try context.requireOwner(orStaff: .readFinance)
            guard let companyId = principal.scope?.companyId else { throw Problem.notFound("receipt") }
            let found = try await services.database.read { db -> (Payment, Receipt)? in
                guard let payment = try await PaymentStore(db, companyId: companyId, engine: engine).payment(id: id),
                    let receipt = try await ReceiptBook(db, companyId: companyId, engine: services.database.engine).receipt(
                        kind: .payment, subjectId: id)
                else { return nil }
                return (payment, receipt)
            }
            guard let (payment, receipt) = found else { throw Problem.notFound("receipt") }
            _ = try await PrepaidRoutes.houseScope(context, house: payment.houseId, staff: .readFinance, services: services)
            return ReceiptPage.response(receipt, publicURL: services.configuration.publicURL, voided: payment.status == .voided)
        }

        api.on(.get, "/r/:token", summary: "Public receipt verification page (the receipt's QR code links here)", tag: "Payments", html: true) {
            _, context in
            let token = try context.parameters.require("token")
            guard let receipt = try await services.database.read({ db in try await ReceiptBook.receipt(token: token, db: db) }) else {
                return ReceiptPage.notFound()
            }
            return ReceiptPage.response(receipt, publicURL: services.configuration.publicURL, voided: false, verification: true)
        }

        registerDesk(on: api, services: services)
        registerRefunds(on: api, services: services)
        registerBackOffice(on: api, services: services)
    }
}

/// Prepaid errors raised inside a payment (a top-up refused by its rules) keep their own problem.
typealias PrepaidErrorBridge = CourtyardPrepaid.PrepaidError
