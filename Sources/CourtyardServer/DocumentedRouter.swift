import CourtyardDomain
import Foundation
import FoundationEssentials
import Hummingbird

/// Registers routes on a Hummingbird router and records each in the ``OpenAPIDocument`` at the same time.
///
/// It is the only way Courtyard adds API routes, which is what keeps
/// `/openapi.json` complete.
final class DocumentedRouter {
    let router: Router<CourtyardRequestContext>
    private(set) var document = OpenAPIDocument()

    init(router: Router<CourtyardRequestContext>) {
        self.router = router
    }

    /// Adds a schema to the document, inferred from an example value.
    func schema<T: Encodable>(
        _ name: String, example: T, required: [String]? = nil, items: [String: OpenAPIDocument.ItemType] = [:], freeForm: Set<String> = []
    ) {
        document.addSchema(name, example: example, required: required, items: items, freeForm: freeForm)
    }

    /// Documents a route that is registered separately (the document's own route, which must exist before it can be served).
    func document(_ method: HTTPRequest.Method, _ path: String, summary: String, tag: String) {
        document.add(
            .init(
                method: method, path: OpenAPIDocument.openAPIPath(path), summary: summary, tag: tag,
                permission: nil, requestSchema: nil, responseSchema: nil, successStatus: 200, queryParameters: [], html: false))
    }

    /// Adds `handler` for `method path` and documents it.
    func on(
        _ method: HTTPRequest.Method, _ path: String, summary: String, tag: String, permission: Permission? = nil,
        request: String? = nil, response: String? = nil, status: Int = 200, also otherStatuses: [Int: String] = [:],
        query: [String] = [], html: Bool = false,
        handler: @escaping @Sendable (Request, CourtyardRequestContext) async throws -> Response
    ) {
        // Every query parameter must be one this route documents: an unknown filter (`?number=201` where only
        // `building_id` is known) is refused by name instead of silently ignored.
        let known = Set(query)
        // JSON bodies are checked once, the same way on every route (``JSONShape``), except where a signature covers the
        // raw bytes (signed webhooks and payment notifications verify exactly what was sent).
        let checksBody = request != nil && !path.contains("/ingest/") && !path.contains("/notify/")
        router.on(RouterPath(path), method: method) { request, context in
            var request = request
            if checksBody { try await Self.checkJSONBody(&request, context: context) }
            for (name, value) in request.uri.queryParameters {
                guard known.contains(String(name)) else {
                    let accepted = known.isEmpty ? "this route takes no query parameters" : "known: " + known.sorted().joined(separator: ", ")
                    throw Problem.invalid(String(name), code: "unknown_parameter", "\(name) is not a parameter of this route (\(accepted))")
                }
                if let bad = InputText.controlCharacter(in: value) {
                    throw Problem.invalid(String(name), code: "control_character", "\(name) contains the control character \(bad)")
                }
            }
            // Path parameters too: no id, code or token contains a NUL or another control character.
            if let bad = InputText.controlCharacter(in: request.uri.path.removingPercentEncoding ?? request.uri.path) {
                throw Problem(.badRequest, code: "control_character", title: "The path contains a control character", detail: bad)
            }
            return try await handler(request, context)
        }
        document.add(
            .init(
                method: method, path: OpenAPIDocument.openAPIPath(path), summary: summary, tag: tag,
                permission: permission, requestSchema: request, responseSchema: response,
                successStatus: status, queryParameters: query, html: html, otherStatuses: otherStatuses))
    }
}

extension DocumentedRouter {
    /// Refuses a body that is not JSON by its type or its shape, and hands the handler the checked bytes.
    static func checkJSONBody(_ request: inout Request, context: CourtyardRequestContext) async throws {
        if let type = request.headers[.contentType]?.lowercased(),
            !(type.hasPrefix("application/json") || (type.hasPrefix("application/") && type.contains("+json")))
        {
            throw Problem(
                .unsupportedMediaType, code: "unsupported_media_type", title: "Send JSON",
                detail: "this route takes Content-Type: application/json, not \(type.prefix(60))")
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: 8 * 1024 * 1024)
        } catch {
            throw Problem(.contentTooLarge, code: "body_too_large", title: "The request body is too large")
        }
        let bytes = Array(buffer.readableBytesView)
        if bytes.isEmpty { throw Problem.malformedJSON("the request body is empty") }
        do {
            let checked = try JSONShape.check(bytes)
            request.body = .init(buffer: ByteBuffer(bytes: checked))
        } catch JSONShape.Failure.malformed(let detail) {
            throw Problem.malformedJSON(detail)
        } catch JSONShape.Failure.controlCharacter(let character) {
            throw Problem(
                .unprocessableContent, code: "control_character", title: "The body contains a control character",
                detail: "\(character) is not allowed in any value")
        }
    }
}

extension Response {
    /// A JSON response with the API's encoding.
    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok, location: String? = nil) throws -> Response {
        let data = try APICoding.encoder.encode(value)
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        if let location { headers[.location] = location }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// One page of a list, with the cursor to ask for the next. Every list the API answers is one (a list that is never
/// paged simply has no cursor).
struct Page<Item: Encodable & Sendable>: Encodable, Sendable {
    var items: [Item]
    /// Pass as `cursor` to get the next page; absent on the last page.
    var nextCursor: String?
}

extension Page: Decodable where Item: Decodable {}
