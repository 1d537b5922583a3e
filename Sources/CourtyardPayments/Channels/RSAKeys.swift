import Foundation
import _CryptoExtras

/// Reads the RSA keys channels hand out: PEM (PKCS#1 or PKCS#8 / SPKI) or the bare base64 DER that Alipay's console
/// shows, and signs and verifies SHA256withRSA (PKCS#1 v1.5), the scheme of WeChat Pay v3 and Alipay RSA2.
public enum RSAKeys {
    public static func privateKey(_ text: String) throws(PaymentError) -> _RSA.Signing.PrivateKey {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        do {
            if trimmed.hasPrefix("-----") { return try _RSA.Signing.PrivateKey(pemRepresentation: trimmed) }
            guard let der = Data(base64Encoded: trimmed, options: .ignoreUnknownCharacters) else { throw PaymentError.badKey }
            return try _RSA.Signing.PrivateKey(derRepresentation: der)
        } catch {
            throw PaymentError.badKey
        }
    }

    public static func publicKey(_ text: String) throws(PaymentError) -> _RSA.Signing.PublicKey {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        do {
            if trimmed.hasPrefix("-----") { return try _RSA.Signing.PublicKey(pemRepresentation: trimmed) }
            guard let der = Data(base64Encoded: trimmed, options: .ignoreUnknownCharacters) else { throw PaymentError.badKey }
            return try _RSA.Signing.PublicKey(derRepresentation: der)
        } catch {
            throw PaymentError.badKey
        }
    }

    /// Base64 SHA256withRSA (PKCS#1 v1.5) signature of `message`.
    public static func sign(_ message: some DataProtocol, with key: _RSA.Signing.PrivateKey) throws -> String {
        try key.signature(for: message, padding: .insecurePKCS1v1_5).rawRepresentation.base64EncodedString()
    }

    /// Whether `signature` (base64) is a SHA256withRSA (PKCS#1 v1.5) signature of `message` by `key`.
    public static func verify(_ signature: String, of message: some DataProtocol, with key: _RSA.Signing.PublicKey) -> Bool {
        guard let raw = Data(base64Encoded: signature) else { return false }
        return key.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: raw), for: message, padding: .insecurePKCS1v1_5)
    }
}

extension PaymentError {
    static let badKey = PaymentError(.invalid, code: "invalid_channel_key", "an RSA key in the channel configuration cannot be read")
}
