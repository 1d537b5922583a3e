import CourtyardPayments
import Crypto
import Foundation
import Synchronization
import _CryptoExtras

/// Test keys, generated once per run (no private key is shipped): the merchant's and the platform's for WeChat Pay,
/// the app's and Alipay's for Alipay.
enum TestKeys {
    static let wechatMerchant = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    static let wechatPlatform = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    static let alipayApp = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    static let alipay = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    static let apiV3Key = "a3f1c0d9e8b7a6f5e4d3c2b1a0f9e8d7"
    static let platformSerial = "PUB_KEY_ID_0114232020240901000001"

    static func channels(companyId: String) -> ChannelConfiguration {
        ChannelConfiguration(companies: [
            companyId: .init(
                wechatPay: WeChatPayV3.Credentials(
                    merchantId: "1900000109", appId: "wx8888888888888888", merchantSerial: "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
                    merchantKey: wechatMerchant, apiV3Key: SymmetricKey(data: Data(apiV3Key.utf8)),
                    platformKeys: [platformSerial: wechatPlatform.publicKey],
                    notifyURL: "https://pay.example.com/api/v1/payments/notify/wechatpay", baseURL: "https://wechat.fake"),
                alipay: Alipay.Credentials(
                    appId: "2021000000000001", sellerId: "2088000000000001", appPrivateKey: alipayApp,
                    alipayPublicKey: alipay.publicKey, gateway: "https://alipay.fake/gateway.do",
                    notifyURL: "https://pay.example.com/api/v1/payments/notify/alipay"))
        ])
    }
}

/// WeChat Pay and Alipay at their HTTP boundary: each request's signature is checked the way the real channel checks
/// it (an unsigned or forged request is refused), and answers are signed the way the channel signs them.
final class FakePaymentChannels: ChannelHTTPClient {
    /// Requests seen, by path.
    let requests = Mutex<[String]>([])
    /// When set, refunds are refused with this HTTP status.
    let refuseRefunds = Mutex<Int?>(nil)
    /// What WeChat answers a refund with: SUCCESS, or PROCESSING (then a REFUND.SUCCESS notification settles it).
    let refundStatus = Mutex("SUCCESS")
    /// The channel's clock (the tests' manual clock: answers are signed with its time).
    let now: @Sendable () -> Date

    init(now: @escaping @Sendable () -> Date = { PaymentAPITests.start }) {
        self.now = now
    }

    func send(_ request: ChannelHTTPRequest) async throws -> ChannelHTTPResponse {
        let url = URL(string: request.url)!
        requests.withLock { $0.append(url.path) }
        if url.host == "wechat.fake" { return wechat(request, path: url.path) }
        return alipay(request)
    }

    func wechat(_ request: ChannelHTTPRequest, path: String) -> ChannelHTTPResponse {
        // Authorization: WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",signature="…",timestamp="…",serial_no="…"
        guard let header = request.headers["Authorization"], header.hasPrefix("WECHATPAY2-SHA256-RSA2048 ") else { return Self.status(401) }
        var fields: [String: String] = [:]
        for part in header.dropFirst("WECHATPAY2-SHA256-RSA2048 ".count).split(separator: ",") {
            let pieces = part.split(separator: "=", maxSplits: 1)
            if pieces.count == 2 { fields[String(pieces[0])] = pieces[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
        }
        let message = "POST\n\(path)\n\(fields["timestamp"] ?? "")\n\(fields["nonce_str"] ?? "")\n\(String(decoding: request.body, as: UTF8.self))\n"
        guard fields["mchid"] == "1900000109", let signature = fields["signature"],
            RSAKeys.verify(signature, of: Data(message.utf8), with: TestKeys.wechatMerchant.publicKey)
        else { return Self.status(401) }
        let body = (try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any]) ?? [:]
        let answer: [String: Any]
        switch path {
        case "/v3/pay/transactions/native":
            answer = ["code_url": "weixin://wxpay/bizpayurl?pr=\(body["out_trade_no"] as? String ?? "")"]
        case "/v3/pay/transactions/jsapi":
            guard (body["payer"] as? [String: Any])?["openid"] is String else { return Self.status(400) }
            answer = ["prepay_id": "wx2026112210000" + String((body["out_trade_no"] as? String ?? "").suffix(12))]
        case let close where close.hasPrefix("/v3/pay/transactions/out-trade-no/") && close.hasSuffix("/close"):
            guard body["mchid"] as? String == "1900000109" else { return Self.status(400) }
            return signedAnswer(Data())
        case "/v3/refund/domestic/refunds":
            if let status = refuseRefunds.withLock({ $0 }) { return Self.status(status) }
            answer = [
                "refund_id": "50300000" + String((body["out_refund_no"] as? String ?? "").suffix(20)), "status": refundStatus.withLock { $0 },
                "out_refund_no": body["out_refund_no"] ?? "",
            ]
        default:
            return Self.status(404)
        }
        return signedAnswer(try! JSONSerialization.data(withJSONObject: answer, options: [.sortedKeys]))
    }

    /// An answer signed the way WeChat Pay signs them (204 No Content for an empty body).
    func signedAnswer(_ data: Data) -> ChannelHTTPResponse {
        let timestamp = String(Int64(now().timeIntervalSince1970))
        let nonce = UUID().uuidString
        var signed = Array("\(timestamp)\n\(nonce)\n".utf8)
        signed += data
        signed.append(0x0A)
        return ChannelHTTPResponse(
            status: data.isEmpty ? 204 : 200,
            headers: [
                "wechatpay-timestamp": timestamp, "wechatpay-nonce": nonce,
                "wechatpay-signature": try! RSAKeys.sign(signed, with: TestKeys.wechatPlatform),
                "wechatpay-serial": TestKeys.platformSerial,
            ], body: Array(data))
    }

    func alipay(_ request: ChannelHTTPRequest) -> ChannelHTTPResponse {
        guard let fields = FormEncoding.decode(request.body) else { return Self.status(400) }
        let values = Dictionary(fields.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
        let content = Alipay.signContent(fields, excluding: ["sign"])
        guard let sign = values["sign"], RSAKeys.verify(sign, of: Data(content.utf8), with: TestKeys.alipayApp.publicKey) else {
            return Self.status(401)
        }
        let biz = (try? JSONSerialization.jsonObject(with: Data((values["biz_content"] ?? "{}").utf8)) as? [String: Any]) ?? [:]
        let node: String
        let name: String
        switch values["method"] {
        case "alipay.trade.precreate":
            name = "alipay_trade_precreate_response"
            node =
                #"{"code":"10000","msg":"Success","out_trade_no":""# + (biz["out_trade_no"] as? String ?? "")
                + #"","qr_code":"https:\/\/qr.alipay.com\/bax0"# + String((biz["out_trade_no"] as? String ?? "").suffix(8)) + #""}"#
        case "alipay.trade.refund":
            name = "alipay_trade_refund_response"
            node =
                #"{"code":"10000","msg":"Success","trade_no":""# + (biz["trade_no"] as? String ?? "") + #"","fund_change":"Y","refund_fee":""#
                + (biz["refund_amount"] as? String ?? "") + #""}"#
        default:
            return Self.status(404)
        }
        let signature = try! RSAKeys.sign(Data(node.utf8), with: TestKeys.alipay)
        return ChannelHTTPResponse(
            status: 200, headers: ["content-type": "application/json"],
            body: Array((#"{""# + name + #"":"# + node + #","sign":""# + signature + #""}"#).utf8))
    }

    static func status(_ code: Int) -> ChannelHTTPResponse {
        ChannelHTTPResponse(status: code, headers: [:], body: Array(#"{"code":"SIGN_ERROR","message":"refused"}"#.utf8))
    }

    // MARK: Notifications the channels send

    /// A TRANSACTION.SUCCESS notification body and its signed headers, as WeChat Pay sends them.
    static func wechatNotification(
        outTradeNo: String, transactionId: String, total: Int64, at timestamp: Int64,
        key: _RSA.Signing.PrivateKey = TestKeys.wechatPlatform, mchid: String = "1900000109", appid: String = "wx8888888888888888"
    ) throws -> (body: String, headers: [String: String]) {
        let transaction: [String: Any] = [
            "mchid": mchid, "appid": appid, "out_trade_no": outTradeNo, "transaction_id": transactionId,
            "trade_type": "NATIVE", "trade_state": "SUCCESS", "trade_state_desc": "支付成功", "bank_type": "OTHERS", "attach": "",
            "success_time": "2026-11-22T10:00:00+08:00", "payer": ["openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"],
            "amount": ["total": total, "payer_total": total, "currency": "CNY", "payer_currency": "CNY"],
        ]
        let plain = try JSONSerialization.data(withJSONObject: transaction, options: [.sortedKeys])
        let nonce = String(UUID().uuidString.prefix(12))
        let ciphertext = try WeChatPayV3.encrypt(
            plain, nonce: nonce, associatedData: "transaction",
            apiV3Key: SymmetricKey(data: Data(TestKeys.apiV3Key.utf8)))
        let envelope: [String: Any] = [
            "id": UUID().uuidString, "create_time": "2026-11-22T10:00:01+08:00", "resource_type": "encrypt-resource",
            "event_type": "TRANSACTION.SUCCESS", "summary": "支付成功",
            "resource": [
                "original_type": "transaction", "algorithm": "AEAD_AES_256_GCM", "ciphertext": ciphertext,
                "associated_data": "transaction", "nonce": nonce,
            ],
        ]
        let body = String(
            decoding: try JSONSerialization.data(withJSONObject: envelope, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self)
        let signatureNonce = UUID().uuidString.replacingOccurrences(of: "-", with: "")
        let message = "\(timestamp)\n\(signatureNonce)\n\(body)\n"
        return (
            body,
            [
                "Wechatpay-Timestamp": String(timestamp), "Wechatpay-Nonce": signatureNonce,
                "Wechatpay-Signature": try RSAKeys.sign(Data(message.utf8), with: key), "Wechatpay-Serial": TestKeys.platformSerial,
                "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
            ]
        )
    }

    /// A REFUND.SUCCESS (or other) notification for a refund WeChat answered PROCESSING.
    static func wechatRefundNotification(
        outRefundNo: String, refundId: String, status: String, at timestamp: Int64
    ) throws -> (body: String, headers: [String: String]) {
        let resource: [String: Any] = [
            "mchid": "1900000109", "out_trade_no": "CY", "transaction_id": "4200", "out_refund_no": outRefundNo,
            "refund_id": refundId, "refund_status": status, "success_time": "2026-11-22T10:05:00+08:00",
            "user_received_account": "支付用户零钱", "amount": ["total": 30000, "refund": 5000, "payer_total": 30000, "payer_refund": 5000],
        ]
        let nonce = String(UUID().uuidString.prefix(12))
        let ciphertext = try WeChatPayV3.encrypt(
            try JSONSerialization.data(withJSONObject: resource), nonce: nonce, associatedData: "refund",
            apiV3Key: SymmetricKey(data: Data(TestKeys.apiV3Key.utf8)))
        let envelope: [String: Any] = [
            "id": UUID().uuidString, "create_time": "2026-11-22T10:05:01+08:00", "resource_type": "encrypt-resource",
            "event_type": "REFUND." + status, "summary": "退款成功",
            "resource": [
                "original_type": "refund", "algorithm": "AEAD_AES_256_GCM", "ciphertext": ciphertext,
                "associated_data": "refund", "nonce": nonce,
            ],
        ]
        let body = String(
            decoding: try JSONSerialization.data(withJSONObject: envelope, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self)
        let signatureNonce = UUID().uuidString.replacingOccurrences(of: "-", with: "")
        return (
            body,
            [
                "Wechatpay-Timestamp": String(timestamp), "Wechatpay-Nonce": signatureNonce,
                "Wechatpay-Signature": try RSAKeys.sign(Data("\(timestamp)\n\(signatureNonce)\n\(body)\n".utf8), with: TestKeys.wechatPlatform),
                "Wechatpay-Serial": TestKeys.platformSerial,
            ]
        )
    }

    /// An Alipay trade notification, form-encoded and signed by Alipay's key.
    static func alipayNotification(
        outTradeNo: String, tradeNo: String, amount: String, status: String = "TRADE_SUCCESS", sellerId: String = "2088000000000001"
    ) throws -> String {
        let fields: [(name: String, value: String)] = [
            ("gmt_create", "2026-11-22 10:00:00"), ("charset", "utf-8"), ("seller_email", ""), ("subject", "预付费充值"), ("buyer_id", "2088102177846880"),
            ("notify_type", "trade_status_sync"), ("total_amount", amount), ("trade_no", tradeNo), ("notify_id", UUID().uuidString),
            ("app_id", "2021000000000001"), ("out_trade_no", outTradeNo), ("trade_status", status), ("seller_id", sellerId),
            ("gmt_payment", "2026-11-22 10:00:05"), ("version", "1.0"), ("notify_time", "2026-11-22 10:00:06"),
        ]
        let sign = try RSAKeys.sign(Data(Alipay.signContent(fields, excluding: ["sign", "sign_type"]).utf8), with: TestKeys.alipay)
        return FormEncoding.encode(fields + [("sign", sign), ("sign_type", "RSA2")])
    }
}
