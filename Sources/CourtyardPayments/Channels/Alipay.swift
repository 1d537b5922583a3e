import Foundation
import _CryptoExtras

/// Alipay open platform (RSA2): signing gateway requests and verifying asynchronous notifications.
///
/// The string to sign is every parameter except `sign` (and, for notifications, `sign_type`) with a **non-empty**
/// value, sorted by name in byte order, URL-decoded, joined as `k=v&k=v`, the rule of Alipay's own SDKs
/// (`AlipaySignature.getSignContent` skips empty values). It is signed SHA256withRSA; the notify handler answers the
/// literal `success`.
public enum Alipay {
    public struct Credentials: Sendable {
        public var appId: String
        /// The merchant's Alipay account (`seller_id`, 2088…), checked on every notification.
        public var sellerId: String
        public var appPrivateKey: _RSA.Signing.PrivateKey
        public var alipayPublicKey: _RSA.Signing.PublicKey
        /// `https://openapi.alipay.com/gateway.do` in production; a local fake in tests.
        public var gateway: String
        public var notifyURL: String

        public init(
            appId: String, sellerId: String, appPrivateKey: _RSA.Signing.PrivateKey, alipayPublicKey: _RSA.Signing.PublicKey,
            gateway: String = "https://openapi.alipay.com/gateway.do", notifyURL: String
        ) {
            self.appId = appId; self.sellerId = sellerId; self.appPrivateKey = appPrivateKey; self.alipayPublicKey = alipayPublicKey
            self.gateway = gateway; self.notifyURL = notifyURL
        }
    }

    /// A verified trade notification.
    public struct Notification: Sendable, Hashable {
        public var appId: String
        public var sellerId: String?
        public var outTradeNo: String
        public var tradeNo: String
        public var tradeStatus: String
        /// Fen, parsed from `total_amount` ("88.88").
        public var totalAmount: Int64
        public var buyerId: String?
        public var gmtPayment: String?
        public var notifyId: String?
        /// All parameters but `sign`, for the review record.
        public var parameters: [String: String]
    }

    /// The canonical string of `parameters` without the named ones.
    public static func signContent(_ parameters: [(name: String, value: String)], excluding: Set<String>) -> String {
        parameters.filter { !excluding.contains($0.name) && !$0.value.isEmpty }
            .sorted { Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8)) }
            .map { "\($0.name)=\($0.value)" }.joined(separator: "&")
    }

    /// Signs gateway request parameters: returns them with `sign` added.
    public static func signed(
        _ parameters: [(name: String, value: String)], with key: _RSA.Signing.PrivateKey
    ) throws -> [(name: String, value: String)] {
        let content = signContent(parameters, excluding: ["sign"])
        return parameters + [("sign", try RSAKeys.sign(Data(content.utf8), with: key))]
    }

    /// Verifies a form-encoded notification body and reads the trade fields; throws 401-kind errors for bad signatures.
    public static func verifyNotification(_ body: [UInt8], credentials: [Credentials]) throws(PaymentError) -> (Notification, Credentials) {
        guard let fields = FormEncoding.decode(body) else {
            throw PaymentError(.malformed, code: "malformed_notification", field: "body", "the body is not form-encoded UTF-8")
        }
        var values: [String: String] = [:]
        for (name, value) in fields {
            guard values[name] == nil else {
                throw PaymentError(.malformed, code: "malformed_notification", field: name, "parameter \(name) appears twice")
            }
            values[name] = value
        }
        guard let sign = values["sign"], !sign.isEmpty else {
            throw PaymentError(.unauthenticated, code: "signature_missing", field: "sign", "the notification has no sign")
        }
        if let type = values["sign_type"], type != "RSA2" {
            throw PaymentError(.unauthenticated, code: "signature_type_unsupported", field: "sign_type", "only RSA2 is accepted")
        }
        guard let appId = values["app_id"], let account = credentials.first(where: { $0.appId == appId }) else {
            throw PaymentError(.unauthenticated, code: "unknown_app", field: "app_id", "no configured Alipay app has this app_id")
        }
        let content = signContent(fields, excluding: ["sign", "sign_type"])
        guard RSAKeys.verify(sign, of: Data(content.utf8), with: account.alipayPublicKey) else {
            throw PaymentError(.unauthenticated, code: "signature_invalid", field: "sign", "the signature does not verify")
        }
        func required(_ name: String) throws(PaymentError) -> String {
            guard let value = values[name], !value.isEmpty else {
                throw PaymentError(.malformed, code: "malformed_notification", field: name, "\(name) is required")
            }
            return value
        }
        let amountText = try required("total_amount")
        guard let amount = Self.fen(amountText) else {
            throw PaymentError(.malformed, code: "malformed_notification", field: "total_amount", "total_amount is not an amount in yuan")
        }
        var parameters = values
        parameters["sign"] = nil
        return (
            Notification(
                appId: appId, sellerId: values["seller_id"], outTradeNo: try required("out_trade_no"),
                tradeNo: try required("trade_no"), tradeStatus: try required("trade_status"), totalAmount: amount,
                buyerId: values["buyer_id"], gmtPayment: values["gmt_payment"], notifyId: values["notify_id"],
                parameters: parameters), account
        )
    }

    /// Fen from Alipay's yuan text ("88.8", "88.88", "88"); `nil` for anything else.
    public static func fen(_ text: String) -> Int64? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let yuan = Int64(parts[0]), yuan >= 0, parts[0].allSatisfy(\.isASCII) else { return nil }
        var cents: Int64 = 0
        if parts.count == 2 {
            let fraction = parts[1]
            guard (1...2).contains(fraction.count), fraction.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int64(fraction) else {
                return nil
            }
            cents = fraction.count == 1 ? value * 10 : value
        }
        let (total, overflow) = yuan.multipliedReportingOverflow(by: 100)
        return overflow ? nil : total + cents
    }

    /// Yuan text of fen, as Alipay wants it ("88.88").
    public static func yuan(_ fen: Int64) -> String {
        let cents = fen % 100
        return "\(fen / 100)." + (cents < 10 ? "0" : "") + "\(cents)"
    }

    /// The signed form parameters of `alipay.trade.precreate` (a QR code order), `timestamp` in Beijing time.
    public static func precreateParameters(
        outTradeNo: String, subject: String, total: Int64, timeoutExpress: String, timestamp: String,
        credentials: Credentials
    ) throws -> [(name: String, value: String)] {
        let biz: [String: Any] = ["out_trade_no": outTradeNo, "total_amount": yuan(total), "subject": subject, "timeout_express": timeoutExpress]
        let bizText = String(
            decoding: try JSONSerialization.data(withJSONObject: biz, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self)
        return try signed(
            [
                ("app_id", credentials.appId), ("method", "alipay.trade.precreate"), ("format", "JSON"), ("charset", "utf-8"),
                ("sign_type", "RSA2"), ("timestamp", timestamp), ("version", "1.0"), ("notify_url", credentials.notifyURL),
                ("biz_content", bizText),
            ], with: credentials.appPrivateKey)
    }

    /// The signed form parameters of `alipay.trade.refund`.
    public static func refundParameters(
        tradeNo: String, outRequestNo: String, amount: Int64, reason: String, timestamp: String,
        credentials: Credentials
    ) throws -> [(name: String, value: String)] {
        let biz: [String: Any] = [
            "trade_no": tradeNo, "out_request_no": outRequestNo, "refund_amount": yuan(amount),
            "refund_reason": String(reason.prefix(80)),
        ]
        let bizText = String(
            decoding: try JSONSerialization.data(withJSONObject: biz, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self)
        return try signed(
            [
                ("app_id", credentials.appId), ("method", "alipay.trade.refund"), ("format", "JSON"), ("charset", "utf-8"),
                ("sign_type", "RSA2"), ("timestamp", timestamp), ("version", "1.0"), ("biz_content", bizText),
            ],
            with: credentials.appPrivateKey)
    }

    /// Checks a gateway answer's signature: the raw text of `{method}_response` signed with the Alipay key.
    ///
    /// The signed text is the response node exactly as sent, so it is cut out of the raw body rather than re-encoded.
    public static func verifyResponse(_ body: String, node: String, key: _RSA.Signing.PublicKey) -> [String: Any]? {
        guard let start = body.range(of: "\"\(node)\":"), let signRange = body.range(of: ",\"sign\":\"", options: .backwards),
            start.upperBound < signRange.lowerBound
        else { return nil }
        let content = body[start.upperBound..<signRange.lowerBound].trimmingCharacters(in: .whitespaces)
        let rest = body[signRange.upperBound...]
        guard let end = rest.firstIndex(of: "\"") else { return nil }
        let signature = String(rest[..<end]).replacingOccurrences(of: "\\/", with: "/")
        guard RSAKeys.verify(signature, of: Data(content.utf8), with: key),
            let object = try? JSONSerialization.jsonObject(with: Data(content.utf8)) as? [String: Any]
        else { return nil }
        return object
    }
}
