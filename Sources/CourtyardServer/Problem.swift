import CourtyardStorage
import Foundation
import Hummingbird

/// One offending field in a rejected request.
public struct FieldIssue: Codable, Sendable, Equatable {
    /// The field's JSON name (snake_case), dotted for nested fields: `built_area`, `items.3.plate`.
    public var field: String
    /// A stable machine code: `required`, `invalid_format`, `must_be_positive`, `unknown_reference`, …
    public var code: String
    /// A sentence for people.
    public var message: String

    public init(field: String, code: String, message: String) {
        self.field = field
        self.code = code
        self.message = message
    }
}

/// An RFC 9457 problem: every error Courtyard's API returns has this shape.
///
/// `code` is stable and documented; clients branch on it, not on `title`.
/// `errors` names the fields at fault. Anything that is not a `Problem` by
/// the time it reaches ``ProblemMiddleware`` becomes a bare 500 carrying the
/// request id, so internals never leak.
public struct Problem: Error, Sendable, Equatable {
    public var status: HTTPResponse.Status
    public var code: String
    public var title: String
    public var detail: String?
    public var errors: [FieldIssue]

    public init(_ status: HTTPResponse.Status, code: String, title: String, detail: String? = nil, errors: [FieldIssue] = []) {
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.errors = errors
    }

    /// The request body is not JSON at all.
    public static func malformedJSON(_ detail: String) -> Problem {
        Problem(.badRequest, code: "malformed_json", title: "The request body is not valid JSON", detail: detail)
    }

    /// One or more fields are missing or wrong.
    public static func validation(_ errors: [FieldIssue]) -> Problem {
        Problem(
            .unprocessableContent, code: "validation_failed", title: "Some fields are invalid",
            detail: errors.map { "\($0.field): \($0.message)" }.joined(separator: "; "), errors: errors)
    }

    /// One field is missing or wrong.
    public static func invalid(_ field: String, code: String, _ message: String) -> Problem {
        validation([FieldIssue(field: field, code: code, message: message)])
    }

    public static func notFound(_ what: String) -> Problem {
        Problem(.notFound, code: "not_found", title: "Not found", detail: "No \(what) with this id is visible to you")
    }

    public static let unauthenticated = Problem(
        .unauthorized, code: "unauthenticated", title: "Sign in first",
        detail: "Send Authorization: Bearer <token> from POST /api/v1/auth/login")

    public static func forbidden(_ permission: String) -> Problem {
        Problem(.forbidden, code: "forbidden", title: "Your role does not allow this", detail: "requires permission \(permission)")
    }

    /// The thing one row of `table` is, in words ("people" → "person", "communities" → "community",
    /// "parking_spaces" → "parking space"): one rule for every message that names a table.
    static func noun(_ table: String) -> String {
        let irregular = ["people": "person", "bill_lines": "bill line", "held_readings": "held reading"]
        if let word = irregular[table] { return word }
        var word = table
        if word.hasSuffix("ies") { word = String(word.dropLast(3)) + "y" } else if word.hasSuffix("s") { word = String(word.dropLast()) }
        return word.replacingOccurrences(of: "_", with: " ")
    }

    /// Maps storage errors to problems; `nil` for errors that are not the caller's fault.
    static func from(_ error: StorageError) -> Problem? {
        switch error {
        case .notFound(let table, _):
            return .notFound(noun(table))
        case .outOfScope:
            return Problem(.forbidden, code: "out_of_scope", title: "That company or community is not yours")
        case .alreadyExists:
            return Problem(.conflict, code: "already_exists", title: "A record with the same unique key already exists")
        case .referenceViolation:
            return Problem(
                .conflict, code: "reference_violation",
                title: "The record refers to a missing record, or is still referred to by others")
        case .checkViolation:
            return Problem(.unprocessableContent, code: "constraint_violation", title: "A value breaks a rule of the record")
        case .schemaTooNew, .migrationChanged, .invalidDatabaseLocation, .corruptRow, .noFastPath:
            return nil
        }
    }

    struct Body: Encodable {
        var type: String
        var title: String
        var status: Int
        var code: String
        var detail: String?
        var instance: String?
        var requestId: String?
        var errors: [FieldIssue]?
    }

    /// The `application/problem+json` response.
    func response(instance: String?, requestId: String?) -> Response {
        let body = Body(
            type: "https://courtyard.dev/problems/\(code)", title: title, status: Int(status.code), code: code,
            detail: detail, instance: instance, requestId: requestId, errors: errors.isEmpty ? nil : errors)
        let data = (try? APICoding.encoder.encode(body)) ?? Data("{}".utf8)
        var headers = HTTPFields()
        headers[.contentType] = "application/problem+json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
