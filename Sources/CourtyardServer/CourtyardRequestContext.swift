import CourtyardDomain
import CourtyardStorage
import Hummingbird
import Logging

/// Who is calling, once ``AuthenticationMiddleware`` has checked the bearer token.
public struct Principal: Sendable {
    public var user: User
    /// The tenant data this caller may touch; `nil` for a platform admin who has not picked a company.
    public var scope: TenantScope?

    public var role: Role { user.role }
}

/// A device authenticated by its own token (issued by `POST /api/v1/devices/{id}/credentials`); it may only report readings.
public struct DevicePrincipal: Sendable {
    public var companyId: String
    public var deviceId: String
}

/// Per-request state: the core context plus the authenticated principal.
public struct CourtyardRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by ``AuthenticationMiddleware`` for authenticated requests.
    public var principal: Principal?
    /// Set instead of ``principal`` when the bearer token is a device credential.
    public var device: DevicePrincipal?
    /// The peer address, for login rate limiting.
    public var remoteAddress: String?
    /// The stored form of the session token this request came with (to end the other sessions, or this one).
    public var sessionTokenHash: String?
    /// The session token itself when it came in the pages' cookie: the pages derive their form token from it.
    public var sessionToken: String?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress?.ipAddress
    }

    public var requestDecoder: APIRequestDecoder { APIRequestDecoder() }
    public var responseEncoder: APIResponseEncoder { APIResponseEncoder() }

    /// The principal, or 401.
    public func requirePrincipal() throws(Problem) -> Principal {
        guard let principal else { throw Problem.unauthenticated }
        return principal
    }

    /// The principal if its role grants `permission`, else 401/403.
    public func require(_ permission: Permission) throws(Problem) -> Principal {
        let principal = try requirePrincipal()
        guard principal.role.allows(permission) else { throw Problem.forbidden(permission.rawValue) }
        return principal
    }

    /// The principal of a route for owners and staff: an owner (whose house the route then checks), or staff whose
    /// role grants `permission`; anyone else is refused here, before the route reads its body or looks anything up,
    /// so a refused caller learns nothing from a validation error or a 404.
    public func requireOwner(orStaff permission: Permission) throws(Problem) -> Principal {
        let principal = try requirePrincipal()
        guard principal.role == .owner || principal.role.allows(permission) else { throw Problem.forbidden(permission.rawValue) }
        return principal
    }

    /// The tenant scope for `permission`, or a problem saying why there is none.
    public func scope(for permission: Permission) throws(Problem) -> TenantScope {
        let principal = try require(permission)
        guard let scope = principal.scope else {
            throw Problem(
                .badRequest, code: "company_required", title: "Choose a company",
                detail: "platform administrators name the company with the X-Courtyard-Company header")
        }
        return scope
    }
}
