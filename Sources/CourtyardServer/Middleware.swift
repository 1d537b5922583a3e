import CourtyardDomain
import CourtyardIngest
import CourtyardStorage
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Prometheus
import Synchronization

/// Turns every error into RFC 9457 problem JSON; the outermost middleware.
///
/// Known errors (``Problem``, ``StorageError``, Hummingbird's HTTP errors)
/// keep their status and get a stable code; anything else is logged with the
/// request id and answered with a bare 500 that reveals nothing.
struct ProblemMiddleware: RouterMiddleware {
    typealias Context = CourtyardRequestContext
    /// The documented routes, to answer 405 (with `Allow`) instead of 404 for a known path with another method.
    var known = KnownRoutes()

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            var problem = Self.problem(for: error, context: context)
            if problem.code == "route_not_found" {
                let allowed = known.methods(for: request.uri.path)
                if !allowed.isEmpty {
                    problem = Problem(
                        .methodNotAllowed, code: "method_not_allowed", title: "Method not allowed on this route",
                        detail: "\(request.method.rawValue) is not served here; allowed: \(allowed.joined(separator: ", "))")
                    var response = problem.response(instance: request.uri.path, requestId: context.id)
                    response.headers[.allow] = allowed.joined(separator: ", ")
                    return response
                }
            }
            if problem.status.code >= 500 {
                context.logger.error("request failed", metadata: ["error": "\(String(reflecting: error))"])
            }
            return problem.response(instance: request.uri.path, requestId: context.id)
        }
    }

    static func problem(for error: any Error, context: Context) -> Problem {
        switch error {
        case let problem as Problem:
            return problem
        case let error as StorageError:
            return Problem.from(error) ?? Problem(.internalServerError, code: "internal_error", title: "Something went wrong on our side")
        case let error as HTTPError:
            switch error.status {
            case .notFound:
                return Problem(.notFound, code: "route_not_found", title: "No such route")
            case .contentTooLarge:
                return Problem(.contentTooLarge, code: "body_too_large", title: "The request body is too large")
            case .methodNotAllowed:
                return Problem(.methodNotAllowed, code: "method_not_allowed", title: "Method not allowed on this route")
            default:
                return Problem(
                    error.status, code: "http_\(error.status.code)", title: error.status.reasonPhrase,
                    detail: error.body)
            }
        case let error as ReviewError:
            switch error {
            case .notFound: return Problem(.notFound, code: "not_found", title: "No such held reading")
            case .alreadyDecided(let status):
                return Problem(.conflict, code: "already_decided", title: "This held reading was already decided", detail: "it is \(status)")
            case .stillNegative(let detail):
                return Problem(
                    .unprocessableContent, code: "still_implausible", title: "Approving would still leave the register inconsistent",
                    detail: "\(detail); record a meter replacement or approve with a corrected reading",
                    errors: [FieldIssue(field: "reading", code: "still_implausible", message: detail)])
            }
        case let error as any HTTPResponseError:
            return Problem(error.status, code: "http_\(error.status.code)", title: error.status.reasonPhrase)
        default:
            return Problem(.internalServerError, code: "internal_error", title: "Something went wrong on our side")
        }
    }
}

/// Resolves `Authorization: Bearer <token>` into a ``Principal`` and adds tenant metadata to the request's logger.
///
/// A request without a token continues unauthenticated (routes that need a
/// principal answer 401); a request with a bad or expired token is refused
/// here.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = CourtyardRequestContext
    let services: ServerServices

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else {
            // The pages' session cookie, never for the API (which stays bearer-only; see WebSession). A cookie that is
            // not a live session is ignored here: the page asks the person to sign in again.
            if !request.uri.path.hasPrefix("/api/"), let token = WebSession.cookie(WebSession.cookie, in: request) {
                let tokenHash = SessionTokens.hash(token)
                let (user, _) = try await lookup(tokenHash)
                if let user, let context = try await signedIn(user, tokenHash: tokenHash, request: request, context: context) {
                    var context = context
                    context.sessionToken = token
                    return try await next(request, context)
                }
            }
            return try await next(request, context)
        }
        // The scheme name is case-insensitive (RFC 7235 §2.1): "bearer" and "BEARER" are the same scheme.
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { throw Problem.unauthenticated }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        guard !token.isEmpty, token.utf8.count <= 512 else { throw Problem.unauthenticated }
        let tokenHash = SessionTokens.hash(token)
        let (user, machine) = try await lookup(tokenHash)
        guard let user else {
            // Not a session: a device's own credential may report readings and nothing else.
            if let machine, machine.kind == "device" {
                var context = context
                context.device = DevicePrincipal(companyId: machine.companyId, deviceId: machine.subject)
                context.logger[metadataKey: "tenant"] = .string(machine.companyId)
                context.logger[metadataKey: "device"] = .string(machine.subject)
                return try await next(request, context)
            }
            throw Problem(
                .unauthorized, code: "invalid_token", title: "The token is unknown or has expired",
                detail: "sign in again with POST /api/v1/auth/login")
        }
        guard let context = try await signedIn(user, tokenHash: tokenHash, request: request, context: context) else {
            throw Problem(.notFound, code: "unknown_company", title: "No such company")
        }
        return try await next(request, context)
    }

    /// The user or machine credential of a token's hash: from the session cache, else the database (then cached).
    func lookup(_ tokenHash: String) async throws -> (User?, (companyId: String, kind: String, subject: String)?) {
        let now = services.clock.now()
        let cached = services.sessions.lookup(tokenHash, now: now.epochMilliseconds)
        var user = cached?.user
        var machine = cached?.machine
        if cached == nil {
            var expiresAt = Int64.max
            (user, machine, expiresAt) = try await services.database.read { db in
                let store = AccountStore(db)
                if let session = try await store.session(tokenHash: tokenHash, at: now) { return (session.user, nil, session.expiresAt) }
                return (nil, try await store.machineCredential(tokenHash: tokenHash), Int64.max)
            }
            if user != nil || machine != nil {
                services.sessions.store(tokenHash, user: user, machine: machine, now: now.epochMilliseconds, expiresAt: expiresAt)
            }
        }
        return (user, machine)
    }

    /// The context with `user` signed in, or nil when a platform administrator names a company that does not exist.
    func signedIn(_ user: User, tokenHash: String, request: Request, context: Context) async throws -> Context? {
        var scope: TenantScope? = nil
        if let companyId = user.companyId {
            scope = TenantScope(companyId: companyId, communityIds: user.communityIds)
        } else if user.role == .platformAdmin, let companyId = request.headers[HTTPField.Name("X-Courtyard-Company")!] {
            guard try await services.database.read({ db in try await AccountStore(db).company(id: companyId) }) != nil else {
                return nil
            }
            scope = TenantScope(companyId: companyId)
        }
        var context = context
        context.principal = Principal(user: user, scope: scope)
        context.sessionTokenHash = tokenHash
        context.logger[metadataKey: "user"] = .string(user.id)
        if let scope { context.logger[metadataKey: "tenant"] = .string(scope.companyId) }
        return context
    }
}

/// Bearer tokens for sessions and machine credentials: random, shown once, stored only as SHA-256.
public enum SessionTokens {
    /// A new 256-bit token, base64url without padding.
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// The stored form of a token.
    public static func hash(_ token: String) -> String {
        // Every authenticated request hashes its token: hex by table, not by String(format:) per byte.
        let digits = Array("0123456789abcdef".utf8)
        var hex: [UInt8] = []
        hex.reserveCapacity(64)
        for byte in SHA256.hash(data: Data(token.utf8)) {
            hex.append(digits[Int(byte >> 4)])
            hex.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: hex, as: UTF8.self)
    }
}

/// Counts requests and observes their latency per route, method and status into the Prometheus registry.
///
/// Labels use the route pattern (`/api/v1/houses/{id}`), never the raw path,
/// so ids do not explode the number of series.
struct RequestMetricsMiddleware: RouterMiddleware {
    typealias Context = CourtyardRequestContext
    let registry: PrometheusCollectorRegistry

    static let buckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        try await RequestObservation.observe(request, context: context, next: next) { route, status, elapsed in
            let labels = [("route", route), ("method", request.method.rawValue), ("status", String(status))]
            registry.makeCounter(name: "courtyard_http_requests_total", labels: labels).increment()
            registry.makeDurationHistogram(
                name: "courtyard_http_request_duration_seconds",
                labels: [("route", route), ("method", request.method.rawValue)],
                buckets: Self.buckets.map { Duration.microseconds(Int64($0 * 1_000_000)) }
            )
            .record(elapsed)
        }
    }
}

/// The documented routes as (method, OpenAPI path), filled once the router is built; read by ``ProblemMiddleware``.
final class KnownRoutes: Sendable {
    private let routes = Mutex<[(method: String, segments: [Substring])]>([])

    func set(_ list: [(method: String, path: String)]) {
        routes.withLock { $0 = list.map { ($0.method, $0.path.split(separator: "/")) } }
    }

    /// The methods served at `path` (`{param}` segments match anything), sorted.
    func methods(for path: String) -> [String] {
        let segments = path.split(separator: "/")
        return routes.withLock { routes in
            Set(
                routes.filter { route in
                    route.segments.count == segments.count
                        && zip(route.segments, segments).allSatisfy { pattern, segment in pattern.hasPrefix("{") || pattern == segment }
                }.map(\.method)
            ).sorted()
        }
    }
}
