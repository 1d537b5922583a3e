import CourtyardDevices
import CourtyardDomain
import CourtyardIngest
import CourtyardPrepaid
import CourtyardStorage
import Foundation
import Hummingbird

extension PrepaidRoutes {
    /// A device's command queue as the device and staff see it: the newest commands, the next one for a device that pulls,
    /// acks and state reports, and the signed-HTTP callback a platform receives commands on.
    static func registerDeviceCommands(on api: DocumentedRouter, services: ServerServices) {
        api.schema(
            "CommandAck", example: ["command_id": "0194f3a0-0000-7000-8000-0000000000c1", "status": "succeeded"],
            required: ["command_id", "status"])
        api.schema("SupplyReport", example: ["valve": "closed", "alarm": "gas_leak"])
        api.schema(
            "CommandList", example: CommandList(items: []),
            items: ["items": .object(description: "a device command: id, device, action, state, attempts, created_at, sent_at, reason")])

        api.on(
            .get, "/api/v1/devices/:id/commands", summary: "A device's newest commands and their states", tag: "Prepaid",
            permission: .readDevices, response: "CommandList", query: ["limit"]
        ) { request, context in
            let scope = try context.scope(for: .readDevices)
            let device = try context.parameters.require("id")
            let limit = try ResourceRoutes.limit(request, default: 20, maximum: 200)
            let items = try await services.database.read { db in
                let _ = try await ScopedStore(db, scope: scope).get(Device.self, id: device)
                return try await CommandQueue(TenantSQL(db, scope: scope)).recent(deviceId: device, limit: limit)
            }
            return try .json(CommandList(items: items))
        }

        api.on(
            .get, "/api/v1/devices/:id/commands/next",
            summary: "For HTTP devices (device token): the next command, marked sent; 204 when there is none", tag: "Prepaid",
            also: [204: "No command is waiting"]
        ) { _, context in
            let device = try context.parameters.require("id")
            let companyId = try deviceCaller(context, device: device)
            let now = services.clock.now().epochMilliseconds
            let command = try await services.database.transaction { db in
                try await CommandQueue(db, companyId: companyId).pull(deviceId: device, now: now)
            }
            guard let command else { return Response(status: .noContent) }
            return try .json(command)
        }

        api.on(
            .post, "/api/v1/devices/:id/commands/ack",
            summary: "A device's ack of a command: delivered, succeeded or failed (device token, or engineer)", tag: "Prepaid",
            request: "CommandAck"
        ) { request, context in
            let device = try context.parameters.require("id")
            let companyId = try await reporter(context, device: device, services: services)
            let ack = try await request.decode(as: DeviceReports.Ack.self, context: context)
            let command = try await mapped {
                try await services.deviceReports.acknowledge(
                    companyId: companyId, deviceId: device, commandId: ack.commandId,
                    status: ack.status, error: ack.error)
            }
            return try .json(command)
        }

        api.on(
            .post, "/api/v1/devices/:id/supply-report",
            summary: "A device's valve/switch position and alarms (gas_leak, abnormal_flow, tamper close the supply for safety)",
            tag: "Prepaid", request: "SupplyReport", status: 204
        ) { request, context in
            let device = try context.parameters.require("id")
            let companyId = try await reporter(context, device: device, services: services)
            let report = try await request.decode(as: DeviceReports.StateReport.self, context: context)
            if let alarm = report.alarm, !DeviceReports.alarms.contains(alarm) {
                throw Problem.invalid("alarm", code: "invalid_value", "alarm is gas_leak, abnormal_flow or tamper")
            }
            guard report.valve != nil || report.alarm != nil else {
                throw Problem.invalid("valve", code: "required", "report the valve position, an alarm, or both")
            }
            try await mapped {
                try await services.deviceReports.report(companyId: companyId, deviceId: device, position: report.valve, alarm: report.alarm)
            }
            return Response(status: .noContent)
        }

        api.schema("CommandURL", example: ["url": "http://iot-platform.internal:8080/courtyard/commands"], required: ["url"])
        api.on(
            .put, "/api/v1/integrations/:id/command-url",
            summary: "Where the IoT platform takes commands for its devices: POST, signed like its webhooks (http:// only; null removes it)",
            tag: "Prepaid", permission: .manageDevices, request: "CommandURL"
        ) { request, context in
            let scope = try context.scope(for: .manageDevices)
            let id = try context.parameters.require("id")
            struct Input: Codable { var url: String? }
            let input = try await request.decode(as: Input.self, context: context)
            if let url = input.url, !HTTPCallbackTransport.isSupported(url) {
                throw Problem.invalid("url", code: "unsupported_url", "an http:// URL with a host (terminate TLS in front of an https platform)")
            }
            let now = services.clock.now()
            let found = try await services.database.transaction { db -> Bool in
                try await IntegrationStore(db).setCommandURL(companyId: scope.companyId, id: id, url: input.url, now: now)
            }
            guard found else { throw Problem.notFound("integration") }
            await services.dispatcher.wake()
            return try .json(["url": input.url])
        }
    }
}
