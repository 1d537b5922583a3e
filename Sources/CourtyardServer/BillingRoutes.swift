import CourtyardBilling
import CourtyardDomain
import CourtyardStorage
import Foundation
import Hummingbird
import Logging

/// Bill runs, bills with late fees, waivers, corrections, reminders and the audit log.
enum BillingRoutes {
    struct RunRequest: Codable, Sendable {
        /// The month to bill ("2026-10").
        var period: String
        /// Compute and return the totals without writing anything.
        var preview: Bool?
    }

    struct WaiverRequest: Codable, Sendable {
        var reason: String
    }

    struct UsageCorrectionRequest: Codable, Sendable {
        var quantity: Quantity
        var windows: [String: Quantity]?
        var reason: String
    }

    struct StandardCorrectionRequest: Codable, Sendable {
        var rule: PricingRule
        var reason: String
    }

    struct CorrectionResponse: Codable, Sendable {
        var adjustments: [BillLine]
        var billsChanged: [Bill]
    }

    struct ReminderRequest: Codable, Sendable {
        var asOf: LocalDate?
        var daysBefore: Int?
    }

    static func problem(_ error: BillRunError) -> Problem {
        switch error {
        case .unknownCommunity: return .notFound("community")
        case .notAMonth: return .invalid("period", code: "invalid_period", error.description)
        case .periodNotClosed:
            return Problem(
                .unprocessableContent, code: "period_not_closed", title: "This month has not ended", detail: error.description,
                errors: [FieldIssue(field: "period", code: "period_not_closed", message: "use preview: true")])
        case .pricing:
            return Problem(.unprocessableContent, code: "pricing_failed", title: "A fee could not be priced", detail: error.description)
        case .apportionment:
            return Problem(
                .unprocessableContent, code: "apportionment_failed", title: "A shared meter could not be split",
                detail: error.description)
        }
    }

    static func problem(_ error: BillingActionError) -> Problem {
        switch error {
        case .unknownBill: return .notFound("bill")
        case .alreadyWaived(_, let by):
            return Problem(.conflict, code: "already_waived", title: "The late fees of this bill were already waived", detail: "waived by \(by)")
        case .billCancelled: return Problem(.conflict, code: "bill_cancelled", title: "The bill is cancelled")
        case .reasonRequired: return .invalid("reason", code: "required", "a reason (1 to 500 characters) is required")
        }
    }

    static func problem(_ error: CorrectionError) -> Problem {
        switch error {
        case .unknownUsage: return .notFound("usage")
        case .unknownStandard: return .notFound("fee standard")
        case .reasonRequired: return .invalid("reason", code: "required", "a reason (1 to 500 characters) is required")
        case .negativeQuantity: return .invalid("quantity", code: "must_not_be_negative", "quantity must not be negative")
        case .windowsDoNotAddUp: return .invalid("windows", code: "does_not_add_up", "window usages must add up to quantity")
        case .invalidRule(let issues):
            return .validation(issues.map { FieldIssue(field: "rule." + $0.path, code: $0.code, message: $0.message) })
        case .sharedMeterAfterBilling:
            return Problem(
                .conflict, code: "shared_meter_billed", title: "This shared meter's cost was already split",
                detail: "correct shared meters before the bill run, or adjust the affected bills by hand")
        }
    }

    /// Runs `body`, turning billing errors into problems.
    static func mapping<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as BillRunError {
            throw problem(error)
        } catch let error as BillingActionError {
            throw problem(error)
        } catch let error as CorrectionError {
            throw problem(error)
        }
    }

    static func register(on api: DocumentedRouter, services: ServerServices) {
        let runner = BillRunner(database: services.database, ledger: services.ledger, clock: services.clock)
        api.schema("BillRunRequest", example: RunRequest(period: "2026-10", preview: true), required: ["period"])
        api.schema(
            "BillRunSummary",
            example: BillRunSummary(
                runId: nil, communityId: Example.community, period: "2026-10", preview: true, housesConsidered: 500, billsCreated: 498,
                linesCreated: 2_310, linesAlreadyBilled: 0, totalAmount: Money(minorUnits: 18_432_150), items: [],
                skipped: ["water: missing_usage": 2],
                itemsWithoutStandard: [], billsPosted: 0),
            items: [
                "items": .object(description: "per fee item: fee_item_id, code, period, standard_version, lines, amount"),
                "items_without_standard": .string,
            ])
        api.on(
            .post, "/api/v1/communities/:id/bill-runs",
            summary: "Bill a closed month for every house (idempotent per house, fee item and period), or preview any month",
            tag: "Billing", permission: .manageFinance, request: "BillRunRequest", response: "BillRunSummary", status: 201,
            also: [200: "A preview: computed, nothing written"]
        ) { request, context in
            let principal = try context.require(.manageFinance)
            let scope = try context.scope(for: .manageFinance)
            let community = try context.parameters.require("id")
            let body = try await ResourceRoutes.decodeBody(RunRequest.self, request, context)
            let preview = body.preview ?? false
            let summary = try await mapping {
                try await runner.run(
                    companyId: scope.companyId, communityId: community, period: body.period, preview: preview,
                    actor: principal.user.id)
            }
            context.logger.info(
                "bill run",
                metadata: [
                    "community": .string(community), "period": .string(body.period),
                    "preview": .stringConvertible(preview), "bills": .stringConvertible(summary.billsCreated),
                ])
            return try .json(summary, status: preview ? .ok : .created)
        }

        api.schema("BillPage", example: Page(items: [exampleBill], nextCursor: nil))
        api.on(
            .get, "/api/v1/bills", summary: "List bills (owners: the bills of one of their current houses, with house_id, from their move-in on)",
            tag: "Billing", permission: .readFinance, response: "BillPage",
            query: ["limit", "cursor", "community_id", "house_id", "status", "period", "bill_run_id"]
        ) { request, context in
            let (filters, cursor, limit) = try ResourceRoutes.listParameters(
                request, filters: ["community_id", "house_id", "status", "period", "bill_run_id"])
            let principal = try context.requirePrincipal()
            var scope: TenantScope
            var since: LocalDate? = nil
            if principal.role == .owner {
                guard let house = request.uri.queryParameters["house_id"].map(String.init) else {
                    throw Problem.invalid("house_id", code: "required", "owners list the bills of one of their houses")
                }
                guard let hold = try await OwnerAccess.hold(principal, house: house, services: services) else { throw Problem.notFound("house") }
                (scope, since) = (hold.scope, hold.since)
            } else {
                scope = try context.scope(for: .readFinance)
            }
            let page = try await services.database.read { [scope] db in
                try await ScopedStore(db, scope: scope).list(Bill.self, filters: filters, after: cursor, limit: limit)
            }
            // An owner sees the bills of periods that end after their occupancy began, not the previous owner's.
            let items = since.map { since in page.items.filter { $0.period.end > since } } ?? page.items
            return try .json(Page(items: items, nextCursor: page.nextCursor))
        }

        api.schema(
            "BillDocument", example: BillDocument.make(bill: exampleBill, lines: [], items: [:], asOf: Example.day),
            items: [
                "lines": .object(
                    description: "a bill line: fee item (id, code, name), period, kind, quantity, unit, unit price, "
                        + "breakdown, basis, exact, rounding, billable and period days, amount"),
                "late_fees": .object(description: "a line's late fee: line_id, fee_item_id, principal, days_overdue, fee, capped, explanation"),
            ])
        api.on(
            .get, "/api/v1/bills/:id",
            summary: "A bill with its lines and its late fees as of a date (?as_of=, default today); owners read their current houses' bills",
            tag: "Billing", permission: .readFinance, response: "BillDocument", query: ["as_of"]
        ) { request, context in
            let id = try context.parameters.require("id")
            let principal = try context.requirePrincipal()
            let scope: TenantScope
            if principal.role == .owner, let ownerScope = principal.scope {
                let bill = try await services.database.read { db in try await ScopedStore(db, scope: ownerScope).find(Bill.self, id: id) }
                guard let bill, let hold = try await OwnerAccess.hold(principal, house: bill.houseId, services: services),
                    bill.period.end > hold.since
                else { throw Problem.notFound("bill") }
                scope = hold.scope
            } else {
                scope = try context.scope(for: .readFinance)
            }
            var asOf: LocalDate? = nil
            if let text = request.uri.queryParameters["as_of"] {
                guard let date = LocalDate(text) else { throw Problem.invalid("as_of", code: "invalid_date", "as_of must be a date like 2026-11-26") }
                asOf = date
            }
            let now = services.clock.now()
            guard
                let document = try await services.database.read({ [asOf] db in
                    try await BillDocument.load(ScopedStore(db, scope: scope), billId: id, asOf: asOf, now: now)
                })
            else { throw Problem.notFound("bill") }
            return try .json(document)
        }

        api.schema("WaiverRequest", example: WaiverRequest(reason: "owner hospitalised during the due period"), required: ["reason"])
        api.schema("Bill", example: exampleBill)
        api.on(
            .post, "/api/v1/bills/:id/late-fee-waiver", summary: "Waive a bill's late fees (finance approval; audited)",
            tag: "Billing", permission: .manageFinance, request: "WaiverRequest", response: "Bill"
        ) { request, context in
            let principal = try context.require(.manageFinance)
            let scope = try context.scope(for: .manageFinance)
            let id = try context.parameters.require("id")
            let body = try await ResourceRoutes.decodeBody(WaiverRequest.self, request, context)
            let now = services.clock.now()
            let bill = try await mapping {
                try await services.database.transaction { db in
                    try await BillingActions.waiveLateFees(
                        ScopedStore(db, scope: scope), billId: id, actor: principal.user.id,
                        reason: body.reason, now: now)
                }
            }
            return try .json(bill)
        }

        api.schema(
            "UsageCorrectionRequest",
            example: UsageCorrectionRequest(
                quantity: Quantity(milliUnits: 230_000), windows: nil,
                reason: "misread digit"), required: ["quantity", "reason"])
        api.schema(
            "CorrectionResponse", example: CorrectionResponse(adjustments: [], billsChanged: []),
            items: ["adjustments": .object(description: "an adjustment bill line"), "bills_changed": .schema("Bill")])
        api.on(
            .post, "/api/v1/usage/:id/corrections",
            summary: "Correct a billed usage figure: adjustment lines on open bills or the next bill; audited",
            tag: "Billing", permission: .manageFinance, request: "UsageCorrectionRequest", response: "CorrectionResponse"
        ) { request, context in
            let principal = try context.require(.manageFinance)
            let scope = try context.scope(for: .manageFinance)
            let id = try context.parameters.require("id")
            let body = try await ResourceRoutes.decodeBody(UsageCorrectionRequest.self, request, context)
            let result = try await mapping {
                try await services.database.transaction { db in
                    try await Corrections(store: ScopedStore(db, scope: scope), actor: principal.user.id, now: services.clock.now())
                        .correctUsage(id: id, quantity: body.quantity, windows: body.windows, reason: body.reason)
                }
            }
            try await postAdjustments(result, scope: scope, runner: runner, services: services)
            return try .json(CorrectionResponse(adjustments: result.adjustments, billsChanged: result.billsChanged))
        }

        api.schema(
            "StandardCorrectionRequest", example: StandardCorrectionRequest(rule: Example.propertyFeeRule, reason: "typo in the price"),
            required: ["rule", "reason"])
        api.on(
            .post, "/api/v1/fee-standards/:id/corrections",
            summary: "Correct a standard version's rule that was wrong from the start; every line it priced is adjusted; audited",
            tag: "Billing", permission: .manageFinance, request: "StandardCorrectionRequest", response: "CorrectionResponse"
        ) { request, context in
            let principal = try context.require(.manageFinance)
            let scope = try context.scope(for: .manageFinance)
            let id = try context.parameters.require("id")
            let body = try await ResourceRoutes.decodeBody(StandardCorrectionRequest.self, request, context)
            let result = try await mapping {
                try await services.database.transaction { db in
                    try await Corrections(store: ScopedStore(db, scope: scope), actor: principal.user.id, now: services.clock.now())
                        .correctStandard(id: id, rule: body.rule, reason: body.reason)
                }
            }
            try await postAdjustments(result, scope: scope, runner: runner, services: services)
            return try .json(CorrectionResponse(adjustments: result.adjustments, billsChanged: result.billsChanged))
        }

        api.schema("ReminderRequest", example: ReminderRequest(asOf: Example.day, daysBefore: 3))
        api.schema("ReminderSummary", example: BillingActions.ReminderSummary(asOf: Example.day, dueSoon: 12, overdue: 3))
        api.on(
            .post, "/api/v1/communities/:id/reminders",
            summary: "Record reminders for bills due within N days (default 3) and overdue bills (weekly); idempotent per day",
            tag: "Billing", permission: .manageFinance, request: "ReminderRequest", response: "ReminderSummary"
        ) { request, context in
            let scope = try context.scope(for: .manageFinance)
            let communityId = try context.parameters.require("id")
            let body = try await ResourceRoutes.decodeBody(ReminderRequest.self, request, context)
            if let days = body.daysBefore, !(0...60).contains(days) {
                throw Problem.invalid("days_before", code: "out_of_range", "days_before must be 0 to 60")
            }
            let now = services.clock.now()
            let summary = try await services.database.transaction { db in
                let store = ScopedStore(db, scope: scope)
                let community = try await store.get(Community.self, id: communityId)
                return try await BillingActions.remind(
                    store, communityId: community.id,
                    asOf: body.asOf ?? LocalDate.of(now, timeZone: community.timeZone),
                    daysBefore: body.daysBefore ?? 3, now: now)
            }
            return try .json(summary)
        }

        api.schema(
            "AuditEntryPage",
            example: Page(
                items: [
                    AuditEntry(
                        id: Example.usage, companyId: Example.company, communityId: Example.community, actor: Example.person,
                        action: "late_fee_waived",
                        subjectType: "bill", subjectId: Example.usage, reason: "hospitalised", beforeState: "{}", afterState: "{}",
                        createdAt: Example.date)
                ],
                nextCursor: nil))
        api.on(
            .get, "/api/v1/audit-log", summary: "Who changed what money-relevant data, when, why, before and after", tag: "Billing",
            permission: .readFinance, response: "AuditEntryPage",
            query: ["limit", "cursor", "community_id", "subject_id", "action", "actor"]
        ) { request, context in
            let scope = try context.scope(for: .readFinance)
            let (filters, cursor, limit) = try ResourceRoutes.listParameters(request, filters: ["community_id", "subject_id", "action", "actor"])
            let page = try await services.database.read { db in
                try await ScopedStore(db, scope: scope).list(AuditEntry.self, filters: filters, after: cursor, limit: limit)
            }
            return try .json(Page(items: page.items, nextCursor: page.nextCursor))
        }
    }

    /// Posts adjustments that landed on open bills (receivable ↔ revenue); pending ones post with their next bill.
    static func postAdjustments(_ result: Corrections.Result, scope: TenantScope, runner: BillRunner, services: ServerServices) async throws {
        let onBills = result.adjustments.filter { $0.billId != nil }
        guard !onBills.isEmpty else { return }
        let items = try await services.database.read { db in
            try await ScopedStore(db, scope: scope).all(FeeItem.self, where: "id", in: Array(Set(onBills.map(\.feeItemId))))
        }
        _ = try await runner.post(
            bills: result.billsChanged, lines: onBills, companyId: scope.companyId,
            items: Dictionary(uniqueKeysWithValues: items.map { ($0.id, $0) }))
    }

    static let exampleBill = Bill(
        id: Example.usage, companyId: Example.company, communityId: Example.community, houseId: Example.house,
        billRunId: Example.feeItem, period: BillingPeriod("2026-10")!, issueDate: LocalDate("2026-11-01")!,
        dueDate: LocalDate("2026-11-16")!, currency: "CNY", totalAmount: 89_750, paidAmount: 0, status: .open,
        postedAt: Example.date, lateFeeWaivedBy: nil, lateFeeWaiverReason: nil, createdAt: Example.date,
        updatedAt: Example.date)
}
