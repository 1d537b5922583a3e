import CourtyardDomain
import CourtyardSimulator
import CourtyardStorage
import CourtyardTestSupport
import Foundation
import HTTPTypes
import Testing

@testable import CourtyardServer

@Suite("Accounts: passwords, disabling, sessions, throttling")
struct AccountManagementTests {
    @Test("changing your password checks the current one and the policy, and ends your other sessions", arguments: TestEngine.available)
    func changeOwnPassword(engine: TestEngine) async throws {
        try await APIFixture.with(engine) { api in
            let laptop = try await api.login("finance@alpha")
            let phone = try await api.login("finance@alpha")
            let wrong = try await api.call(
                .post, "/api/v1/me/password", token: laptop,
                json: ["current_password": "not-it-at-all", "new_password": "a-fresh-phrase-9"])
            #expect(wrong.status == .unprocessableContent)
            #expect(wrong.fields == ["current_password"])
            for weak in ["password123", "12345678", "finance@alpha-2026", "aaaaaaaa", "abcdefgh"] {
                let reply = try await api.call(
                    .post, "/api/v1/me/password", token: laptop,
                    json: ["current_password": DemoSeeder.password, "new_password": weak])
                #expect(reply.status == .unprocessableContent, "\(weak) was accepted")
                #expect(reply.fields == ["new_password"])
            }
            let changed = try await api.call(
                .post, "/api/v1/me/password", token: laptop,
                json: ["current_password": DemoSeeder.password, "new_password": "a-fresh-phrase-9"])
            #expect(changed.status == .ok)
            #expect(changed.object["ended"] as? Int == 1)
            #expect(try await api.call(.get, "/api/v1/me", token: laptop).status == .ok)
            #expect(try await api.call(.get, "/api/v1/me", token: phone).status == .unauthorized)
            let old = try await api.call(.post, "/api/v1/auth/login", json: ["login": "finance@alpha", "password": DemoSeeder.password])
            #expect(old.status == .unauthorized)
            _ = try await api.login("finance@alpha", password: "a-fresh-phrase-9")
        }
    }

    @Test(
        "an administrator resets a password, disables and enables a user, and ends a user's sessions; each takes effect at once",
        arguments: TestEngine.available)
    func administratorControls(engine: TestEngine) async throws {
        try await APIFixture.with(engine) { api in
            let admin = try await api.login("admin@alpha")
            let finance = try await api.login("finance@alpha")
            #expect(try await api.call(.get, "/api/v1/me", token: finance).status == .ok)  // now cached
            let users = try await api.call(.get, "/api/v1/users", token: admin).items
            let financeId = try #require(users.first { $0["login"] as? String == "finance@alpha" }?["id"] as? String)
            let adminId = try #require(users.first { $0["login"] as? String == "admin@alpha" }?["id"] as? String)

            let disabled = try await api.call(.post, "/api/v1/users/\(financeId)/disable", token: admin)
            #expect(disabled.object["status"] as? String == "disabled")
            #expect(try await api.call(.get, "/api/v1/me", token: finance).status == .unauthorized)
            let refused = try await api.call(.post, "/api/v1/auth/login", json: ["login": "finance@alpha", "password": DemoSeeder.password])
            #expect(refused.status == .unauthorized)
            #expect(try await api.call(.post, "/api/v1/users/\(financeId)/enable", token: admin).status == .ok)
            let again = try await api.login("finance@alpha")

            let reset = try await api.call(.post, "/api/v1/users/\(financeId)/password", token: admin, json: ["new_password": "temporary-phrase-77"])
            #expect(reset.status == .ok)
            #expect(try await api.call(.get, "/api/v1/me", token: again).status == .unauthorized)
            let fresh = try await api.login("finance@alpha", password: "temporary-phrase-77")
            let ended = try await api.call(.post, "/api/v1/users/\(financeId)/sessions/end", token: admin)
            #expect(ended.object["ended"] as? Int == 1)
            #expect(try await api.call(.get, "/api/v1/me", token: fresh).status == .unauthorized)

            let selfDisable = try await api.call(.post, "/api/v1/users/\(adminId)/disable", token: admin)
            #expect(selfDisable.status == .conflict)
            // Another company's user is not there at all; a non-administrator may not do any of it.
            let bravo = try await api.login("admin@bravo")
            #expect(try await api.call(.post, "/api/v1/users/\(financeId)/disable", token: bravo).status == .notFound)
            let clerk = try await api.login("frontdesk@alpha")
            #expect(try await api.call(.post, "/api/v1/users/\(financeId)/disable", token: clerk).status == .forbidden)
        }
    }

    @Test("the Bearer scheme is case-insensitive and a token is refused from its expires_at on", arguments: TestEngine.available)
    func bearerSchemeAndExpiry(engine: TestEngine) async throws {
        let clock = ManualClock(Date(timeIntervalSince1970: 1_790_000_000))
        try await APIFixture.with(engine, clock: clock) { api in
            let reply = try await api.call(.post, "/api/v1/auth/login", json: ["login": "finance@alpha", "password": DemoSeeder.password])
            let token = try #require(reply.object["token"] as? String)
            for scheme in ["bearer", "BEARER", "Bearer"] {
                let me = try await api.call(.get, "/api/v1/me", headers: ["Authorization": "\(scheme) \(token)"])
                #expect(me.status == .ok, "\(scheme)")
            }
            // Exactly at expires_at (8 h later): refused, although the token was resolved (and cached) a moment before.
            clock.advance(seconds: 8 * 3600 - 1)
            #expect(try await api.call(.get, "/api/v1/me", token: token).status == .ok)
            clock.advance(seconds: 1)
            #expect(try await api.call(.get, "/api/v1/me", token: token).status == .unauthorized)
        }
    }

    @Test("unknown logins are checked against a decoy hash of the same bcrypt cost as real ones")
    func decoyHasTheConfiguredCost() async throws {
        for cost: UInt8 in [4, 10, 12] {
            let decoy = await Passwords.decoyHash(cost: cost)
            let real = try await Passwords.hash("a-real-phrase-1", cost: cost)
            // "$2b$12$…": the cost field decides the work, so an equal field means an equal time.
            let fields = (decoy.split(separator: "$").map(String.init), real.split(separator: "$").map(String.init))
            #expect(fields.0[1] == String(format: "%02d", cost))
            #expect(fields.0[1] == fields.1[1])
            #expect(fields.0[0] == fields.1[0])
        }
    }

    @Test("throttling: the right password from a known device still works while a login is under attack; one address's typos do not lock others")
    func throttlingPolicy() async {
        let limiter = LoginRateLimiter(policy: .init(maxFailuresPerLogin: 5, maxFailuresPerAddress: 100))
        var now: Int64 = 1_000_000
        await limiter.recordSuccess(login: "admin", address: "10.0.0.1", now: now)  // the admin's office
        for attempt in 0..<50 {
            now += 1_000
            await limiter.recordFailure(login: "admin", address: "203.0.113.\(attempt % 10)", now: now)
        }
        // The attacker's addresses wait; a new address waits (the login is under attack); the office does not.
        #expect(await limiter.retryAfter(login: "admin", address: "203.0.113.1", now: now) != nil)
        #expect(await limiter.retryAfter(login: "admin", address: "198.51.100.7", now: now) != nil)
        #expect(await limiter.retryAfter(login: "admin", address: "10.0.0.1", now: now) == nil)
        // Backoff is bounded: fifteen minutes after the last failure everyone may try again.
        #expect(await limiter.retryAfter(login: "admin", address: "198.51.100.7", now: now + 15 * 60_000 + 1) == nil)

        // Behind one proxy: five typos of one person lock that login from there, not the colleagues.
        for _ in 0..<5 { await limiter.recordFailure(login: "clerk-a", address: "192.0.2.1", now: now) }
        #expect(await limiter.retryAfter(login: "clerk-a", address: "192.0.2.1", now: now) != nil)
        #expect(await limiter.retryAfter(login: "clerk-b", address: "192.0.2.1", now: now) == nil)
        // One address with 100 failures across many logins is throttled as a whole.
        for index in 0..<100 { await limiter.recordFailure(login: "guess-\(index)", address: "192.0.2.99", now: now) }
        #expect(await limiter.retryAfter(login: "someone", address: "192.0.2.99", now: now) != nil)
    }
}
