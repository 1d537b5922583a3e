import CourtyardMeterProtocols
import Crypto
import Foundation

/// The signature IoT platforms put on webhook deliveries: HMAC-SHA256 over `timestamp.body` with a shared secret.
///
/// Headers: `X-Courtyard-Timestamp: <unix seconds>` and `X-Courtyard-Signature: sha256=<hex>`. A delivery is
/// accepted when the timestamp is within ``toleranceSeconds`` of now and the signature matches either active
/// secret (the current one, or the previous one during a rotation). Replays of a seen signature are refused by
/// the caller, which remembers signatures for the tolerance window.
public enum WebhookSignature {
    public static let toleranceSeconds: Int64 = 300

    /// Why a delivery was refused.
    public enum Failure: Error, Hashable, Sendable {
        case missingHeaders
        case malformedTimestamp
        case staleTimestamp
        case malformedSignature
        case mismatch

        public var code: String {
            switch self {
            case .missingHeaders: "signature_missing"
            case .malformedTimestamp: "signature_timestamp_invalid"
            case .staleTimestamp: "signature_expired"
            case .malformedSignature: "signature_invalid"
            case .mismatch: "signature_mismatch"
            }
        }
    }

    /// The header value for `body` sent at `timestamp` with `secret`.
    public static func sign(body: some DataProtocol, timestamp: Int64, secret: String) -> String {
        "sha256=" + mac(body: body, timestamp: timestamp, secret: secret).map { String(format: "%02x", $0) }.joined()
    }

    static func mac(body: some DataProtocol, timestamp: Int64, secret: String) -> [UInt8] {
        var hmac = HMAC<SHA256>(key: SymmetricKey(data: Data(secret.utf8)))
        hmac.update(data: Data("\(timestamp).".utf8))
        hmac.update(data: body)
        return Array(hmac.finalize())
    }

    /// Checks a delivery; returns the timestamp on success.
    @discardableResult
    public static func verify(
        body: some DataProtocol, timestamp: String?, signature: String?, secrets: [String],
        nowSeconds: Int64
    ) throws(Failure) -> Int64 {
        guard let timestamp, let signature else { throw .missingHeaders }
        // Unix seconds, 1 to 12 ASCII digits: range-checked where it is read, so the difference below cannot overflow.
        guard (1...12).contains(timestamp.utf8.count), timestamp.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
            let seconds = Int64(timestamp)
        else { throw .malformedTimestamp }
        let skew = nowSeconds.subtractingReportingOverflow(seconds)
        guard !skew.overflow, skew.partialValue.magnitude <= UInt64(toleranceSeconds) else { throw .staleTimestamp }
        guard signature.hasPrefix("sha256="), let given = try? Hex.bytes(signature.dropFirst(7)), given.count == 32 else {
            throw .malformedSignature
        }
        for secret in secrets where !secret.isEmpty {
            let expected = mac(body: body, timestamp: seconds, secret: secret)
            // Constant time: compare every byte whatever the first difference.
            var difference: UInt8 = 0
            for (a, b) in zip(expected, given) { difference |= a ^ b }
            if difference == 0 { return seconds }
        }
        throw .mismatch
    }
}
