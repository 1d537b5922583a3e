import CourtyardDomain
import CourtyardStorage
import Foundation
import Hummingbird
import Logging

/// Changing and resetting passwords, disabling users and ending their sessions.
///
/// Every change that takes access away ends the sessions it should at once (in the database and in this node's token
/// cache), so a disabled user or a reset password stops working on the next request, not when a session expires.
extension AccountRoutes {
    struct PasswordChange: Codable, Sendable {
        var currentPassword: String
        var newPassword: String
    }

    struct PasswordReset: Codable, Sendable {
        var newPassword: String
    }

    struct SessionsEnded: Codable, Sendable {
        var ended: Int
    }

    static func registerAccountManagement(on api: DocumentedRouter, services: ServerServices) {
        api.schema(
            "PasswordChange", example: PasswordChange(currentPassword: "old-secret-phrase", newPassword: "new-secret-phrase"),
            required: ["current_password", "new_password"])
        api.schema("PasswordReset", example: PasswordReset(newPassword: "temporary-phrase-2026"), required: ["new_password"])
        api.schema("SessionsEnded", example: SessionsEnded(ended: 2))

        api.on(
            .post, "/api/v1/me/password", summary: "Change your own password; your other sessions end", tag: "Auth",
            request: "PasswordChange", response: "SessionsEnded"
        ) { request, context in
            let principal = try context.requirePrincipal()
            let input = try await ResourceRoutes.decodeBody(PasswordChange.self, request, context)
            let stored = try await services.database.read { db in try await AccountStore(db).passwordHash(userId: principal.user.id) }
            guard let stored, try await Passwords.verify(input.currentPassword, hash: stored) else {
                throw Problem.invalid("current_password", code: "wrong_password", "the current password is wrong")
            }
            if let weakness = Passwords.weakness(input.newPassword, login: principal.user.login) {
                throw Problem.invalid("new_password", code: "weak_password", weakness)
            }
            let hash = try await Passwords.hash(input.newPassword, cost: services.configuration.bcryptCost)
            let now = services.clock.now()
            let ended = try await services.database.transaction { db in
                let accounts = AccountStore(db)
                try await accounts.setPassword(userId: principal.user.id, hash: hash, at: now)
                return try await accounts.endSessions(userId: principal.user.id, keeping: context.sessionTokenHash)
            }
            for token in ended { services.sessions.remove(token) }
            context.logger.info(
                "password changed", metadata: ["user": .string(principal.user.id), "sessions_ended": .stringConvertible(ended.count)])
            return try .json(SessionsEnded(ended: ended.count))
        }

        api.on(
            .post, "/api/v1/users/:id/password", summary: "Reset a user's password (an administrator); all their sessions end",
            tag: "Users", permission: .manageUsers, request: "PasswordReset", response: "SessionsEnded"
        ) { request, context in
            let (user, _) = try await managedUser(context, services: services)
            let input = try await ResourceRoutes.decodeBody(PasswordReset.self, request, context)
            if let weakness = Passwords.weakness(input.newPassword, login: user.login) {
                throw Problem.invalid("new_password", code: "weak_password", weakness)
            }
            let hash = try await Passwords.hash(input.newPassword, cost: services.configuration.bcryptCost)
            let now = services.clock.now()
            let ended = try await services.database.transaction { db in
                let accounts = AccountStore(db)
                try await accounts.setPassword(userId: user.id, hash: hash, at: now)
                return try await accounts.endSessions(userId: user.id)
            }
            for token in ended { services.sessions.remove(token) }
            context.logger.info("password reset", metadata: ["subject": .string(user.id)])
            return try .json(SessionsEnded(ended: ended.count))
        }

        for (verb, status) in [("disable", User.Status.disabled), ("enable", User.Status.active)] {
            api.on(
                .post, "/api/v1/users/:id/\(verb)",
                summary: verb == "disable" ? "Disable a user: they cannot sign in and their sessions end" : "Enable a disabled user again",
                tag: "Users", permission: .manageUsers, response: "User"
            ) { _, context in
                let (user, principal) = try await managedUser(context, services: services)
                if status == .disabled, user.id == principal.user.id {
                    throw Problem(
                        .conflict, code: "cannot_disable_self", title: "You cannot disable your own account",
                        detail: "ask another administrator")
                }
                let now = services.clock.now()
                let ended = try await services.database.transaction { db in
                    let accounts = AccountStore(db)
                    try await accounts.setStatus(userId: user.id, status, at: now)
                    return status == .disabled ? try await accounts.endSessions(userId: user.id) : []
                }
                for token in ended { services.sessions.remove(token) }
                var changed = user
                changed.status = status
                changed.updatedAt = now
                context.logger.info("user \(verb)d", metadata: ["subject": .string(user.id)])
                return try .json(changed)
            }
        }

        api.on(
            .post, "/api/v1/users/:id/sessions/end", summary: "End every session of a user (a lost phone, a shared computer)",
            tag: "Users", permission: .manageUsers, response: "SessionsEnded"
        ) { _, context in
            let (user, _) = try await managedUser(context, services: services)
            let ended = try await services.database.transaction { db in try await AccountStore(db).endSessions(userId: user.id) }
            for token in ended { services.sessions.remove(token) }
            return try .json(SessionsEnded(ended: ended.count))
        }
    }

    /// The user named by `:id`, if the caller may manage users and the user is in the caller's company (else 404).
    static func managedUser(_ context: CourtyardRequestContext, services: ServerServices) async throws -> (User, Principal) {
        let scope = try context.scope(for: .manageUsers)
        let principal = try context.requirePrincipal()
        let id = try context.parameters.require("id")
        guard let user = try await services.database.read({ db in try await AccountStore(db).user(id: id) }),
            user.companyId == scope.companyId
        else { throw Problem.notFound("user") }
        return (user, principal)
    }
}
