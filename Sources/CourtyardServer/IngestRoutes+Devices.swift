import CourtyardDevices
import CourtyardDomain
import CourtyardIngest
import CourtyardStorage
import Foundation
import Hummingbird

extension IngestRoutes {
    /// Device presence and alerts for the monitoring panel, and IoT platform integrations.
    static func registerDevices(on api: DocumentedRouter, services: ServerServices) {
        let exampleIntegration = Integration(
            id: "0194f3a0-0000-7000-8000-0000000000f1", companyId: Example.company, name: "ctwing",
            hasPreviousSecret: false, rotatedAt: nil, createdAt: Example.date)
        api.schema("IntegrationInput", example: IntegrationInput(name: "ctwing"), required: ["name"])
        api.schema(
            "IntegrationSecret",
            example: IntegrationSecret(
                integration: exampleIntegration, secret: "…",
                webhookUrl: "/api/v1/ingest/\(exampleIntegration.id)"))
        api.schema("IntegrationList", example: IntegrationList(items: [exampleIntegration]))
        api.schema(
            "PresencePage",
            example: PresencePage(
                items: [
                    PresenceView(
                        deviceId: Example.device, deviceKey: "water_meter_102",
                        communityId: Example.community, kind: "water_meter", online: false,
                        lastSeenAt: Example.date, changedAt: Example.date)
                ], nextCursor: nil))
        api.schema(
            "DeviceAlertPage",
            example: AlertPage(
                items: [
                    Alert(
                        id: "0194f3a0-0000-7000-8000-0000000000a1", deviceId: Example.device,
                        kind: "offline", at: Example.date, lastSeenAt: Example.date)
                ], nextCursor: nil))

        api.on(
            .get, "/api/v1/device-presence", summary: "Online/offline state per device (status=online|offline) for the monitoring panel",
            tag: "Device", permission: .readDevices, response: "PresencePage", query: ["status", "community_id", "limit", "cursor"]
        ) { request, context in
            let scope = try context.scope(for: .readDevices)
            return try .json(try await presence(request, scope: scope, services: services))
        }

        api.on(
            .get, "/api/v1/device-alerts", summary: "Offline and back-online alerts, newest first", tag: "Device", permission: .readDevices,
            response: "DeviceAlertPage", query: ["device_id", "kind", "limit", "cursor"]
        ) { request, context in
            let scope = try context.scope(for: .readDevices)
            let query = request.uri.queryParameters
            let (_, cursor, limit) = try ResourceRoutes.listParameters(request, filters: [], cursor: .own)
            let after = try cursor.map { try TimeCursor($0).position }
            let rows = try await services.database.read { db in
                try await DeviceHistory(db, scope: scope).alerts(
                    deviceId: query["device_id"].map(String.init), kind: query["kind"].map(String.init),
                    after: after, limit: limit)
            }
            let items = Array(rows.prefix(limit))
            let page = AlertPage(items: items, nextCursor: rows.count > limit ? items.last.map { TimeCursor.text($0.at, $0.id) } : nil)
            return try .json(page)
        }

        api.on(
            .post, "/api/v1/integrations", summary: "Register an IoT platform; the webhook secret is shown once",
            tag: "Device", permission: .manageDevices, request: "IntegrationInput", response: "IntegrationSecret", status: 201
        ) { request, context in
            let scope = try context.scope(for: .manageDevices)
            let input = try await ResourceRoutes.decodeBody(IntegrationInput.self, request, context)
            guard !input.name.isEmpty, input.name.count <= 64 else {
                throw Problem.invalid("name", code: "invalid_length", "name must be 1 to 64 characters")
            }
            let now = services.clock.now()
            let (integration, secret) = try await services.database.transaction { db in
                try await IntegrationStore(db).create(companyId: scope.companyId, name: input.name, now: now)
            }
            return try .json(
                IntegrationSecret(integration: integration, secret: secret, webhookUrl: "/api/v1/ingest/\(integration.id)"), status: .created)
        }

        api.on(
            .get, "/api/v1/integrations", summary: "IoT platform integrations (secrets are never shown again)", tag: "Device",
            permission: .readDevices, response: "IntegrationList"
        ) { _, context in
            let scope = try context.scope(for: .readDevices)
            let items = try await services.database.read { db in try await IntegrationStore(db).list(companyId: scope.companyId) }
            return try .json(IntegrationList(items: items))
        }

        api.on(
            .post, "/api/v1/integrations/:id/rotate", summary: "New webhook secret; the previous one stays valid until retired",
            tag: "Device", permission: .manageDevices, response: "IntegrationSecret"
        ) { _, context in
            let scope = try context.scope(for: .manageDevices)
            let id = try context.parameters.require("id")
            let now = services.clock.now()
            guard
                let (integration, secret) = try await services.database.transaction({ db in
                    try await IntegrationStore(db).rotate(companyId: scope.companyId, id: id, now: now)
                })
            else { throw StorageError.notFound(table: "integrations", id: id) }
            return try .json(IntegrationSecret(integration: integration, secret: secret, webhookUrl: "/api/v1/ingest/\(integration.id)"))
        }

        api.on(
            .post, "/api/v1/integrations/:id/retire-previous", summary: "End a rotation: only the current secret verifies",
            tag: "Device", permission: .manageDevices, response: "IntegrationList"
        ) { _, context in
            let scope = try context.scope(for: .manageDevices)
            let id = try context.parameters.require("id")
            let now = services.clock.now()
            guard
                let integration = try await services.database.transaction({ db in
                    try await IntegrationStore(db).retirePrevious(companyId: scope.companyId, id: id, now: now)
                })
            else { throw StorageError.notFound(table: "integrations", id: id) }
            return try .json(IntegrationList(items: [integration]))
        }
    }
}
