import Crypto
import Foundation
import _CryptoExtras

/// WeChat Pay API v3: signing merchant requests, verifying and decrypting payment notifications.
///
/// - Requests carry `Authorization: WECHATPAY2-SHA256-RSA2048 mchid=…,nonce_str=…,signature=…,timestamp=…,serial_no=…`,
///   the signature being SHA256withRSA by the merchant key over `METHOD\nPATH?QUERY\nTIMESTAMP\nNONCE\nBODY\n`.
/// - Notifications are verified with the platform (or WeChat Pay) public key named by `Wechatpay-Serial`, over
///   `TIMESTAMP\nNONCE\nBODY\n` of the raw body; a timestamp 300 s or more away from now is refused; the resource is
///   AEAD_AES_256_GCM under the APIv3 key, `ciphertext = base64(ct ‖ tag)`.
public enum WeChatPayV3 {
    /// The merchant's credentials for API v3 (from configuration; never logged).
    public struct Credentials: Sendable {
        public var merchantId: String
        public var appId: String
        /// Serial number of the merchant API certificate, sent as `serial_no`.
        public var merchantSerial: String
        public var merchantKey: _RSA.Signing.PrivateKey
        /// The 32-byte APIv3 key.
        public var apiV3Key: SymmetricKey
        /// Public keys that sign notifications, by serial (platform certificate serials or `PUB_KEY_ID_…`).
        public var platformKeys: [String: _RSA.Signing.PublicKey]
        public var notifyURL: String
        /// `https://api.mch.weixin.qq.com` in production; a local fake in tests.
        public var baseURL: String

        public init(
            merchantId: String, appId: String, merchantSerial: String, merchantKey: _RSA.Signing.PrivateKey, apiV3Key: SymmetricKey,
            platformKeys: [String: _RSA.Signing.PublicKey], notifyURL: String, baseURL: String = "https://api.mch.weixin.qq.com"
        ) {
            self.merchantId = merchantId; self.appId = appId; self.merchantSerial = merchantSerial; self.merchantKey = merchantKey
            self.apiV3Key = apiV3Key; self.platformKeys = platformKeys; self.notifyURL = notifyURL; self.baseURL = baseURL
        }
    }

    /// The five notification headers.
    public struct NotificationHeaders: Sendable, Hashable {
        public var timestamp: String?
        public var nonce: String?
        public var signature: String?
        public var serial: String?
        public var signatureType: String?

        public init(timestamp: String?, nonce: String?, signature: String?, serial: String?, signatureType: String? = nil) {
            self.timestamp = timestamp; self.nonce = nonce; self.signature = signature; self.serial = serial; self.signatureType = signatureType
        }
    }

    /// The notification envelope (`resource` still encrypted).
    public struct Notification: Decodable, Sendable, Hashable {
        public struct Resource: Decodable, Sendable, Hashable {
            public var algorithm: String
            public var ciphertext: String
            public var associatedData: String?
            public var nonce: String
            public var originalType: String?

            public init(algorithm: String, ciphertext: String, associatedData: String?, nonce: String, originalType: String?) {
                self.algorithm = algorithm; self.ciphertext = ciphertext; self.associatedData = associatedData; self.nonce = nonce
                self.originalType = originalType
            }

            enum CodingKeys: String, CodingKey {
                case algorithm, ciphertext, nonce
                case associatedData = "associated_data"
                case originalType = "original_type"
            }
        }

        public var id: String
        public var createTime: String?
        public var eventType: String
        public var resourceType: String?
        public var summary: String?
        public var resource: Resource

        enum CodingKeys: String, CodingKey {
            case id, summary, resource
            case createTime = "create_time"
            case eventType = "event_type"
            case resourceType = "resource_type"
        }
    }

    /// A decrypted `transaction` resource (TRANSACTION.SUCCESS and friends).
    public struct Transaction: Decodable, Sendable, Hashable {
        public struct Amount: Decodable, Sendable, Hashable {
            public var total: Int64
            public var payerTotal: Int64?
            public var currency: String?

            enum CodingKeys: String, CodingKey {
                case total, currency
                case payerTotal = "payer_total"
            }
        }

        public struct Payer: Decodable, Sendable, Hashable { public var openid: String? }

        public var appid: String?
        public var mchid: String
        public var outTradeNo: String
        public var transactionId: String
        public var tradeType: String?
        public var tradeState: String
        public var successTime: String?
        public var payer: Payer?
        public var amount: Amount

        enum CodingKeys: String, CodingKey {
            case appid, mchid, payer, amount
            case outTradeNo = "out_trade_no"
            case transactionId = "transaction_id"
            case tradeType = "trade_type"
            case tradeState = "trade_state"
            case successTime = "success_time"
        }
    }

    /// How far a notification's timestamp may be from now (exclusive): WeChat's rule is 5 minutes.
    public static let tolerance: Int64 = 300

    /// The `Authorization` header of a merchant request.
    public static func authorization(
        method: String, pathAndQuery: String, body: String, timestamp: Int64, nonce: String,
        credentials: Credentials
    ) throws -> String {
        let message = "\(method)\n\(pathAndQuery)\n\(timestamp)\n\(nonce)\n\(body)\n"
        let signature = try RSAKeys.sign(Data(message.utf8), with: credentials.merchantKey)
        return "WECHATPAY2-SHA256-RSA2048 mchid=\"\(credentials.merchantId)\",nonce_str=\"\(nonce)\",signature=\"\(signature)\","
            + "timestamp=\"\(timestamp)\",serial_no=\"\(credentials.merchantSerial)\""
    }

    /// Checks a notification's signature and freshness over its raw body; throws a 401-kind error when it does not hold.
    public static func verify(_ headers: NotificationHeaders, body: [UInt8], now: Date, keys: [String: _RSA.Signing.PublicKey]) throws(PaymentError) {
        guard let timestamp = headers.timestamp, let nonce = headers.nonce, let signature = headers.signature, let serial = headers.serial,
            !timestamp.isEmpty, !nonce.isEmpty, !signature.isEmpty, !serial.isEmpty
        else {
            throw PaymentError(
                .unauthenticated, code: "signature_missing", field: "Wechatpay-Signature",
                "Wechatpay-Timestamp, -Nonce, -Signature and -Serial are required")
        }
        if let type = headers.signatureType, !type.isEmpty, type != "WECHATPAY2-SHA256-RSA2048" {
            throw PaymentError(
                .unauthenticated, code: "signature_type_unsupported", field: "Wechatpay-Signature-Type",
                "only WECHATPAY2-SHA256-RSA2048 is accepted")
        }
        // Range-checked where it is read: a timestamp is at most 12 ASCII digits (years up to 33658), so the
        // difference below cannot overflow whatever the header says.
        guard timestamp.utf8.count <= 12, timestamp.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let seconds = Int64(timestamp) else {
            throw PaymentError(
                .unauthenticated, code: "timestamp_invalid", field: "Wechatpay-Timestamp",
                "the timestamp is not a number of seconds since 1970")
        }
        let skew = Int64(now.timeIntervalSince1970.rounded(.down)).subtractingReportingOverflow(seconds)
        guard !skew.overflow, skew.partialValue.magnitude < UInt64(tolerance) else {
            throw PaymentError(
                .unauthenticated, code: "timestamp_out_of_range", field: "Wechatpay-Timestamp",
                "the notification is \(skew.overflow ? "too far" : "\(skew.partialValue.magnitude) s") from now; at most \(tolerance - 1) s is accepted"
            )
        }
        guard let key = keys[serial] else {
            throw PaymentError(.unauthenticated, code: "unknown_serial", field: "Wechatpay-Serial", "no configured platform key has this serial")
        }
        var message = Array("\(timestamp)\n\(nonce)\n".utf8)
        message.append(contentsOf: body)
        message.append(0x0A)
        guard RSAKeys.verify(signature, of: message, with: key) else {
            throw PaymentError(.unauthenticated, code: "signature_invalid", field: "Wechatpay-Signature", "the signature does not verify")
        }
    }

    /// Decrypts a notification resource with the APIv3 key.
    public static func decrypt(_ resource: Notification.Resource, apiV3Key: SymmetricKey) throws(PaymentError) -> Data {
        guard resource.algorithm == "AEAD_AES_256_GCM" else {
            throw PaymentError(.malformed, code: "unsupported_algorithm", field: "resource.algorithm", "only AEAD_AES_256_GCM is supported")
        }
        guard let sealed = Data(base64Encoded: resource.ciphertext), sealed.count > 16 else {
            throw PaymentError(.malformed, code: "malformed_notification", field: "resource.ciphertext", "the ciphertext is not base64 of ct ‖ tag")
        }
        do {
            let box = try AES.GCM.SealedBox(
                nonce: AES.GCM.Nonce(data: Data(resource.nonce.utf8)), ciphertext: sealed.dropLast(16),
                tag: sealed.suffix(16))
            return try AES.GCM.open(box, using: apiV3Key, authenticating: Data((resource.associatedData ?? "").utf8))
        } catch {
            throw PaymentError(.malformed, code: "decryption_failed", field: "resource", "the resource does not decrypt with the APIv3 key")
        }
    }

    /// Encrypts a resource the way WeChat Pay does (for test fakes and the bench): base64(ct ‖ tag).
    public static func encrypt(_ plaintext: Data, nonce: String, associatedData: String, apiV3Key: SymmetricKey) throws -> String {
        let box = try AES.GCM.seal(
            plaintext, using: apiV3Key, nonce: AES.GCM.Nonce(data: Data(nonce.utf8)),
            authenticating: Data(associatedData.utf8))
        return (box.ciphertext + box.tag).base64EncodedString()
    }

    /// The JSON body of a Native order (`POST /v3/pay/transactions/native`): the answer carries `code_url` for a QR code.
    /// With `payerOpenId` it is the body of a JSAPI order (`POST /v3/pay/transactions/jsapi`), answered with `prepay_id`.
    public static func nativeOrderBody(
        outTradeNo: String, description: String, total: Int64, expiresAt: String, credentials: Credentials,
        payerOpenId: String? = nil
    ) -> String {
        var fields: [String: Any] = [
            "appid": credentials.appId, "mchid": credentials.merchantId, "description": description,
            "out_trade_no": outTradeNo, "time_expire": expiresAt, "notify_url": credentials.notifyURL,
            "amount": ["total": total, "currency": "CNY"],
        ]
        if let payerOpenId { fields["payer"] = ["openid": payerOpenId] }
        return String(
            decoding: (try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data(),
            as: UTF8.self)
    }

    /// The parameters of `wx.requestPayment` for a JSAPI order: `paySign` is SHA256withRSA by the merchant key over
    /// `appId\ntimeStamp\nnonceStr\npackage\n`.
    public static func jsapiParameters(prepayId: String, timestamp: Int64, nonce: String, credentials: Credentials) throws -> [String: String] {
        let package = "prepay_id=" + prepayId
        let message = "\(credentials.appId)\n\(timestamp)\n\(nonce)\n\(package)\n"
        return [
            "appId": credentials.appId, "timeStamp": String(timestamp), "nonceStr": nonce, "package": package, "signType": "RSA",
            "paySign": try RSAKeys.sign(Data(message.utf8), with: credentials.merchantKey),
        ]
    }

    /// The JSON body of a refund (`POST /v3/refund/domestic/refunds`).
    public static func refundBody(transactionId: String, outRefundNo: String, reason: String, refund: Int64, total: Int64) -> String {
        let fields: [String: Any] = [
            "transaction_id": transactionId, "out_refund_no": outRefundNo, "reason": String(reason.prefix(80)),
            "amount": ["refund": refund, "total": total, "currency": "CNY"],
        ]
        return String(
            decoding: (try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data(),
            as: UTF8.self)
    }
}
