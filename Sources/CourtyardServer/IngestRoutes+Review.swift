import CourtyardDevices
import CourtyardDomain
import CourtyardIngest
import CourtyardStorage
import Foundation
import Hummingbird

extension IngestRoutes {
    /// The review queue (held readings approved or rejected with a note) and meter swaps.
    static func registerReview(on api: DocumentedRouter, services: ServerServices) {
        let exampleItem = Ingestor.ItemResult(index: 0, status: "accepted", readingId: "0194f3a0-0000-7000-8000-0000000000c1", usage: "1.250")
        let exampleHeld = HeldReading(
            id: "0194f3a0-0000-7000-8000-0000000000d1", communityId: Example.community, deviceId: Example.device,
            register: "energy_total", measuredAt: Example.date, receivedAt: Example.date, reading: "99.000",
            usage: nil, messageId: nil, source: "http", reason: "negative_delta",
            detail: "the register fell by 12.000", status: "pending")
        api.schema("HeldReadingPage", example: HeldPage(items: [exampleHeld], nextCursor: nil))
        api.schema("ReviewDecision", example: Decision(note: "checked on site", reading: nil), required: ["note"])
        api.schema("ReviewResult", example: DecisionResult(held: exampleHeld, reading: exampleItem))
        let exampleReplacement = ReplacementInput(
            deviceId: Example.device, register: "energy_total", replacedAt: Example.date,
            oldFinal: Quantity(milliUnits: 5_432_100), newStart: Quantity(milliUnits: 0), reason: "meter broken")
        api.schema("MeterReplacementInput", example: exampleReplacement, required: ["device_id", "replaced_at", "old_final", "new_start", "reason"])
        api.schema(
            "MeterReplacement",
            example: Replacement(
                id: "0194f3a0-0000-7000-8000-0000000000e1", deviceId: Example.device,
                register: "energy_total", replacedAt: Example.date, oldFinal: exampleReplacement.oldFinal,
                newStart: exampleReplacement.newStart, reason: "meter broken", createdBy: "0194f3a0-0000-7000-8000-000000000002"),
            items: ["approved_held_readings": .string])

        api.on(
            .get, "/api/v1/held-readings", summary: "Readings held for review (conflicts, negative deltas, over the plausibility cap)",
            tag: "Readings", permission: .readDevices, response: "HeldReadingPage",
            query: ["status", "device_id", "limit", "cursor"]
        ) { request, context in
            let scope = try context.scope(for: .readDevices)
            let query = request.uri.queryParameters
            let (_, cursor, limit) = try ResourceRoutes.listParameters(request, filters: [])
            let page = try await services.database.read { db in
                try await ReviewQueue(
                    db, companyId: scope.companyId, communities: scope.communityIds, effects: services.ingestor.effects,
                    engine: services.database.engine
                )
                .list(status: query["status"].map(String.init), deviceId: query["device_id"].map(String.init), after: cursor, limit: limit)
            }
            return try .json(HeldPage(items: page.items, nextCursor: page.next))
        }

        api.on(
            .post, "/api/v1/held-readings/:id/approve",
            summary: "Approve a held reading as sent, or with a corrected value; the decision is recorded",
            tag: "Readings", permission: .manageDevices, request: "ReviewDecision", response: "ReviewResult"
        ) { request, context in
            let scope = try context.scope(for: .manageDevices)
            let user = try context.requirePrincipal().user.id
            let id = try context.parameters.require("id")
            let input = try await ResourceRoutes.decodeBody(Decision.self, request, context)
            try requireNote(input.note)
            let now = services.clock.now()
            let result = try await services.database.transaction { db in
                let queue = ReviewQueue(
                    db, companyId: scope.companyId, communities: scope.communityIds, effects: services.ingestor.effects,
                    engine: services.database.engine)
                guard let held = try await queue.get(id) else { throw ReviewError.notFound }
                let device = try await DeviceDirectory.device(held.deviceId, scope: scope, db: db)
                return try await queue.approve(id, by: user, note: input.note, editedValue: input.reading?.milliUnits, device: device, now: now)
            }
            await services.ingestor.effects?.committed()
            return try .json(DecisionResult(held: result.held, reading: Ingestor.result(index: 0, result.outcome)))
        }

        api.on(
            .post, "/api/v1/held-readings/:id/reject", summary: "Reject a held reading: it is never billed; the decision is recorded",
            tag: "Readings", permission: .manageDevices, request: "ReviewDecision", response: "ReviewResult"
        ) { request, context in
            let scope = try context.scope(for: .manageDevices)
            let user = try context.requirePrincipal().user.id
            let id = try context.parameters.require("id")
            let input = try await ResourceRoutes.decodeBody(Decision.self, request, context)
            try requireNote(input.note)
            let now = services.clock.now()
            let held = try await services.database.transaction { db in
                try await ReviewQueue(
                    db, companyId: scope.companyId, communities: scope.communityIds, effects: services.ingestor.effects,
                    engine: services.database.engine
                ).reject(id, by: user, note: input.note, now: now)
            }
            return try .json(DecisionResult(held: held, reading: nil))
        }

        api.on(
            .post, "/api/v1/meter-replacements", summary: "Record a meter swap: the old meter's final reading and the new one's start",
            tag: "Readings", permission: .manageDevices, request: "MeterReplacementInput", response: "MeterReplacement", status: 201
        ) { request, context in
            let scope = try context.scope(for: .manageDevices)
            let user = try context.requirePrincipal().user.id
            let input = try await ResourceRoutes.decodeBody(ReplacementInput.self, request, context)
            try requireNote(input.reason, field: "reason")
            let now = services.clock.now()
            let register = input.register ?? "energy_total"
            let replacement = try await services.database.transaction { db in
                try await MeterReplacements(TenantSQL(db, scope: scope, engine: services.database.engine), effects: services.ingestor.effects)
                    .record(
                        deviceId: input.deviceId, register: register, replacedAt: input.replacedAt, oldFinal: input.oldFinal,
                        newStart: input.newStart,
                        reason: input.reason, by: user, now: now)
            }
            await services.ingestor.effects?.committed()
            return try .json(replacement, status: .created)
        }

    }
}
