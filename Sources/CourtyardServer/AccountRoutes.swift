import CourtyardDomain
import CourtyardStorage
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// Sign-in, sign-out, the caller's own view, companies (platform) and staff/owner users (company admins).
enum AccountRoutes {
    struct LoginInput: Codable, Sendable {
        var login: String
        var password: String
    }

    struct LoginResult: Codable, Sendable {
        var token: String
        var tokenType: String
        var expiresAt: Date
        var user: User
    }

    struct Me: Codable, Sendable {
        var user: User
        var permissions: [Permission]
    }

    struct NewUser: Codable, Sendable {
        var login: String
        var password: String
        var displayName: String
        var role: Role
        var personId: String?
        var communityIds: [String]?
    }

    struct NewCompany: Codable, Sendable {
        var code: String
        var name: String
        var currency: Currency?
        var admin: NewUser
    }

    typealias CompanyList = Page<Company>
    typealias UserList = Page<User>
    typealias HouseList = Page<House>

    struct MachineCredential: Codable, Sendable {
        /// Shown once; only its hash is stored.
        var token: String
        var kind: String
        var subject: String
    }

    static func register(on api: DocumentedRouter, services: ServerServices) {
        let exampleUser = User(
            id: Example.person, companyId: Example.company, login: "finance@ljy", displayName: "财务 王芳",
            role: .finance, personId: nil, communityIds: nil, status: .active,
            createdAt: Example.date, updatedAt: Example.date)
        api.schema("LoginInput", example: LoginInput(login: "admin@demo", password: "••••••••"), required: ["login", "password"])
        api.schema("LoginResult", example: LoginResult(token: "…", tokenType: "Bearer", expiresAt: Example.date, user: exampleUser))
        api.schema("Me", example: Me(user: exampleUser, permissions: Array(Role.finance.permissions).sorted { $0.rawValue < $1.rawValue }))
        let exampleNewUser = NewUser(
            login: "engineer@ljy", password: "••••••••", displayName: "工程 李强", role: .engineer,
            personId: nil, communityIds: [Example.community])
        api.schema("NewUser", example: exampleNewUser, required: ["login", "password", "display_name", "role"])
        api.schema("User", example: exampleUser)
        api.schema("UserList", example: UserList(items: [exampleUser]))
        let exampleCompany = Company(
            id: Example.company, code: "greenview", name: "绿景物业", currency: .cny,
            createdAt: Example.date, updatedAt: Example.date)
        api.schema(
            "NewCompany", example: NewCompany(code: "greenview", name: "绿景物业", currency: .cny, admin: exampleNewUser),
            required: ["code", "name", "admin"])
        api.schema("Company", example: exampleCompany)
        api.schema("CompanyList", example: CompanyList(items: [exampleCompany]))
        api.schema("HouseList", example: HouseList(items: [House.example]))
        api.schema("MachineCredential", example: MachineCredential(token: "…", kind: "device", subject: Example.device))

        api.on(
            .post, "/api/v1/auth/login", summary: "Sign in with login and password; returns a bearer token",
            tag: "Auth", request: "LoginInput", response: "LoginResult"
        ) { request, context in
            let input = try await ResourceRoutes.decodeBody(LoginInput.self, request, context)
            return try await login(input, request: request, context: context, services: services)
        }

        api.on(.post, "/api/v1/auth/logout", summary: "End the current session", tag: "Auth", status: 204) { request, context in
            _ = try context.requirePrincipal()
            if let hash = context.sessionTokenHash {
                try await services.database.transaction { db in try await AccountStore(db).deleteSession(tokenHash: hash) }
                services.sessions.remove(hash)
            }
            return Response(status: .noContent)
        }

        registerAccountManagement(on: api, services: services)

        api.on(.get, "/api/v1/me", summary: "The signed-in user and their permissions", tag: "Auth", response: "Me") { _, context in
            let principal = try context.requirePrincipal()
            return try .json(Me(user: principal.user, permissions: principal.role.permissions.sorted { $0.rawValue < $1.rawValue }))
        }

        api.on(
            .get, "/api/v1/me/houses", summary: "Houses the signed-in owner currently holds or lives in", tag: "Owner",
            permission: .readOwnHouses, response: "HouseList"
        ) { _, context in
            let principal = try context.require(.readOwnHouses)
            guard let scope = principal.scope, let personId = principal.user.personId else { return try .json(HouseList(items: [])) }
            _ = (scope, personId)
            let houses = try await OwnerAccess.currentHouses(principal, services: services)
            return try .json(HouseList(items: houses))
        }

        api.on(
            .get, "/api/v1/companies", summary: "List companies (platform administrators)", tag: "Companies",
            permission: .manageCompanies, response: "CompanyList"
        ) { _, context in
            _ = try context.require(.manageCompanies)
            let companies = try await services.database.read { db in try await AccountStore(db).companies() }
            return try .json(CompanyList(items: companies))
        }

        api.on(
            .post, "/api/v1/companies", summary: "Create a company with its first company administrator",
            tag: "Companies", permission: .manageCompanies, request: "NewCompany", response: "Company", status: 201
        ) { request, context in
            _ = try context.require(.manageCompanies)
            let input = try await ResourceRoutes.decodeBody(NewCompany.self, request, context)
            var check = Validator()
            check.text(input.code, "code", maxLength: 32)
            check.text(input.name, "name")
            check.check(input.admin.role == .companyAdmin, "admin.role", "invalid_value", "the first user must be a company_admin")
            try check.finish()
            let now = services.clock.now()
            let company = Company(
                id: Identifier.uuidV7(at: now), code: input.code, name: input.name,
                currency: input.currency ?? .cny, createdAt: now, updatedAt: now)
            let (admin, hash) = try await prepareUser(input.admin, companyId: company.id, field: "admin.", now: now, services: services)
            try await services.database.transaction { db in
                let accounts = AccountStore(db)
                try await accounts.insert(company)
                try await accounts.insert(admin, passwordHash: hash)
            }
            return try .json(company, status: .created, location: "/api/v1/companies/\(company.id)")
        }

        api.on(
            .get, "/api/v1/users", summary: "List the company's users", tag: "Users", permission: .readUsers,
            response: "UserList"
        ) { _, context in
            let scope = try context.scope(for: .readUsers)
            let users = try await services.database.read { db in try await AccountStore(db).users(companyId: scope.companyId) }
            return try .json(UserList(items: users))
        }

        api.on(
            .post, "/api/v1/users", summary: "Create a staff user or an owner account", tag: "Users",
            permission: .manageUsers, request: "NewUser", response: "User", status: 201
        ) { request, context in
            let scope = try context.scope(for: .manageUsers)
            let input = try await ResourceRoutes.decodeBody(NewUser.self, request, context)
            let now = services.clock.now()
            let (user, hash) = try await prepareUser(input, companyId: scope.companyId, field: "", now: now, services: services)
            try await services.database.transaction { db in
                let store = ScopedStore(db, scope: scope)
                for community in user.communityIds ?? [] {
                    _ = try await store.reference(Community.self, id: community, field: "community_ids")
                }
                if let personId = user.personId {
                    _ = try await store.reference(Person.self, id: personId, field: "person_id")
                }
                try await AccountStore(db).insert(user, passwordHash: hash)
            }
            return try .json(user, status: .created)
        }

        api.on(
            .post, "/api/v1/devices/:id/credentials",
            summary: "Issue a device credential (a token for the device's own uplinks, separate from people's logins)",
            tag: "Device", permission: .manageDevices, response: "MachineCredential", status: 201
        ) { _, context in
            let scope = try context.scope(for: .manageDevices)
            let id = try context.parameters.require("id")
            let token = SessionTokens.generate()
            let now = services.clock.now()
            try await services.database.transaction { db in
                let device = try await ScopedStore(db, scope: scope).get(Device.self, id: id)
                try await AccountStore(db).insertMachineCredential(
                    id: Identifier.uuidV7(at: now), companyId: scope.companyId, communityId: device.communityId, kind: "device",
                    subject: device.id, tokenHash: SessionTokens.hash(token), createdAt: now)
            }
            return try .json(MachineCredential(token: token, kind: "device", subject: id), status: .created)
        }

        api.schema("RevokedCredentials", example: ["revoked": 1])
        api.on(
            .post, "/api/v1/devices/:id/credentials/revoke",
            summary: "Revoke the device's tokens: all, or all but the newest (`?keep_newest=true`, the end of a rotation)",
            tag: "Device", permission: .manageDevices, response: "RevokedCredentials", query: ["keep_newest"]
        ) { request, context in
            let scope = try context.scope(for: .manageDevices)
            let id = try context.parameters.require("id")
            let keepNewest = request.uri.queryParameters["keep_newest"] == "true"
            let now = services.clock.now()
            let revoked = try await services.database.transaction { db in
                _ = try await ScopedStore(db, scope: scope).get(Device.self, id: id)
                return try await AccountStore(db).revokeMachineCredentials(companyId: scope.companyId, subject: id, keepNewest: keepNewest, at: now)
            }
            for hash in revoked { services.sessions.remove(hash) }
            return try .json(["revoked": revoked.count])
        }
    }

    /// The client's address: the peer's, or, when the peer is a trusted proxy, the nearest `X-Forwarded-For` entry that
    /// is not itself a trusted proxy (read right to left, since a client can put anything at the left end).
    static func clientAddress(_ request: Request, context: CourtyardRequestContext, trustedProxies: Set<String>) -> String? {
        guard let peer = context.remoteAddress, trustedProxies.contains(peer),
            let forwarded = request.headers[values: HTTPField.Name("X-Forwarded-For")!].last
        else { return context.remoteAddress }
        let hops = forwarded.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return hops.reversed().first { !trustedProxies.contains($0) } ?? hops.first ?? peer
    }

    /// What a sign-in attempt came to.
    enum SignIn {
        case signedIn(token: String, expiresAt: Date, user: User)
        /// Too many failures: try again in this many seconds.
        case wait(seconds: Int64)
    }

    /// Signs in with a login and password (the API's and the pages' one use case): rate-limited, timed the same for
    /// unknown logins, and a new session on success. A wrong password throws `invalid_credentials`.
    static func signIn(
        login: String, password: String, request: Request, context: CourtyardRequestContext, services: ServerServices
    ) async throws -> SignIn {
        let now = services.clock.now()
        let nowMillis = now.epochMilliseconds
        let address = clientAddress(request, context: context, trustedProxies: services.configuration.trustedProxies)
        if let wait = await services.loginLimiter.retryAfter(login: login, address: address, now: nowMillis) {
            return .wait(seconds: max(1, (wait + 999) / 1000))
        }
        let found = try await services.database.read { db in try await AccountStore(db).userWithPasswordHash(login: login) }
        // Verify against a decoy of the configured cost when the login is unknown, so timing does not reveal which logins exist.
        let decoy = await Passwords.decoyHash(cost: services.configuration.bcryptCost)
        let valid = try await Passwords.verify(password, hash: found?.passwordHash ?? decoy)
        guard let found, valid, found.user.status == .active else {
            await services.loginLimiter.recordFailure(login: login, address: address, now: nowMillis)
            throw Problem(.unauthorized, code: "invalid_credentials", title: "Login or password is wrong")
        }
        await services.loginLimiter.recordSuccess(login: login, address: address, now: nowMillis)
        let token = SessionTokens.generate()
        let expiresAt = Date(epochMilliseconds: nowMillis + services.configuration.sessionLifetimeSeconds * 1000)
        try await services.database.transaction { db in
            let accounts = AccountStore(db)
            try await accounts.purgeExpiredSessions(at: now)
            try await accounts.insertSession(tokenHash: SessionTokens.hash(token), userId: found.user.id, createdAt: now, expiresAt: expiresAt)
        }
        context.logger.info("signed in", metadata: ["user": .string(found.user.id)])
        return .signedIn(token: token, expiresAt: expiresAt, user: found.user)
    }

    static func login(_ input: LoginInput, request: Request, context: CourtyardRequestContext, services: ServerServices) async throws -> Response {
        switch try await signIn(login: input.login, password: input.password, request: request, context: context, services: services) {
        case .wait(let seconds):
            var response = Problem(
                .tooManyRequests, code: "too_many_login_attempts", title: "Too many failed sign-ins",
                detail: "try again in \(seconds) seconds"
            ).response(instance: "/api/v1/auth/login", requestId: context.id)
            response.headers[.retryAfter] = String(seconds)
            return response
        case .signedIn(let token, let expiresAt, let user):
            return try .json(LoginResult(token: token, tokenType: "Bearer", expiresAt: expiresAt, user: user))
        }
    }

    /// Validates a new user and hashes the password (off the event loop).
    static func prepareUser(
        _ input: NewUser, companyId: String, field prefix: String, now: Date,
        services: ServerServices
    ) async throws -> (User, String) {
        var check = Validator()
        check.text(input.login, prefix + "login", maxLength: 64)
        check.text(input.displayName, prefix + "display_name", maxLength: 64)
        if let weakness = Passwords.weakness(input.password, login: input.login) {
            check.check(false, prefix + "password", "weak_password", weakness)
        }
        check.check(input.role != .platformAdmin, prefix + "role", "invalid_value", "platform_admin cannot be created through the API")
        check.check(input.role != .owner || input.personId != nil, prefix + "person_id", "required", "owner accounts need a person_id")
        try check.finish()
        let hash = try await Passwords.hash(input.password, cost: services.configuration.bcryptCost)
        let user = User(
            id: Identifier.uuidV7(at: now), companyId: companyId, login: input.login, displayName: input.displayName,
            role: input.role, personId: input.personId, communityIds: input.communityIds.map(Set.init),
            status: .active, createdAt: now, updatedAt: now)
        return (user, hash)
    }
}
