import Crypto
import Foundation
import HTTPTypes
import Hummingbird

/// The browser's side of a session: the same session token as the API's bearer token, carried in a cookie, and the
/// form token that proves a form was sent by one of our pages.
///
/// - The cookie (`cy_session`) is `HttpOnly` (no script reads it), `SameSite=Lax` (another site's form post does not
///   carry it), `Path=/`, and `Secure` when the public URL is HTTPS. It is accepted only for the pages, never for
///   `/api/`, so the API stays bearer-only and cannot be driven by a cross-site request.
/// - Every form carries `_csrf`, derived from the session token (SHA-256 of a label and the token): a page of ours knows
///   it, another site cannot, since it can neither read the cookie nor our pages. Before sign-in, the sign-in form is
///   bound the same way to a random `cy_pre` cookie (double submit), so nobody can sign a visitor into an account of
///   theirs.
enum WebSession {
    static let cookie = "cy_session"
    static let preCookie = "cy_pre"
    static let languageCookie = "lang"

    /// The value of cookie `name` in the request's `Cookie` headers.
    static func cookie(_ name: String, in request: Request) -> String? {
        for header in request.headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == name else { continue }
                let value = parts[1].trimmingCharacters(in: .whitespaces)
                return value.isEmpty || value.utf8.count > 512 ? nil : value
            }
        }
        return nil
    }

    /// A `Set-Cookie` value; `maxAge` 0 deletes the cookie.
    static func setCookie(_ name: String, _ value: String, maxAge: Int64?, secure: Bool, httpOnly: Bool = true) -> String {
        var text = "\(name)=\(value); Path=/; SameSite=Lax"
        if httpOnly { text += "; HttpOnly" }
        if secure { text += "; Secure" }
        if let maxAge { text += "; Max-Age=\(maxAge)" }
        return text
    }

    /// The form token of a session (or of a pre-session cookie).
    static func formToken(for secret: String) -> String {
        let digest = SHA256.hash(data: Data(("courtyard-form\u{0}" + secret).utf8))
        return digest.map { String(format: "%02x", $0) }.joined()
    }

    /// Whether `sent` is the form token of `secret`, compared in constant time.
    static func formTokenMatches(_ sent: String?, secret: String?) -> Bool {
        guard let sent, let secret else { return false }
        let expected = Array(formToken(for: secret).utf8)
        let given = Array(sent.utf8)
        guard expected.count == given.count else { return false }
        var difference: UInt8 = 0
        for index in expected.indices { difference |= expected[index] ^ given[index] }
        return difference == 0
    }

    /// Whether the cookie should be `Secure`: the server's public URL is HTTPS.
    static func secure(_ services: ServerServices) -> Bool {
        services.configuration.publicURL.lowercased().hasPrefix("https://")
    }
}

/// A submitted HTML form (`application/x-www-form-urlencoded`): at most 64 KiB, each field once, text only.
struct WebForm: Sendable {
    var fields: [String: String]

    subscript(name: String) -> String? { fields[name] }

    /// The trimmed value of a field, nil when it is missing or blank.
    func text(_ name: String) -> String? {
        guard let value = fields[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else { return nil }
        return value
    }

    /// The answer of a form's approve and reject buttons (`decision`).
    func approves() throws -> Bool {
        switch fields["decision"] {
        case "approve": return true
        case "reject": return false
        default: throw Problem.invalid("decision", code: "invalid_value", "approve or reject")
        }
    }

    /// A decision's required reason or note: at most 500 characters, kept with the decision.
    func reason(_ field: String) throws -> String {
        guard let text = text(field), text.count <= 500 else {
            throw Problem.invalid(field, code: "required", "say why in up to 500 characters (it is kept with the decision)")
        }
        return text
    }

    static let maximumBytes = 64 * 1024

    static func decode(_ request: Request, context: CourtyardRequestContext) async throws -> WebForm {
        let type = request.headers[.contentType]?.lowercased() ?? ""
        guard type.hasPrefix("application/x-www-form-urlencoded") else {
            throw Problem(.unsupportedMediaType, code: "unsupported_media_type", title: "Send the page's form")
        }
        let buffer = try await request.body.collect(upTo: maximumBytes)
        return try parse(String(buffer: buffer))
    }

    /// Parses `a=1&b=x+y`; a name given twice, or a control character other than a line break in a value, is refused.
    static func parse(_ body: String) throws -> WebForm {
        var fields: [String: String] = [:]
        for pair in body.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = decodeComponent(parts[0]) else { throw invalid("the form is not URL-encoded") }
            let value = parts.count > 1 ? decodeComponent(parts[1]) : ""
            guard let value else { throw invalid("the form is not URL-encoded") }
            guard fields[name] == nil else { throw invalid("\(name) is sent twice") }
            guard !value.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\n" && $0 != "\r" && $0 != "\t" || $0.value == 0x7f })
            else { throw invalid("\(name) holds a control character") }
            fields[name] = value
        }
        return WebForm(fields: fields)
    }

    static func decodeComponent(_ text: Substring) -> String? {
        String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }

    static func invalid(_ detail: String) -> Problem {
        Problem(.badRequest, code: "malformed_form", title: "The form could not be read", detail: detail)
    }
}
