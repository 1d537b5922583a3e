import CourtyardDevices
import CourtyardDomain
import CourtyardStorage
import Crypto
import Foundation
import SQLKit

/// An IoT platform that delivers readings by signed webhook, and its secrets.
///
/// The secret is shown once when created or rotated. It is stored as given because HMAC verification needs it
/// (unlike tokens, which are stored hashed); it never appears in logs or in any later response. A rotation keeps
/// the previous secret active until ``IntegrationStore/retirePrevious(id:now:)``, so the platform can switch over
/// without losing deliveries.
public struct Integration: Codable, Hashable, Sendable {
    public var id: String
    public var companyId: String
    public var name: String
    public var hasPreviousSecret: Bool
    public var rotatedAt: Date?
    public var createdAt: Date

    public init(id: String, companyId: String, name: String, hasPreviousSecret: Bool, rotatedAt: Date?, createdAt: Date) {
        self.id = id
        self.companyId = companyId
        self.name = name
        self.hasPreviousSecret = hasPreviousSecret
        self.rotatedAt = rotatedAt
        self.createdAt = createdAt
    }
}

/// Integrations of one company, and the signatures already seen.
public struct IntegrationStore: Sendable {
    let db: any SQLDatabase

    public init(_ db: any SQLDatabase) { self.db = db }

    func tenant(_ companyId: String) -> TenantSQL { TenantSQL(db, scope: TenantScope(companyId: companyId)) }

    /// A new random secret: 32 bytes, hex.
    public static func newSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    public func create(companyId: String, name: String, now: Date) async throws -> (Integration, secret: String) {
        let id = Identifier.uuidV7(at: now)
        let secret = Self.newSecret()
        try await tenant(companyId).insert(
            into: "integrations", columns: ["id", "name", "secret", "created_at", "updated_at"],
            values: [id, name, secret, now.epochMilliseconds, now.epochMilliseconds]
        ).run()
        return (Integration(id: id, companyId: companyId, name: name, hasPreviousSecret: false, rotatedAt: nil, createdAt: now), secret)
    }

    /// Replaces the secret; the old one stays valid as the previous secret.
    public func rotate(companyId: String, id: String, now: Date) async throws -> (Integration, secret: String)? {
        guard var integration = try await find(companyId: companyId, id: id) else { return nil }
        let secret = Self.newSecret()
        try await tenant(companyId).update(
            "integrations",
            set: """
                previous_secret = secret, secret = \(bind: secret), rotated_at = \(bind: now.epochMilliseconds), updated_at = \(bind: now.epochMilliseconds)
                """, where: "id = \(bind: id)"
        ).run()
        integration.hasPreviousSecret = true
        integration.rotatedAt = now
        return (integration, secret)
    }

    /// Ends the rotation: only the current secret signs from now on.
    public func retirePrevious(companyId: String, id: String, now: Date) async throws -> Integration? {
        guard var integration = try await find(companyId: companyId, id: id) else { return nil }
        try await tenant(companyId).update(
            "integrations", set: "previous_secret = NULL, updated_at = \(bind: now.epochMilliseconds)",
            where: "id = \(bind: id)"
        ).run()
        integration.hasPreviousSecret = false
        return integration
    }

    public func find(companyId: String, id: String) async throws -> Integration? {
        guard
            let row = try await tenant(companyId).select(
                "id, name, previous_secret, rotated_at, created_at", from: "integrations",
                where: "id = \(bind: id)"
            ).first()
        else { return nil }
        return try Self.integration(row, companyId: companyId)
    }

    /// Sets (or, with `nil`, clears) the URL commands to this integration's devices are sent to; false when there is no
    /// such integration in the company.
    public func setCommandURL(companyId: String, id: String, url: String?, now: Date) async throws -> Bool {
        guard try await find(companyId: companyId, id: id) != nil else { return false }
        try await tenant(companyId).update(
            "integrations", set: "command_url = \(bind: url), updated_at = \(bind: now.epochMilliseconds)",
            where: "id = \(bind: id)"
        ).run()
        return true
    }

    public func list(companyId: String) async throws -> [Integration] {
        try await tenant(companyId).select("id, name, previous_secret, rotated_at, created_at", from: "integrations", then: "ORDER BY id")
            .all().map { try Self.integration($0, companyId: companyId) }
    }

    static func integration(_ row: any SQLRow, companyId: String) throws -> Integration {
        let reader = RowReader(row, table: "integrations")
        return Integration(
            id: try reader.string("id"), companyId: companyId, name: try reader.string("name"),
            hasPreviousSecret: try reader.optionalString("previous_secret") != nil,
            rotatedAt: try reader.optionalInt64("rotated_at").map { Date(timeIntervalSince1970: TimeInterval($0) / 1000) },
            createdAt: try reader.instant("created_at"))
    }

    /// The company and active secrets behind a webhook URL. The URL names the integration; only the signature proves the sender.
    public func secrets(id: String) async throws -> (companyId: String, name: String, secrets: [String])? {
        guard let owned = try await TenantSQL.sweep(db, "name, secret, previous_secret", from: "integrations", where: "id = \(bind: id)").first
        else { return nil }
        let reader = RowReader(owned.row, table: "integrations")
        return (
            owned.companyId, try reader.string("name"),
            [try reader.string("secret")] + [try reader.optionalString("previous_secret")].compactMap { $0 }
        )
    }

    /// Remembers a signature until it could no longer verify; false when it was seen before (a replay).
    public func remember(signature: String, integrationId: String, now: Date) async throws -> Bool {
        let nowMillis = now.epochMilliseconds
        try await db.raw("DELETE FROM webhook_signatures WHERE expires_at < \(bind: nowMillis)").run()
        if try await db.raw("SELECT signature FROM webhook_signatures WHERE signature = \(bind: signature)").first() != nil {
            return false
        }
        do {
            try await db.raw(
                """
                INSERT INTO webhook_signatures (signature, integration_id, expires_at)
                VALUES (\(bind: signature), \(bind: integrationId), \(bind: nowMillis + 2 * WebhookSignature.toleranceSeconds * 1000))
                """
            ).run()
        } catch {
            if case .alreadyExists = StorageError.classify(error) { return false }
            throw error
        }
        return true
    }

    /// Forgets a signature whose delivery could not be stored, so the platform's retry is not taken for a replay.
    public func forget(signature: String) async throws {
        try await db.raw("DELETE FROM webhook_signatures WHERE signature = \(bind: signature)").run()
    }
}
