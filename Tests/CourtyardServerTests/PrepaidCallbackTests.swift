import CourtyardDevices
import CourtyardIngest
import CourtyardPrepaid
import CourtyardServer
import CourtyardStorage
import CourtyardTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOFoundationEssentialsCompat
import SQLKit
import Testing

/// Commands for devices behind an IoT platform go to its `command_url` as signed HTTP callbacks; the platform here is a
/// live HTTP server on loopback.
@Suite("Prepaid HTTP callbacks")
struct PrepaidCallbackTests {
    typealias T = PrepaidAPITests

    actor Platform {
        var posts: [(timestamp: String?, signature: String?, body: Data)] = []
        func take(_ timestamp: String?, _ signature: String?, _ body: Data) { posts.append((timestamp, signature, body)) }
    }

    @Test(
        "the cut-off is POSTed to the integration's command URL, signed with its secret; the ack comes back by API",
        arguments: TestEngine.available)
    func callback(engine: TestEngine) async throws {
        let platform = Platform()
        let router = Router()
        router.post("/courtyard/commands") { request, context -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            await platform.take(
                request.headers[HTTPField.Name("X-Courtyard-Timestamp")!], request.headers[HTTPField.Name("X-Courtyard-Signature")!],
                Data(buffer: body))
            return Response(status: .accepted)
        }
        let server = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await server.test(.live) { live in
            let port = try #require(live.port)
            try await APIFixture.with(engine, clock: ManualClock(T.start)) { api in
                let admin = try await api.login("admin@alpha")
                let created = try await api.call(.post, "/api/v1/integrations", token: admin, json: ["name": "ctwing"])
                let integration = try #require((created.object["integration"] as? [String: Any])?["id"] as? String, "\(created.text)")
                let secret = try #require(created.object["secret"] as? String)
                let bad = try await api.call(.put, "/api/v1/integrations/\(integration)/command-url", token: admin, json: ["url": "ftp://x"])
                #expect(bad.status == .unprocessableContent && bad.fields == ["url"], "\(bad.text)")
                let set = try await api.call(
                    .put, "/api/v1/integrations/\(integration)/command-url", token: admin,
                    json: ["url": "http://127.0.0.1:\(port)/courtyard/commands"])
                #expect(set.status == .ok, "\(set.text)")

                let (_, _, house) = try await Prepaid.houseMeter(api, kind: "electricity_meter")
                let community = try await api.database.read { db in
                    try await db.raw("SELECT community_id FROM houses WHERE id = \(bind: house)").first()!.decode(
                        column: "community_id", as: String.self)
                }
                let key = "nb-em-\(UUID().uuidString.prefix(6))"
                let device = try #require(
                    try await api.call(
                        .post, "/api/v1/devices", token: admin,
                        json: [
                            "community_id": community, "device_key": key, "kind": "electricity_meter", "protocol": "http",
                        ]
                    ).object["id"] as? String)
                let finance = try await api.login("finance@alpha")
                let unknown = try await api.call(
                    .post, "/api/v1/prepaid-plans", token: finance,
                    json: [
                        "house_id": house, "device_id": device, "wallets": [["purpose": "electricity"]], "tariff": Prepaid.flat,
                        "command_integration": "no-such-integration",
                    ])
                #expect(unknown.code == "unknown_integration" && unknown.fields == ["command_integration"], "\(unknown.text)")
                let plan = try await api.call(
                    .post, "/api/v1/prepaid-plans", token: finance,
                    json: [
                        "house_id": house, "device_id": device, "wallets": [["purpose": "electricity"]], "tariff": Prepaid.flat,
                        "command_integration": integration,
                    ])
                #expect(plan.status == .created, "\(plan.text)")
                let engineer = try await api.login("engineer@alpha")
                _ = try await api.call(
                    .post, "/api/v1/readings", token: engineer,
                    json: [
                        T.reading(key, "1", T.start.addingTimeInterval(-7200)), T.reading(key, "2", T.start.addingTimeInterval(-3600)),
                    ])
                #expect(try await Prepaid.eventually { await platform.posts.count == 1 })
                let post = try #require(await platform.posts.first)
                let command = try JSONDecoder().decode([String: String].self, from: post.body)
                #expect(command["action"] == "close" && command["device_id"] == key, "\(command)")
                try WebhookSignature.verify(
                    body: post.body, timestamp: post.timestamp, signature: post.signature, secrets: [secret],
                    nowSeconds: Int64(Date().timeIntervalSince1970))
                let commandId = try #require(command["command_id"])
                await api.services.dispatcher.settle()
                let listed = try await api.call(.get, "/api/v1/devices/\(device)/commands", token: engineer)
                #expect(listed.items.first?["state"] as? String == "sent", "\(listed.text)")
                let ack = try await api.call(
                    .post, "/api/v1/devices/\(device)/commands/ack", token: engineer,
                    json: ["command_id": commandId, "status": "succeeded"])
                #expect(ack.object["state"] as? String == "succeeded", "\(ack.text)")
            }
        }
    }
}
