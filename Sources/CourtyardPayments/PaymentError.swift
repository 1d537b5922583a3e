/// Why a payment request, callback or refund was refused. Nothing was written.
///
/// Each error carries a stable `code` (documented in docs/PAYMENTS.md) and the
/// field at fault when there is one; the HTTP layer renders it as a problem.
public struct PaymentError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Hashable, Sendable {
        /// The caller is not who it claims (unsigned or badly signed callback): 401.
        case unauthenticated
        /// The request is malformed (a callback body that cannot be read): 400.
        case malformed
        /// A value breaks a rule: 422.
        case invalid
        case notFound
        /// The request clashes with what was recorded (same key, other content; a state that does not allow it): 409.
        case conflict
        /// The caller may not do this (approval by the requester, void without a supervisor): 403.
        case forbidden
        /// A channel did not answer or refused: 502.
        case channelFailed
    }

    public var kind: Kind
    public var code: String
    public var field: String?
    public var message: String

    public init(_ kind: Kind, code: String, field: String? = nil, _ message: String) {
        self.kind = kind
        self.code = code
        self.field = field
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
