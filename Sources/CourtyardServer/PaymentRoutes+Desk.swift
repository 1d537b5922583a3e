import CourtyardDevices
import CourtyardDomain
import CourtyardPayments
import CourtyardPrepaid
import CourtyardStorage
import Foundation
import HTTPTypes
import Hummingbird

extension PaymentRoutes {
    /// The signed-in supervisor named by the `Courtyard-Supervisor` header (their own session token), who must hold
    /// finance rights in the same company and be someone other than the cashier.
    static func supervisor(_ request: Request, companyId: String, services: ServerServices) async throws -> User {
        guard let token = request.headers[HTTPField.Name("Courtyard-Supervisor")!], !token.isEmpty else {
            throw Problem(
                .forbidden, code: "supervisor_required", title: "A supervisor approves voids",
                detail: "send the supervisor's session token in the Courtyard-Supervisor header",
                errors: [FieldIssue(field: "Courtyard-Supervisor", code: "supervisor_required", message: "missing")])
        }
        let now = services.clock.now()
        let user = try await services.database.read { db in try await AccountStore(db).sessionUser(tokenHash: SessionTokens.hash(token), at: now) }
        guard let user, user.companyId == companyId else {
            throw Problem(
                .forbidden, code: "supervisor_required", title: "A supervisor approves voids",
                detail: "the Courtyard-Supervisor token is not a finance supervisor's session in this company",
                errors: [FieldIssue(field: "Courtyard-Supervisor", code: "supervisor_required", message: "not a supervisor")])
        }
        return user
    }

    static func registerDesk(on api: DocumentedRouter, services: ServerServices) {
        let engine = services.database.engine
        api.on(
            .post, "/api/v1/cashier-shifts", summary: "Open a cashier shift with its float (one open shift per cashier)",
            tag: "Cash desk", permission: .takePayments, request: "ShiftOpenInput", response: "CashierShift", status: 201
        ) { request, context in
            let scope = try context.scope(for: .takePayments)
            let principal = try context.requirePrincipal()
            let input = try await request.decode(as: ShiftOpen.self, context: context)
            let now = services.clock.now()
            let shift = try await mapped {
                try await services.database.transaction { db in
                    try await CashDesk(db, companyId: scope.companyId, engine: engine).open(
                        communityId: input.communityId, cashierId: principal.user.id,
                        openingFloat: input.openingFloat, scope: scope, now: now)
                }
            }
            return try .json(shift, status: .created)
        }

        api.on(
            .get, "/api/v1/cashier-shifts/:id", summary: "A shift with its payments", tag: "Cash desk", permission: .takePayments,
            response: "CashierShift"
        ) { _, context in
            let scope = try context.scope(for: .takePayments)
            let id = try context.parameters.require("id")
            let view = try await services.database.read { db -> ShiftView? in
                guard let shift = try await CashDesk(db, companyId: scope.companyId, engine: engine).shift(id: id, scope: scope) else { return nil }
                return ShiftView(
                    shift: shift,
                    payments: try await PaymentStore(db, companyId: scope.companyId, engine: engine)
                        .payments(.init(shiftId: id), after: nil, limit: 1_000))
            }
            guard let view else { throw Problem.notFound("shift") }
            return try .json(view)
        }

        api.on(
            .post, "/api/v1/cashier-shifts/:id/payments",
            summary: "Take a cash or POS payment in your open shift: allocated like any payment, with its receipt; the same id takes nothing twice",
            tag: "Cash desk", permission: .takePayments, request: "DeskPaymentInput", response: "PaymentOutcome", status: 201,
            also: [200: "The same id again: the payment taken the first time"]
        ) { request, context in
            let scope = try context.scope(for: .takePayments)
            let principal = try context.requirePrincipal()
            let shift = try context.parameters.require("id")
            let input = try await request.decode(as: CashDesk.DeskPayment.self, context: context)
            let now = services.clock.now()
            let outcome = try await mapped {
                try await services.database.transaction { db in
                    try await CashDesk(db, companyId: scope.companyId, engine: engine).take(
                        input, shiftId: shift, cashierId: principal.user.id, scope: scope,
                        order: services.payments.allocationOrder, ports: services.payments.ports, now: now)
                }
            }
            if !outcome.commands.isEmpty { await services.dispatcher.wake() }
            return try .json(outcome, status: outcome.status == .applied ? .created : .ok)
        }

        api.on(
            .post, "/api/v1/cashier-shifts/:id/close",
            summary: "Close your shift with the counted cash; the difference to the float plus cash taken is recorded",
            tag: "Cash desk", permission: .takePayments, request: "ShiftCloseInput", response: "CashierShift"
        ) { request, context in
            let scope = try context.scope(for: .takePayments)
            let principal = try context.requirePrincipal()
            let id = try context.parameters.require("id")
            let input = try await request.decode(as: ShiftClose.self, context: context)
            let now = services.clock.now()
            let shift = try await mapped {
                try await services.database.transaction { db in
                    try await CashDesk(db, companyId: scope.companyId, engine: engine).close(
                        shiftId: id, cashierId: principal.user.id, counted: input.countedCash,
                        note: input.note, scope: scope, now: now)
                }
            }
            return try .json(shift)
        }

        api.on(
            .post, "/api/v1/payments/:id/void",
            summary: "Void a desk payment within its open shift; a finance supervisor approves with their token in Courtyard-Supervisor",
            tag: "Cash desk", permission: .takePayments, request: "Reason", response: "Payment"
        ) { request, context in
            let scope = try context.scope(for: .takePayments)
            let principal = try context.requirePrincipal()
            let id = try context.parameters.require("id")
            let input = try await request.decode(as: Reason.self, context: context)
            let supervisor = try await supervisor(request, companyId: scope.companyId, services: services)
            let now = services.clock.now()
            let payment = try await mapped {
                try await services.database.transaction { db in
                    let approval = VoidApproval(
                        requesterId: principal.user.id, requesterSupervises: principal.role.allows(.manageFinance),
                        supervisorId: supervisor.id, supervisorSupervises: supervisor.role.allows(.manageFinance),
                        supervisorCommunityIds: supervisor.communityIds)
                    return try await CashDesk(db, companyId: scope.companyId, engine: engine).void(
                        paymentId: id, approval: approval,
                        reason: input.reason, scope: scope, ports: services.payments.ports, now: now)
                }
            }
            return try .json(payment)
        }
    }

    static func registerRefunds(on api: DocumentedRouter, services: ServerServices) {
        let engine = services.database.engine
        api.on(
            .post, "/api/v1/refunds",
            summary: "Ask for a refund of a payment, a paid bill line or a wallet balance; the rules approve it or finance decides",
            tag: "Refunds", request: "RefundInput", response: "Refund", status: 201
        ) { request, context in
            let principal = try context.requireOwner(orStaff: .takePayments)
            let input = try await request.decode(as: Refunds.Request.self, context: context)
            let scope: TenantScope
            if principal.role == .owner {
                // Owners ask for their own houses only.
                guard let companyId = principal.scope?.companyId else { throw Problem.notFound("house") }
                let house = try await services.database.read { db -> String? in
                    switch input.source {
                    case .payment:
                        return try await PaymentStore(db, companyId: companyId, engine: engine).payment(id: input.paymentId ?? "")?.houseId
                    case .billLine:
                        return try await ScopedStore(db, scope: TenantScope(companyId: companyId)).find(BillLine.self, id: input.billLineId ?? "")?
                            .houseId
                    case .wallet:
                        return input.houseId
                    }
                }
                guard let house else { throw Problem.notFound(input.source.rawValue.replacingOccurrences(of: "_", with: " ")) }
                scope = try await PrepaidRoutes.houseScope(context, house: house, staff: .takePayments, services: services)
            } else {
                scope = try context.scope(for: .takePayments)
            }
            let refund = try await mapped {
                try await services.payments.requestRefund(input, rules: services.configuration.refundRules, actor: principal.user.id, scope: scope)
            }
            return try .json(refund, status: .created)
        }

        api.on(
            .get, "/api/v1/refunds", summary: "Refunds waiting for finance approval, oldest first", tag: "Refunds", permission: .manageFinance,
            response: "RefundList"
        ) { _, context in
            let scope = try context.scope(for: .manageFinance)
            let items = try await services.database.read { db in
                try await Refunds(db, companyId: scope.companyId, engine: engine).pending(scope: scope)
            }
            return try .json(RefundList(items: items))
        }

        api.on(
            .get, "/api/v1/refunds/:id", summary: "A refund with its decision and channel state", tag: "Refunds", permission: .readFinance,
            response: "Refund"
        ) { _, context in
            let scope = try context.scope(for: .readFinance)
            let id = try context.parameters.require("id")
            guard
                let refund = try await services.database.read({ db in
                    try await Refunds(db, companyId: scope.companyId, engine: engine).refund(id: id, scope: scope)
                })
            else {
                throw Problem.notFound("refund")
            }
            return try .json(refund)
        }

        for (verb, approve) in [("approve", true), ("reject", false)] {
            api.on(
                .post, "/api/v1/refunds/:id/\(verb)",
                summary: approve
                    ? "Approve a pending refund (not your own request); it is sent back at once" : "Reject a pending refund with the reason",
                tag: "Refunds", permission: .manageFinance, request: "Reason", response: "Refund"
            ) { request, context in
                let scope = try context.scope(for: .manageFinance)
                let principal = try context.requirePrincipal()
                let id = try context.parameters.require("id")
                let input = try await request.decode(as: Reason.self, context: context)
                let refund = try await mapped {
                    try await services.payments.decideRefund(id, approve: approve, reason: input.reason, actor: principal.user.id, scope: scope)
                }
                return try .json(refund)
            }
        }

        api.on(
            .get, "/api/v1/refunds/:id/voucher", summary: "A settled refund's voucher (printable HTML with its verification QR code)",
            tag: "Refunds", permission: .readFinance
        ) { _, context in
            let scope = try context.scope(for: .readFinance)
            let id = try context.parameters.require("id")
            guard
                let voucher = try await services.database.read({ db -> Receipt? in
                    guard try await Refunds(db, companyId: scope.companyId, engine: engine).refund(id: id, scope: scope) != nil else { return nil }
                    return try await ReceiptBook(db, companyId: scope.companyId, engine: services.database.engine).receipt(
                        kind: .refund, subjectId: id)
                })
            else { throw Problem.notFound("refund voucher") }
            return ReceiptPage.response(voucher, publicURL: services.configuration.publicURL, voided: false)
        }

        api.on(
            .post, "/api/v1/refunds/:id/retry", summary: "Send a failed channel refund again", tag: "Refunds", permission: .manageFinance,
            response: "Refund"
        ) { _, context in
            let scope = try context.scope(for: .manageFinance)
            let id = try context.parameters.require("id")
            return try .json(try await mapped { try await services.payments.retryRefund(id, scope: scope) })
        }
    }
}
