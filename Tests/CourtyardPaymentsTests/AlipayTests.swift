import CourtyardPayments
import Foundation
import Testing
import _CryptoExtras

/// Alipay RSA2: the canonical string (sorted, without sign and sign_type, empty values left out), notifications, answers.
@Suite("Alipay RSA2")
struct AlipayTests {
    static let alipayKey = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    static let appKey = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    static let credentials = Alipay.Credentials(
        appId: "2021000000000001", sellerId: "2088000000000001", appPrivateKey: appKey,
        alipayPublicKey: alipayKey.publicKey, notifyURL: "https://pay.example.com/api/v1/payments/notify/alipay")

    /// A notification form signed the way Alipay signs it.
    static func notification(_ fields: [(String, String)], key: _RSA.Signing.PrivateKey = alipayKey) throws -> [UInt8] {
        let content = Alipay.signContent(fields.map { (name: $0.0, value: $0.1) }, excluding: ["sign", "sign_type"])
        let sign = try RSAKeys.sign(Data(content.utf8), with: key)
        return Array(FormEncoding.encode(fields.map { (name: $0.0, value: $0.1) } + [("sign", sign), ("sign_type", "RSA2")]).utf8)
    }

    static let fields: [(String, String)] = [
        ("gmt_create", "2026-11-20 10:00:00"), ("charset", "utf-8"), ("seller_email", ""), ("subject", "物业费 2026-10"),
        ("buyer_id", "2088102177846880"), ("notify_type", "trade_status_sync"), ("total_amount", "88.88"),
        ("trade_no", "2026112022001446881412345678"),
        ("notify_id", "ac05099524730693a8b330c5ecf72da9786"), ("app_id", "2021000000000001"), ("out_trade_no", "CY0123456789ABCDEF0123456789ABCD"),
        ("trade_status", "TRADE_SUCCESS"), ("seller_id", "2088000000000001"), ("gmt_payment", "2026-11-20 10:00:05"), ("version", "1.0"),
    ]

    @Test("the string to sign sorts by name in byte order and leaves out sign, sign_type and empty values")
    func signContent() {
        let content = Alipay.signContent(
            [("b", "2"), ("a", "1"), ("sign", "x"), ("sign_type", "RSA2"), ("c", ""), ("B", "0")],
            excluding: ["sign", "sign_type"])
        #expect(content == "B=0&a=1&b=2")
    }

    @Test("a signed notification verifies and yields its trade in fen")
    func verifies() throws {
        let (notification, account) = try Alipay.verifyNotification(try Self.notification(Self.fields), credentials: [Self.credentials])
        #expect(account.appId == "2021000000000001")
        #expect(notification.totalAmount == 88_88)
        #expect(notification.tradeNo == "2026112022001446881412345678")
        #expect(notification.outTradeNo == "CY0123456789ABCDEF0123456789ABCD")
        #expect(notification.subjectIsDecoded(expected: "物业费 2026-10"))
    }

    @Test("a changed amount, another key, no sign or an unknown app is refused")
    func refusals() throws {
        var changed = try Self.notification(Self.fields)
        let text = String(decoding: changed, as: UTF8.self).replacingOccurrences(of: "total_amount=88.88", with: "total_amount=88.89")
        changed = Array(text.utf8)
        let otherKey = try Self.notification(Self.fields, key: try _RSA.Signing.PrivateKey(keySize: .bits2048))
        let unsigned = Array(FormEncoding.encode(Self.fields.map { (name: $0.0, value: $0.1) }).utf8)
        let otherApp = try Self.notification(Self.fields.map { $0.0 == "app_id" ? ($0.0, "2021000000009999") : $0 })
        for (body, code) in [
            (changed, "signature_invalid"), (otherKey, "signature_invalid"), (unsigned, "signature_missing"), (otherApp, "unknown_app"),
        ] {
            do {
                _ = try Alipay.verifyNotification(body, credentials: [Self.credentials])
                Issue.record("\(code) verified")
            } catch {
                #expect(error.code == code)
            }
        }
    }

    @Test(
        "yuan text converts to fen exactly and refuses anything else",
        arguments: [
            ("88.88", 8888), ("88.8", 8880), ("88", 8800), ("0.01", 1), ("1.234", nil), ("-1.00", nil), ("1e3", nil), ("", nil), ("１.00", nil),
        ] as [(String, Int64?)])
    func yuanToFen(text: String, fen: Int64?) {
        #expect(Alipay.fen(text) == fen)
    }

    @Test("a gateway answer is trusted only when the response node as sent verifies")
    func responseSignature() throws {
        let node = #"{"code":"10000","msg":"Success","out_trade_no":"CY1","qr_code":"https:\/\/qr.alipay.com\/bax1"}"#
        let sign = try RSAKeys.sign(Data(node.utf8), with: Self.alipayKey)
        let body = #"{"alipay_trade_precreate_response":"# + node + #","sign":""# + sign + #""}"#
        let answer = try #require(Alipay.verifyResponse(body, node: "alipay_trade_precreate_response", key: Self.alipayKey.publicKey))
        #expect(answer["qr_code"] as? String == "https://qr.alipay.com/bax1")
        let forged = body.replacingOccurrences(of: "bax1", with: "bax2")
        #expect(Alipay.verifyResponse(forged, node: "alipay_trade_precreate_response", key: Self.alipayKey.publicKey) == nil)
    }

    @Test("form bodies decode + as space and percent escapes as UTF-8, and refuse broken escapes")
    func formDecoding() throws {
        let fields = try #require(FormEncoding.decode(Array("a=1+2&b=%E7%89%A9%E4%B8%9A&c=&d".utf8)))
        #expect(fields.map(\.name) == ["a", "b", "c", "d"])
        #expect(fields.map(\.value) == ["1 2", "物业", "", ""])
        #expect(FormEncoding.decode(Array("a=%E7%8".utf8)) == nil)
        #expect(FormEncoding.decode(Array("a=%FF".utf8)) == nil)
    }
}

extension Alipay.Notification {
    func subjectIsDecoded(expected: String) -> Bool { parameters["subject"] == expected }
}
