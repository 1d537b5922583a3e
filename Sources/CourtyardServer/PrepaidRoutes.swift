import CourtyardDevices
import CourtyardDomain
import CourtyardIngest
import CourtyardPrepaid
import CourtyardStorage
import Foundation
import HTTPTypes
import Hummingbird

extension PrepaidError {
    /// The problem answer: 422 with the field(s) at fault, 404, or 409, each with the error's stable code.
    var problem: Problem {
        switch kind {
        case .invalid:
            let issues = self.issues.isEmpty ? [PlanConfig.Issue(field: field ?? "body", code: code, message: message)] : self.issues
            return Problem(
                .unprocessableContent, code: code, title: "The request was refused", detail: message,
                errors: issues.map { FieldIssue(field: $0.field, code: $0.code, message: $0.message) })
        case .notFound:
            return Problem(
                .notFound, code: code, title: "Not found", detail: message,
                errors: field.map { [FieldIssue(field: $0, code: code, message: message)] } ?? [])
        case .conflict:
            return Problem(
                .conflict, code: code, title: "Conflict", detail: message,
                errors: field.map { [FieldIssue(field: $0, code: code, message: message)] } ?? [])
        }
    }
}

extension DeviceError {
    /// The problem answer for a refused device answer (404 or 409, 422 for a malformed one), with its stable code.
    var problem: Problem {
        let errors = field.map { [FieldIssue(field: $0, code: code, message: message)] } ?? []
        switch kind {
        case .invalid: return Problem(.unprocessableContent, code: code, title: "The request was refused", detail: message, errors: errors)
        case .notFound: return Problem(.notFound, code: code, title: "Not found", detail: message, errors: errors)
        case .conflict: return Problem(.conflict, code: code, title: "Conflict", detail: message, errors: errors)
        }
    }
}

/// Prepaid plans, top-ups, the owner's prepaid view, supply overrides, device commands and their acks, device state
/// reports and alarms, community holidays and the notification outbox.
enum PrepaidRoutes {
    struct PlanTarget: Codable, Sendable {
        var houseId: String
        var deviceId: String
        var register: String?
    }

    /// The documented form of `POST /prepaid-plans`: the target's fields and the configuration's, side by side.
    struct PlanInputExample: Encodable, Sendable {
        var target: PlanTarget
        var config: PlanConfig
        func encode(to encoder: any Encoder) throws {
            try target.encode(to: encoder)
            try config.encode(to: encoder)
        }
    }

    struct PlanView: Encodable, Sendable {
        var plan: PrepaidPlan
        var supply: SupplyStatus?
    }

    struct OverrideInput: Codable, Sendable {
        var kind: SupplyOverride.Kind
        var holdState: SupplyPosition?
        var reason: String
        var expiresAt: Date
    }

    struct OverrideResult: Codable, Sendable {
        var id: String
        var deviceId: String
        var kind: SupplyOverride.Kind
        var holdState: SupplyPosition?
        var reason: String
        var expiresAt: Date
        var command: String?
    }

    typealias CommandList = Page<DeviceCommand>
    struct SafetyClear: Codable, Sendable { var reason: String }
    struct Holidays: Codable, Sendable { var days: [HolidayDay] }
    struct HolidayDay: Codable, Sendable { var day: LocalDate; var name: String }
    typealias NotificationList = Page<Outbox.Notification>

    /// Runs `body`, turning prepaid and device errors into problems.
    static func mapped<T>(_ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch let error as PrepaidError { throw error.problem } catch let error as DeviceError { throw error.problem }
    }

    static func problem(for error: any Error) -> any Error {
        (error as? PrepaidError)?.problem ?? (error as? DeviceError)?.problem ?? error
    }

    /// The caller may see the house: staff with `permission` in its community, or an owner who holds or lives in it.
    static func houseScope(
        _ context: CourtyardRequestContext, house: String, staff permission: Permission, services: ServerServices
    ) async throws -> TenantScope {
        try await OwnerAccess.houseScope(context, house: house, staff: permission, services: services)
    }

    static func register(on api: DocumentedRouter, services: ServerServices) {
        let exampleRule = PricingRule(
            kind: .metered, unit: "kWh", mode: .graduated, accumulation: .monthly,
            tiers: [
                .init(upTo: Quantity(milliUnits: 230_000), price: UnitPrice(tenThousandths: 5_380)),
                .init(upTo: nil, price: UnitPrice(tenThousandths: 5_880)),
            ])
        let exampleConfig = PlanConfig(
            wallets: [.init(purpose: "electricity"), .init(purpose: "general")], tariff: exampleRule,
            warnBelow: Money(minorUnits: 2_000), warnDaysLeft: 3, emergencyCredit: Money(minorUnits: 500),
            friendlyWindows: [.daily(start: 20 * 60, end: 8 * 60), .weekly(days: [6, 7]), .publicHolidays])
        // The input is the target and the configuration in one object: documented with every field, so that `wallets`
        // and `tariff` are defined for integrators (they were referenced as required but missing from the example).
        api.schema(
            "PrepaidPlanInput",
            example: PlanInputExample(
                target: PlanTarget(
                    houseId: Example.house, deviceId: Example.device,
                    register: "energy_total"), config: exampleConfig),
            required: ["house_id", "device_id", "wallets", "tariff"])
        api.schema("PrepaidPlanConfig", example: exampleConfig)
        let examplePlan = PrepaidPlan(
            id: Example.space, companyId: Example.company, communityId: Example.community, houseId: Example.house,
            deviceId: Example.device, register: "energy_total", utility: "electricity", config: exampleConfig,
            status: "active", createdBy: Example.device, createdAt: Example.date.epochMilliseconds,
            updatedAt: Example.date.epochMilliseconds, periodKey: nil, periodUsage: 0, carry: 0, lastMeasuredAt: nil,
            warned: false)
        api.schema("PrepaidPlan", example: examplePlan)
        api.schema("PrepaidPlanView", example: PlanView(plan: examplePlan, supply: nil))
        api.schema(
            "TopUpInput",
            example: TopUp.Request(
                id: "desk-2026-11-22-0001", purpose: "electricity", amount: Money(minorUnits: 10_000),
                channel: "cash"), required: ["id", "purpose", "amount", "channel"])
        api.schema(
            "SupplyOverrideInput",
            example: OverrideInput(
                kind: .exemption, holdState: nil, reason: "home oxygen concentrator",
                expiresAt: Example.date), required: ["kind", "reason", "expires_at"])
        api.schema(
            "TopUpResult",
            example: TopUp.Result(
                id: "desk-2026-11-22-0001", houseId: Example.house, walletId: Example.device,
                amount: Money(minorUnits: 10_000), walletBalance: Money(minorUnits: 10_750),
                repaid: ["electricity": Money(minorUnits: 250)], commands: [Example.device], replayed: false))
        api.schema(
            "PrepaidOverview", example: PrepaidOverview(houseId: Example.house, plans: []),
            items: [
                "plans": .object(
                    description: "a plan: plan_id, device_id, register, utility, wallets, owed, available, "
                        + "emergency_credit, today, this_month, supply")
            ])
        api.schema(
            "NotificationList", example: NotificationList(items: []),
            items: ["items": .object(description: "id, community_id, house_id, device_id, kind, audience, payload, created_at")])
        api.schema("SafetyClear", example: SafetyClear(reason: "pipe repaired and pressure-tested"), required: ["reason"])
        api.schema(
            "Holidays", example: Holidays(days: [HolidayDay(day: LocalDate(year: 2026, month: 10, day: 1)!, name: "National Day")]),
            required: ["days"])

        api.on(
            .post, "/api/v1/prepaid-plans",
            summary: "Put a meter register of a house on prepayment: wallets in order, tariff, thresholds, emergency credit, friendly windows",
            tag: "Prepaid", permission: .manageFinance, request: "PrepaidPlanInput", response: "PrepaidPlan", status: 201
        ) { request, context in
            let scope = try context.scope(for: .manageFinance)
            let principal = try context.requirePrincipal()
            let body = try await IngestRoutes.collect(request, context)
            let target = try APICoding.decode(PlanTarget.self, from: body)
            let config = try APICoding.decode(PlanConfig.self, from: body)
            let now = services.clock.now()
            let plan = try await mapped {
                try await services.database.transaction { db in
                    try await PlanStore(db, companyId: scope.companyId).create(
                        houseId: target.houseId, deviceId: target.deviceId,
                        register: target.register ?? "energy_total", config: config,
                        scope: scope, actor: principal.user.id, now: now)
                }
            }
            return try .json(plan, status: .created)
        }

        api.on(
            .get, "/api/v1/prepaid-plans/:id", summary: "A prepaid plan with its supply state", tag: "Prepaid",
            permission: .readFinance, response: "PrepaidPlanView"
        ) { _, context in
            let scope = try context.scope(for: .readFinance)
            let id = try context.parameters.require("id")
            let view = try await services.database.read { db -> PlanView? in
                guard let plan = try await PlanStore(db, companyId: scope.companyId).plan(id: id, scope: scope) else { return nil }
                return PlanView(
                    plan: plan,
                    supply: try await SupplyController(db, companyId: scope.companyId, engine: services.database.engine)
                        .status(device: plan.deviceId))
            }
            guard let view else { throw Problem.notFound("prepaid plan") }
            return try .json(view)
        }

        api.on(
            .post, "/api/v1/prepaid-plans/:id/end", summary: "End a plan: the meter's readings are no longer deducted",
            tag: "Prepaid", permission: .manageFinance, status: 204
        ) { _, context in
            let scope = try context.scope(for: .manageFinance)
            let id = try context.parameters.require("id")
            let now = services.clock.now()
            let found = try await services.database.transaction { db -> Bool in
                let store = PlanStore(db, companyId: scope.companyId)
                guard let plan = try await store.plan(id: id, scope: scope), plan.status == "active" else { return false }
                try await store.end(id: id, now: now)
                return true
            }
            guard found else { throw Problem.notFound("active prepaid plan") }
            return Response(status: .noContent)
        }

        api.on(
            .post, "/api/v1/houses/:id/top-ups",
            summary: "Front-desk top-up of a house wallet: repays usage owed, and restores supply at once when money is available again",
            tag: "Prepaid", permission: .manageFinance, request: "TopUpInput", response: "TopUpResult", status: 201,
            also: [200: "The same id again: the top-up applied the first time"]
        ) { request, context in
            let scope = try context.scope(for: .manageFinance)
            let principal = try context.requirePrincipal()
            let house = try context.parameters.require("id")
            let input = try await request.decode(as: TopUp.Request.self, context: context)
            let now = services.clock.now()
            let engine = services.database.engine
            let result: TopUp.Result
            do {
                result = try await services.database.transaction { db in
                    try await TopUp(db, companyId: scope.companyId, engine: engine).apply(
                        input, house: house, scope: scope,
                        actor: principal.user.id, now: now)
                }
            } catch {
                throw problem(for: error)
            }
            if !result.commands.isEmpty { await services.dispatcher.wake() }
            return try .json(result, status: result.replayed ? .ok : .created)
        }

        api.on(
            .get, "/api/v1/houses/:id/prepaid",
            summary: "The owner's prepaid view: balances, today's and this month's usage and deduction, days left, supply state, last commands",
            tag: "Prepaid", response: "PrepaidOverview"
        ) { _, context in
            let house = try context.parameters.require("id")
            let scope = try await houseScope(context, house: house, staff: .readFinance, services: services)
            let now = services.clock.now()
            let overview = try await services.database.read { db -> PrepaidOverview? in
                guard try await ScopedStore(db, scope: scope).find(House.self, id: house) != nil else { return nil }
                return try await PrepaidOverview.load(db, companyId: scope.companyId, house: house, engine: services.database.engine, now: now)
            }
            guard let overview else { throw Problem.notFound("house") }
            return try .json(overview)
        }

        api.on(
            .get, "/api/v1/notifications", summary: "Recorded notifications (outbox), newest first; house_id narrows to one house",
            tag: "Prepaid", permission: .readFinance, response: "NotificationList", query: ["house_id", "limit"]
        ) { request, context in
            let scope = try context.scope(for: .readFinance)
            let house = request.uri.queryParameters["house_id"].map(String.init)
            let limit = try ResourceRoutes.limit(request, default: 100, maximum: 500)
            let items = try await services.database.read { db in
                try await Outbox.list(db, companyId: scope.companyId, communities: scope.communityIds, house: house, limit: limit)
            }
            return try .json(NotificationList(items: items))
        }

        api.on(
            .post, "/api/v1/devices/:id/supply-overrides",
            summary: "Engineer hold (valve held open or closed) or medical/safety exemption (never cut for balance), with reason and expiry",
            tag: "Prepaid", permission: .manageDevices, request: "SupplyOverrideInput", status: 201
        ) { request, context in
            let scope = try context.scope(for: .manageDevices)
            let principal = try context.requirePrincipal()
            let device = try context.parameters.require("id")
            let input = try await request.decode(as: OverrideInput.self, context: context)
            let now = services.clock.now()
            guard !input.reason.trimmingCharacters(in: .whitespaces).isEmpty, input.reason.count <= 500 else {
                throw Problem.invalid("reason", code: "required", "say why (1 to 500 characters)")
            }
            guard input.expiresAt > now, input.expiresAt.timeIntervalSince(now) <= 366 * 86_400 else {
                throw Problem.invalid("expires_at", code: "out_of_range", "an override ends in the future, within a year")
            }
            if input.kind == .engineerHold, input.holdState == nil {
                throw Problem.invalid("hold_state", code: "required", "an engineer hold says whether the valve is held open or closed")
            }
            let engine = services.database.engine
            let result = try await services.database.transaction { db -> OverrideResult? in
                let _ = try await ScopedStore(db, scope: scope).get(Device.self, id: device)
                let supply = SupplyController(db, companyId: scope.companyId, engine: engine)
                guard let status = try await supply.status(device: device) else { return nil }
                let (id, command) = try await supply.addOverride(
                    device: status.deviceId, kind: input.kind, holdState: input.holdState,
                    reason: input.reason, expiresAt: input.expiresAt, actor: principal.user.id, now: now)
                return OverrideResult(
                    id: id, deviceId: device, kind: input.kind, holdState: input.holdState, reason: input.reason,
                    expiresAt: input.expiresAt, command: command)
            }
            guard let result else { throw Problem.invalid("device_id", code: "no_supply_control", "this device has no prepaid plan") }
            await services.dispatcher.wake()
            return try .json(result, status: .created)
        }

        api.on(
            .post, "/api/v1/devices/:id/supply-overrides/:override/end", summary: "End an override now; the supply follows the balance again",
            tag: "Prepaid", permission: .manageDevices, status: 204
        ) { _, context in
            let scope = try context.scope(for: .manageDevices)
            let principal = try context.requirePrincipal()
            let device = try context.parameters.require("id")
            let override = try context.parameters.require("override")
            let now = services.clock.now()
            let engine = services.database.engine
            let ended = try await services.database.transaction { db -> Bool in
                let _ = try await ScopedStore(db, scope: scope).get(Device.self, id: device)
                return try await SupplyController(db, companyId: scope.companyId, engine: engine)
                    .endOverride(override, device: device, actor: principal.user.id, now: now)
            }
            guard ended else { throw Problem.notFound("active override") }
            await services.dispatcher.wake()
            return Response(status: .noContent)
        }

        api.on(
            .post, "/api/v1/devices/:id/safety/clear", summary: "Lift a safety lock after an on-site check; supply follows the balance again",
            tag: "Prepaid", permission: .manageDevices, request: "SafetyClear"
        ) { request, context in
            let scope = try context.scope(for: .manageDevices)
            let device = try context.parameters.require("id")
            let input = try await request.decode(as: SafetyClear.self, context: context)
            guard !input.reason.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw Problem.invalid("reason", code: "required", "say what was checked")
            }
            let now = services.clock.now()
            let engine = services.database.engine
            let command = try await mapped {
                try await services.database.transaction { db in
                    let _ = try await ScopedStore(db, scope: scope).get(Device.self, id: device)
                    return try await SupplyController(db, companyId: scope.companyId, engine: engine).clearSafety(device: device, now: now)
                }
            }
            await services.dispatcher.wake()
            return try .json(["command_id": command])
        }

        registerDeviceCommands(on: api, services: services)

        api.on(
            .put, "/api/v1/communities/:id/holidays", summary: "The community's public holidays (friendly windows of kind public_holidays)",
            tag: "Prepaid", permission: .manageFinance, request: "Holidays"
        ) { request, context in
            let scope = try context.scope(for: .manageFinance)
            let community = try context.parameters.require("id")
            let input = try await request.decode(as: Holidays.self, context: context)
            guard Set(input.days.map(\.day)).count == input.days.count else {
                throw Problem.invalid("days", code: "duplicate", "each day is listed once")
            }
            try await services.database.transaction { db in
                let _ = try await ScopedStore(db, scope: scope).get(Community.self, id: community)
                try await SupplyController(db, companyId: scope.companyId, engine: services.database.engine)
                    .replaceHolidays(community: community, days: input.days.map { ($0.day, $0.name) })
            }
            return try .json(input)
        }
    }

    /// Who reports for `device`: its own token, or staff with `manage_devices` who can see it; the company it belongs to.
    static func reporter(_ context: CourtyardRequestContext, device: String, services: ServerServices) async throws -> String {
        if context.device != nil { return try deviceCaller(context, device: device) }
        let scope = try context.scope(for: .manageDevices)
        _ = try await services.database.read { db in try await ScopedStore(db, scope: scope).get(Device.self, id: device) }
        return scope.companyId
    }

    /// A device token acting for its own device; any other caller or device is refused.
    static func deviceCaller(_ context: CourtyardRequestContext, device: String) throws -> String {
        guard let principal = context.device else { throw Problem.unauthenticated }
        guard principal.deviceId == device else {
            throw Problem(.forbidden, code: "device_mismatch", title: "This token may only act for its own device")
        }
        return principal.companyId
    }
}
