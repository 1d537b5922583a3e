import HTTPTypes
import Hummingbird
import Logging

/// Puts the security headers on every response, problems included; the outermost middleware.
///
/// - `X-Content-Type-Options: nosniff`: a browser never guesses a JSON body is HTML.
/// - `X-Frame-Options: DENY` and `Content-Security-Policy: frame-ancestors 'none'`: no page of Courtyard (receipts
///   included) can be framed by another site to trick a click.
/// - `Referrer-Policy: no-referrer`: a receipt's link (its token is the secret) never leaks in a Referer header.
/// - `Cache-Control: no-store` on authenticated requests and on receipts: a shared computer or proxy keeps no copy of
///   a bill, a payment or a receipt.
struct SecurityHeadersMiddleware: RouterMiddleware {
    typealias Context = CourtyardRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        if response.headers[.contentSecurityPolicy] == nil {
            response.headers[.contentSecurityPolicy] = "frame-ancestors 'none'"
        }
        response.headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        if request.headers[.authorization] != nil || Self.isReceipt(request.uri.path) {
            response.headers[.cacheControl] = "no-store"
        }
        return response
    }

    static func isReceipt(_ path: String) -> Bool {
        path.hasPrefix("/r/") || path.hasSuffix("/receipt") || path.hasSuffix("/voucher")
    }
}

/// Logs one line per request with its route pattern, never its raw path or query: receipt tokens (`/r/{token}`) and
/// anything secret a client puts in a query string stay out of the logs.
struct RequestLogMiddleware: RouterMiddleware {
    typealias Context = CourtyardRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        try await RequestObservation.observe(request, context: context, next: next) { route, status, elapsed in
            let milliseconds = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
            context.logger.info(
                "request",
                metadata: [
                    "method": .string(request.method.rawValue), "route": .string(route), "status": .stringConvertible(status),
                    "ms": .stringConvertible(milliseconds),
                ])
        }
    }
}

/// Runs a request and reports its route pattern, final status (a thrown error counts as the problem it becomes) and
/// time: what the request log and the request metrics both record.
enum RequestObservation {
    static func observe(
        _ request: Request, context: CourtyardRequestContext,
        next: (Request, CourtyardRequestContext) async throws -> Response,
        report: (_ route: String, _ status: Int, _ elapsed: Duration) -> Void
    ) async throws -> Response {
        let start = ContinuousClock.now
        var status = 500
        defer { report(context.endpointPath.map(OpenAPIDocument.openAPIPath) ?? "unmatched", status, ContinuousClock.now - start) }
        do {
            let response = try await next(request, context)
            status = Int(response.status.code)
            return response
        } catch {
            status = Int(ProblemMiddleware.problem(for: error, context: context).status.code)
            throw error
        }
    }
}
