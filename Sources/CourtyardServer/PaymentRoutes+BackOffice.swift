import CourtyardDevices
import CourtyardDomain
import CourtyardPayments
import CourtyardPrepaid
import CourtyardStorage
import Foundation
import Hummingbird

extension PaymentRoutes {
    static func registerBackOffice(on api: DocumentedRouter, services: ServerServices) {
        let engine = services.database.engine

        // MARK: Deposits

        api.on(
            .get, "/api/v1/deposits/:id", summary: "A deposit with its conditions, what is met, and its deductions", tag: "Deposits",
            permission: .readFinance, response: "Deposit"
        ) { _, context in
            let scope = try context.scope(for: .readFinance)
            let id = try context.parameters.require("id")
            guard
                let deposit = try await services.database.read({ db in
                    try await Deposits(db, companyId: scope.companyId, engine: engine).deposit(id: id, scope: scope)
                })
            else { throw Problem.notFound("deposit") }
            return try .json(deposit)
        }

        api.on(
            .post, "/api/v1/deposits/:id/conditions", summary: "Record that a release condition is met (inspection passed, moved out)",
            tag: "Deposits", permission: .manageFinance, request: "DepositConditionInput", response: "Deposit"
        ) { request, context in
            let scope = try context.scope(for: .manageFinance)
            let principal = try context.requirePrincipal()
            let id = try context.parameters.require("id")
            let input = try await request.decode(as: ConditionInput.self, context: context)
            let now = services.clock.now()
            return try .json(
                try await mapped {
                    try await services.database.transaction { db in
                        try await Deposits(db, companyId: scope.companyId, engine: engine).satisfy(
                            id, condition: input.kind, note: input.note,
                            actor: principal.user.id, scope: scope, now: now)
                    }
                })
        }

        api.on(
            .post, "/api/v1/deposits/:id/deductions", summary: "Deduct an itemized amount with its reason from a held deposit",
            tag: "Deposits", permission: .manageFinance, request: "DepositDeductionInput", response: "Deposit"
        ) { request, context in
            let scope = try context.scope(for: .manageFinance)
            let principal = try context.requirePrincipal()
            let id = try context.parameters.require("id")
            let input = try await request.decode(as: DeductionInput.self, context: context)
            let now = services.clock.now()
            return try .json(
                try await mapped {
                    try await services.database.transaction { db in
                        try await Deposits(db, companyId: scope.companyId, engine: engine).deduct(
                            id, amount: input.amount, reason: input.reason,
                            actor: principal.user.id, scope: scope, now: now)
                    }
                })
        }

        api.on(
            .post, "/api/v1/deposits/:id/release",
            summary: "Release what remains of a deposit (to the wallet or in cash) once its conditions hold; the voucher lists the deductions",
            tag: "Deposits", permission: .manageFinance, request: "DepositReleaseInput", response: "Deposit"
        ) { request, context in
            let scope = try context.scope(for: .manageFinance)
            let principal = try context.requirePrincipal()
            let id = try context.parameters.require("id")
            let input = try await request.decode(as: ReleaseInput.self, context: context)
            let now = services.clock.now()
            let release = try await mapped {
                try await services.database.transaction { db in
                    try await Deposits(db, companyId: scope.companyId, engine: engine).release(
                        id, to: input.destination, actor: principal.user.id,
                        scope: scope, now: now)
                }
            }
            return try .json(release)
        }

        // MARK: Bank statements

        api.on(
            .post, "/api/v1/bank-statements",
            summary:
                "Import a bank statement CSV (transaction_id, value_date, amount, reference, payer_name): credits quoting an order's out-trade-no are applied; bad rows are reported per row",
            tag: "Bank transfers", permission: .manageFinance, response: "BankImportResult"
        ) { request, context in
            let scope = try context.scope(for: .manageFinance)
            let principal = try context.requirePrincipal()
            let body = try await IngestRoutes.collect(request, context)
            guard let text = String(data: body, encoding: .utf8) else {
                throw Problem.invalid("body", code: "invalid_encoding", "the statement is UTF-8 text")
            }
            let now = services.clock.now()
            let result = try await mapped {
                try await services.database.transaction { db in
                    try await BankStatements(db, companyId: scope.companyId, engine: engine).importStatement(
                        text, actor: principal.user.id,
                        order: services.payments.allocationOrder, ports: services.payments.ports, now: now)
                }
            }
            if !result.commands.isEmpty { await services.dispatcher.wake() }
            return try .json(result)
        }

        api.on(
            .get, "/api/v1/bank-statements/unmatched", summary: "Statement lines no order matched, for staff", tag: "Bank transfers",
            permission: .manageFinance, response: "BankLineList"
        ) { _, context in
            let scope = try context.scope(for: .manageFinance)
            let items = try await services.database.read { db in try await BankStatements(db, companyId: scope.companyId, engine: engine).unmatched()
            }
            return try .json(LineList(items: items))
        }

        api.on(
            .post, "/api/v1/bank-statements/lines/:id/match", summary: "Match an unmatched statement line to a bank order by hand",
            tag: "Bank transfers", permission: .manageFinance, request: "BankMatchInput", response: "PaymentOutcome"
        ) { request, context in
            let scope = try context.scope(for: .manageFinance)
            let principal = try context.requirePrincipal()
            let id = try context.parameters.require("id")
            let input = try await request.decode(as: MatchInput.self, context: context)
            let now = services.clock.now()
            let outcome = try await mapped {
                try await services.database.transaction { db in
                    try await BankStatements(db, companyId: scope.companyId, engine: engine).match(
                        lineId: id, outTradeNo: input.outTradeNo, actor: principal.user.id,
                        order: services.payments.allocationOrder, ports: services.payments.ports, now: now)
                }
            }
            if !outcome.commands.isEmpty { await services.dispatcher.wake() }
            return try .json(outcome)
        }

        // MARK: Reconciliation

        api.on(
            .post, "/api/v1/reconciliations",
            summary: "Reconcile a channel's daily statement (WeChat Pay trade bill or Alipay detail CSV) against recorded payments and refunds",
            tag: "Reconciliation", permission: .manageFinance, response: "ReconciliationReport", query: ["channel", "date"]
        ) { request, context in
            let scope = try context.scope(for: .manageFinance)
            let principal = try context.requirePrincipal()
            let query = request.uri.queryParameters
            let channel = query["channel"].map(String.init) ?? ""
            guard let date = query["date"].flatMap({ LocalDate(String($0)) }) else {
                throw Problem.invalid("date", code: "invalid_date", "date is the statement's day, YYYY-MM-DD")
            }
            let body = try await IngestRoutes.collect(request, context)
            guard let text = String(data: body, encoding: .utf8) else {
                throw Problem.invalid("body", code: "invalid_encoding", "the statement is UTF-8 text")
            }
            let entries = try await mapped { try Reconciliation.parse(text, channel: channel) }
            let now = services.clock.now()
            let report = try await services.database.transaction { db in
                try await Reconciliation(TenantSQL(db, scope: scope, engine: engine)).run(
                    channel: channel, date: date, entries: entries, actor: principal.user.id, now: now)
            }
            return try .json(report)
        }

        // MARK: Held callbacks

        api.on(
            .get, "/api/v1/payment-callbacks",
            summary: "Callbacks held for review (unknown or closed order, amount mismatch, paid twice), unresolved first",
            tag: "Payment callbacks", permission: .manageFinance, response: "HeldCallbackList"
        ) { _, context in
            let scope = try context.scope(for: .manageFinance)
            let items = try await services.database.read { db in try await HeldCallbacks(TenantSQL(db, scope: scope, engine: engine)).list() }
            return try .json(HeldList(items: items))
        }

        api.on(
            .post, "/api/v1/payment-callbacks/:id/resolve",
            summary: "Resolve a held callback: apply its money to its order anyway, or dismiss it (refund outside) with the reason",
            tag: "Payment callbacks", permission: .manageFinance, request: "ResolveInput", response: "PaymentOutcome"
        ) { request, context in
            let scope = try context.scope(for: .manageFinance)
            let principal = try context.requirePrincipal()
            let id = try context.parameters.require("id")
            let input = try await request.decode(as: ResolveInput.self, context: context)
            guard input.action == "apply" || input.action == "dismiss" else {
                throw Problem.invalid("action", code: "invalid_value", "action is apply or dismiss")
            }
            guard !input.reason.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw Problem.invalid("reason", code: "reason_required", "state the reason")
            }
            let now = services.clock.now()
            let outcome = try await mapped {
                try await services.database.transaction { db -> PaymentOutcome? in
                    try await HeldCallbacks(TenantSQL(db, scope: scope, engine: engine))
                        .resolve(
                            id, input.action == "apply" ? .apply : .dismiss, reason: input.reason, actor: principal.user.id,
                            order: services.payments.allocationOrder, ports: services.payments.ports, now: now)
                }
            }
            if let outcome {
                if !outcome.commands.isEmpty { await services.dispatcher.wake() }
                return try .json(outcome)
            }
            return Response(status: .noContent)
        }
    }
}
