import CourtyardDomain
import Foundation
import SQLKit

/// A property-management company: the tenant. Every other row belongs to exactly one.
public struct Company: Codable, Sendable, Equatable {
    public var id: String
    public var code: String
    public var name: String
    public var currency: Currency
    public var createdAt: Date
    public var updatedAt: Date

    public init(id: String, code: String, name: String, currency: Currency, createdAt: Date, updatedAt: Date) {
        self.id = id; self.code = code; self.name = name; self.currency = currency
        self.createdAt = createdAt; self.updatedAt = updatedAt
    }
}

/// A person's login: staff of a company, an owner, or the platform administrator.
public struct User: Codable, Sendable, Equatable {
    /// Disabled users cannot sign in and their sessions stop working.
    public enum Status: String, Codable, Sendable, CaseIterable {
        case active, disabled
    }

    public var id: String
    /// `nil` only for the platform administrator.
    public var companyId: String?
    public var login: String
    public var displayName: String
    public var role: Role
    /// For owner accounts: the person record whose houses they see.
    public var personId: String?
    /// Staff limited to some communities; `nil` means all of the company's.
    public var communityIds: Set<String>?
    public var status: Status
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String, companyId: String?, login: String, displayName: String, role: Role, personId: String?,
        communityIds: Set<String>?, status: Status, createdAt: Date, updatedAt: Date
    ) {
        self.id = id; self.companyId = companyId; self.login = login; self.displayName = displayName; self.role = role
        self.personId = personId; self.communityIds = communityIds; self.status = status
        self.createdAt = createdAt; self.updatedAt = updatedAt
    }
}

/// Companies, users, sessions and machine credentials: the rows that decide who a caller is.
///
/// These sit above tenant scoping (they are how a scope is found), so they
/// have their own narrow store instead of ``ScopedStore``.
public struct AccountStore: Sendable {
    public let db: any SQLDatabase

    public init(_ db: any SQLDatabase) { self.db = db }

    // MARK: Companies

    public func insert(_ company: Company) async throws {
        try await db.insert(into: "companies")
            .columns("id", "code", "name", "currency", "created_at", "updated_at")
            .values(
                SQLBind(company.id), SQLBind(company.code), SQLBind(company.name), SQLBind(company.currency.code),
                SQLBind(company.createdAt.epochMilliseconds), SQLBind(company.updatedAt.epochMilliseconds)
            )
            .run()
    }

    public func company(id: String) async throws -> Company? {
        try await db.select().columns("*").from("companies").where("id", .equal, SQLBind(id)).first().map(Self.company(from:))
    }

    public func company(code: String) async throws -> Company? {
        try await db.select().columns("*").from("companies").where("code", .equal, SQLBind(code)).first().map(Self.company(from:))
    }

    public func companies() async throws -> [Company] {
        try await db.select().columns("*").from("companies").orderBy("id").all().map(Self.company(from:))
    }

    private static func company(from row: any SQLRow) throws -> Company {
        let reader = RowReader(row, table: "companies")
        let code = try reader.string("currency")
        guard let currency = Currency.supported[code] else { throw StorageError.corruptRow(table: "companies", column: "currency") }
        return Company(
            id: try reader.string("id"), code: try reader.string("code"), name: try reader.string("name"),
            currency: currency, createdAt: try reader.instant("created_at"), updatedAt: try reader.instant("updated_at"))
    }

    // MARK: Users

    public func insert(_ user: User, passwordHash: String) async throws {
        try await db.insert(into: "users")
            .columns(
                "id", "company_id", "login", "display_name", "role", "password_hash", "person_id", "community_ids",
                "status", "created_at", "updated_at"
            )
            .values(
                SQLBind(user.id), sqlValue(user.companyId), SQLBind(user.login), SQLBind(user.displayName),
                SQLBind(user.role.rawValue), SQLBind(passwordHash), sqlValue(user.personId),
                sqlValue(user.communityIds.map { $0.sorted().joined(separator: ",") }), SQLBind(user.status.rawValue),
                SQLBind(user.createdAt.epochMilliseconds), SQLBind(user.updatedAt.epochMilliseconds)
            )
            .run()
    }

    /// The user with `login` and their password hash, for sign-in.
    public func userWithPasswordHash(login: String) async throws -> (user: User, passwordHash: String)? {
        guard let row = try await db.select().columns("*").from("users").where("login", .equal, SQLBind(login)).first() else {
            return nil
        }
        return (try Self.user(from: row), try RowReader(row, table: "users").string("password_hash"))
    }

    public func user(id: String) async throws -> User? {
        try await db.select().columns("*").from("users").where("id", .equal, SQLBind(id)).first().map(Self.user(from:))
    }

    /// A user's password hash (to check the current password before a change).
    public func passwordHash(userId: String) async throws -> String? {
        try await db.select().columns("password_hash").from("users").where("id", .equal, SQLBind(userId)).first()
            .map { try RowReader($0, table: "users").string("password_hash") }
    }

    /// Sets a user's password hash.
    public func setPassword(userId: String, hash: String, at now: Date) async throws {
        try await db.update("users").set("password_hash", to: SQLBind(hash)).set("updated_at", to: SQLBind(now.epochMilliseconds))
            .where("id", .equal, SQLBind(userId)).run()
    }

    /// Sets a user's status (`active` or `disabled`).
    public func setStatus(userId: String, _ status: User.Status, at now: Date) async throws {
        try await db.update("users").set("status", to: SQLBind(status.rawValue)).set("updated_at", to: SQLBind(now.epochMilliseconds))
            .where("id", .equal, SQLBind(userId)).run()
    }

    /// Ends a user's sessions, all of them or all but `keeping`; returns the ended sessions' token hashes (to drop from caches).
    @discardableResult
    public func endSessions(userId: String, keeping: String? = nil) async throws -> [String] {
        var select = db.select().columns("token_hash").from("sessions").where("user_id", .equal, SQLBind(userId))
        if let keeping { select = select.where("token_hash", .notEqual, SQLBind(keeping)) }
        let hashes = try await select.all().map { try RowReader($0, table: "sessions").string("token_hash") }
        var delete = db.delete(from: "sessions").where("user_id", .equal, SQLBind(userId))
        if let keeping { delete = delete.where("token_hash", .notEqual, SQLBind(keeping)) }
        try await delete.run()
        return hashes
    }

    /// Users of one company, in creation order.
    public func users(companyId: String) async throws -> [User] {
        try await db.select().columns("*").from("users").where("company_id", .equal, SQLBind(companyId))
            .orderBy("id").all().map(Self.user(from:))
    }

    private static func user(from row: any SQLRow) throws -> User {
        let reader = RowReader(row, table: "users")
        let communities = try reader.optionalString("community_ids").map {
            Set($0.split(separator: ",").map(String.init))
        }
        return User(
            id: try reader.string("id"), companyId: try reader.optionalString("company_id"),
            login: try reader.string("login"), displayName: try reader.string("display_name"),
            role: try reader.value("role", as: Role.self), personId: try reader.optionalString("person_id"),
            communityIds: communities, status: try reader.value("status", as: User.Status.self),
            createdAt: try reader.instant("created_at"), updatedAt: try reader.instant("updated_at"))
    }

    // MARK: Sessions

    /// Stores a session under the hash of its bearer token (the token itself is never stored).
    public func insertSession(tokenHash: String, userId: String, createdAt: Date, expiresAt: Date) async throws {
        try await db.insert(into: "sessions").columns("token_hash", "user_id", "created_at", "expires_at")
            .values(SQLBind(tokenHash), SQLBind(userId), SQLBind(createdAt.epochMilliseconds), SQLBind(expiresAt.epochMilliseconds))
            .run()
    }

    /// The active user of an unexpired session, or `nil`.
    public func sessionUser(tokenHash: String, at now: Date) async throws -> User? {
        try await session(tokenHash: tokenHash, at: now)?.user
    }

    /// The active user of an unexpired session and when the session expires (epoch milliseconds), or `nil`.
    public func session(tokenHash: String, at now: Date) async throws -> (user: User, expiresAt: Int64)? {
        let row = try await db.select().columns("user_id", "expires_at").from("sessions")
            .where("token_hash", .equal, SQLBind(tokenHash)).first()
        guard let row else { return nil }
        let reader = RowReader(row, table: "sessions")
        let expiresAt = try reader.int64("expires_at")
        guard expiresAt > now.epochMilliseconds else { return nil }
        guard let user = try await user(id: try reader.string("user_id")), user.status == .active else { return nil }
        return (user, expiresAt)
    }

    public func deleteSession(tokenHash: String) async throws {
        try await db.delete(from: "sessions").where("token_hash", .equal, SQLBind(tokenHash)).run()
    }

    /// Removes sessions that expired before `now`.
    public func purgeExpiredSessions(at now: Date) async throws {
        try await db.delete(from: "sessions").where("expires_at", .lessThanOrEqual, SQLBind(now.epochMilliseconds)).run()
    }

    // MARK: Machine credentials

    /// Stores a device or integration credential (by token hash); these never authenticate people.
    public func insertMachineCredential(
        id: String, companyId: String, communityId: String?, kind: String, subject: String,
        tokenHash: String, createdAt: Date
    ) async throws {
        try await db.insert(into: "machine_credentials")
            .columns("id", "company_id", "community_id", "kind", "subject", "token_hash", "created_at")
            .values(
                SQLBind(id), SQLBind(companyId), sqlValue(communityId), SQLBind(kind), SQLBind(subject),
                SQLBind(tokenHash), SQLBind(createdAt.epochMilliseconds)
            )
            .run()
    }

    /// Revokes a subject's machine credentials, all of them or all but the newest; returns the revoked token hashes.
    public func revokeMachineCredentials(companyId: String, subject: String, keepNewest: Bool, at now: Date) async throws -> [String] {
        let rows = try await db.select().columns("id", "token_hash").from("machine_credentials")
            .where("company_id", .equal, SQLBind(companyId)).where("subject", .equal, SQLBind(subject))
            .where(SQLColumn("revoked_at"), .is, SQLLiteral.null).orderBy("created_at", .descending).orderBy("id", .descending).all()
        var revoked: [String] = []
        for (offset, row) in rows.enumerated() where !(keepNewest && offset == 0) {
            let id = try row.decode(column: "id", as: String.self)
            try await db.update("machine_credentials").set("revoked_at", to: SQLBind(now.epochMilliseconds))
                .where("id", .equal, SQLBind(id)).where("company_id", .equal, SQLBind(companyId)).run()
            revoked.append(try row.decode(column: "token_hash", as: String.self))
        }
        return revoked
    }

    /// The company and subject of an unrevoked machine credential.
    public func machineCredential(tokenHash: String) async throws -> (companyId: String, kind: String, subject: String)? {
        guard
            let row = try await db.select().columns("company_id", "kind", "subject", "revoked_at").from("machine_credentials")
                .where("token_hash", .equal, SQLBind(tokenHash)).first()
        else { return nil }
        let reader = RowReader(row, table: "machine_credentials")
        guard try reader.optionalInt64("revoked_at") == nil else { return nil }
        return (try reader.string("company_id"), try reader.string("kind"), try reader.string("subject"))
    }
}
