import CourtyardPayments
import Crypto
import Foundation
import Testing
import _CryptoExtras

/// WeChat Pay API v3 notifications: signatures over the raw body, the 300-second window, AES-256-GCM resources.
@Suite("WeChat Pay v3")
struct WeChatPayV3Tests {
    /// A real TRANSACTION.SUCCESS notification as WeChat Pay sent it, published with its APIv3 key in
    /// github.com/jaifiresong/weixin-pay (test.php, commit 1e7940b7). Its platform certificate is not published, so
    /// only the decryption is checked against it; signatures are checked with keys generated here.
    static let publishedCiphertext =
        "itM3ZgJflzCJF+BNsNoThKnm8I/f/aWjKosMxtUUqiP/u9K+Xo02LYCwQIoH5ZGmXHSrFqrP5rThbSPbhpTG25M2LIumbY1yEz53uWn93Qd5A68yipAhy2jk9CM3U6oJ8riIopK2kdquHIiA+iSRrrRMQzhepgKfPfSM2XykrQ8gVHIs23il6cFLDFuW+/WxKWuZ+Ac0aF5qxJKSX2YQ8Pk+wd5H74VZNydpkc+g6LQ8tkl+xF854v+67KYuyoOOIiZaz2frRSmuFodVSW4XG/qV9pIPGEdxcc+MQC/0QDuS3CV5YY5C2TRADJeyLZVY7L6Y4L5yI+W3JV1kM78THwdNUKv4DJmJuPG9gdnTSH41+TGj90nyhk3WKBM1qEY2zVQzJbLTKLCqcn5WknNjjDB29zhvvm4ewxQKSmGzL64/7EZRXG6Hi4iOuXZrBAv0MqLKsntOLxaoSvYPAw1LXNB3yoqp7JY5J22Yqsc5Sq15h1V4Vr5hROjPbUkL1iep4y26UGhKUcX3lMovYsQJNdK+uYIKefR5nN/KZ4SP3VICmt1X8pQOrI+6f4KbXvB5zqp85tW10CrTvsk="

    @Test("a published WeChat Pay notification decrypts with its APIv3 key to the transaction it reported")
    func publishedNotificationDecrypts() throws {
        let resource = WeChatPayV3.Notification.Resource(
            algorithm: "AEAD_AES_256_GCM", ciphertext: Self.publishedCiphertext,
            associatedData: "transaction", nonce: "gyYsJaQIiZ9x", originalType: "transaction")
        let plain = try WeChatPayV3.decrypt(resource, apiV3Key: SymmetricKey(data: Data("6ea12a184b53a3a5f33f1123b6ea9867".utf8)))
        let transaction = try JSONDecoder().decode(WeChatPayV3.Transaction.self, from: plain)
        #expect(transaction.mchid == "1643758434")
        #expect(transaction.outTradeNo == "native3000chi20230511100017")
        #expect(transaction.transactionId == "4200001841202305111695101523")
        #expect(transaction.tradeState == "SUCCESS")
        #expect(transaction.amount.total == 1)
        #expect(transaction.successTime == "2023-05-11T10:00:40+08:00")
    }

    @Test("the wrong APIv3 key, another nonce or other associated data does not decrypt")
    func tamperedResourceFails() {
        let key = SymmetricKey(data: Data("6ea12a184b53a3a5f33f1123b6ea9867".utf8))
        for (nonce, aad, apiKey) in [
            ("gyYsJaQIiZ9y", "transaction", key), ("gyYsJaQIiZ9x", "certificate", key),
            ("gyYsJaQIiZ9x", "transaction", SymmetricKey(data: Data("6ea12a184b53a3a5f33f1123b6ea9868".utf8))),
        ] {
            let resource = WeChatPayV3.Notification.Resource(
                algorithm: "AEAD_AES_256_GCM", ciphertext: Self.publishedCiphertext,
                associatedData: aad, nonce: nonce, originalType: nil)
            #expect(throws: PaymentError.self) { try WeChatPayV3.decrypt(resource, apiV3Key: apiKey) }
        }
    }

    static let platform = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    static let now = Date(timeIntervalSince1970: 1_790_000_000)
    static let body = Array(
        #"{"id":"n-1","event_type":"TRANSACTION.SUCCESS","resource":{"algorithm":"AEAD_AES_256_GCM","ciphertext":"x","nonce":"n"}}"#.utf8)

    static func headers(
        body: [UInt8], timestamp: Int64, nonce: String = "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
        serial: String = "PUB_KEY_ID_0001"
    ) throws -> WeChatPayV3.NotificationHeaders {
        var message = Array("\(timestamp)\n\(nonce)\n".utf8)
        message += body
        message.append(0x0A)
        return .init(
            timestamp: String(timestamp), nonce: nonce, signature: try RSAKeys.sign(message, with: platform), serial: serial,
            signatureType: "WECHATPAY2-SHA256-RSA2048")
    }

    static var keys: [String: _RSA.Signing.PublicKey] { ["PUB_KEY_ID_0001": platform.publicKey] }

    @Test("a signature by the platform key over timestamp, nonce and the raw body verifies")
    func validSignature() throws {
        let headers = try Self.headers(body: Self.body, timestamp: 1_790_000_000)
        try WeChatPayV3.verify(headers, body: Self.body, now: Self.now, keys: Self.keys)
    }

    @Test(
        "a clock skew of 299 s passes and 300 s or 301 s, either way, is refused",
        arguments: [(-299, true), (299, true), (300, false), (301, false), (-301, false)])
    func clockSkew(skew: Int, passes: Bool) throws {
        let headers = try Self.headers(body: Self.body, timestamp: 1_790_000_000 + Int64(skew))
        if passes {
            try WeChatPayV3.verify(headers, body: Self.body, now: Self.now, keys: Self.keys)
        } else {
            #expect(
                throws: PaymentError(
                    .unauthenticated, code: "timestamp_out_of_range", field: "Wechatpay-Timestamp",
                    "the notification is \(abs(skew)) s from now; at most 299 s is accepted")
            ) {
                try WeChatPayV3.verify(headers, body: Self.body, now: Self.now, keys: Self.keys)
            }
        }
    }

    @Test(
        "timestamps at and past the 64-bit limits, signed or not, are refused without arithmetic overflow",
        arguments: ["-9223372036854775808", "9223372036854775807", "-99999999999", "99999999999999999999", "+1790000000", " 1790000000", "1e9", ""])
    func extremeTimestamps(timestamp: String) throws {
        var headers = try Self.headers(body: Self.body, timestamp: 1_790_000_000)
        headers.timestamp = timestamp
        #expect(throws: PaymentError.self) { try WeChatPayV3.verify(headers, body: Self.body, now: Self.now, keys: Self.keys) }
    }

    @Test("changing any one byte of the body breaks the signature", arguments: [0, 17, 60, 119])
    func tamperedBody(index: Int) throws {
        let headers = try Self.headers(body: Self.body, timestamp: 1_790_000_000)
        var tampered = Self.body
        tampered[index] ^= 0x01
        do {
            try WeChatPayV3.verify(headers, body: tampered, now: Self.now, keys: Self.keys)
            Issue.record("a tampered body verified")
        } catch {
            #expect(error.code == "signature_invalid")
        }
    }

    @Test("missing headers, an unknown serial, another key or a foreign signature type are refused with their own codes")
    func refusals() throws {
        let good = try Self.headers(body: Self.body, timestamp: 1_790_000_000)
        var missing = good
        missing.signature = nil
        var unknown = good
        unknown.serial = "PUB_KEY_ID_9999"
        var type = good
        type.signatureType = "WECHATPAY2-SM2-WITH-SM3"
        let other = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        for (headers, keys, code) in [
            (missing, Self.keys, "signature_missing"), (unknown, Self.keys, "unknown_serial"),
            (type, Self.keys, "signature_type_unsupported"),
            (good, ["PUB_KEY_ID_0001": other.publicKey], "signature_invalid"),
        ] {
            do {
                try WeChatPayV3.verify(headers, body: Self.body, now: Self.now, keys: keys)
                Issue.record("\(code) verified")
            } catch {
                #expect(error.code == code)
                #expect(error.kind == .unauthenticated)
            }
        }
    }

    @Test("resources encrypted the way WeChat Pay does round-trip")
    func encryptRoundTrip() throws {
        let key = SymmetricKey(data: Data("0123456789abcdef0123456789abcdef".utf8))
        let plain = Data(#"{"out_trade_no":"CY1"}"#.utf8)
        let ciphertext = try WeChatPayV3.encrypt(plain, nonce: "abcdefghijkl", associatedData: "transaction", apiV3Key: key)
        let opened = try WeChatPayV3.decrypt(
            .init(
                algorithm: "AEAD_AES_256_GCM", ciphertext: ciphertext, associatedData: "transaction",
                nonce: "abcdefghijkl", originalType: nil), apiV3Key: key)
        #expect(opened == plain)
    }

    @Test("a request's Authorization header carries a signature of method, path, timestamp, nonce and body by the merchant key")
    func requestAuthorization() throws {
        let merchant = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let credentials = WeChatPayV3.Credentials(
            merchantId: "1900000001", appId: "wxd678efh567hg6787", merchantSerial: "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
            merchantKey: merchant, apiV3Key: SymmetricKey(data: Data(count: 32)), platformKeys: [:],
            notifyURL: "https://pay.example.com/notify")
        let body = #"{"amount":{"total":100}}"#
        let header = try WeChatPayV3.authorization(
            method: "POST", pathAndQuery: "/v3/pay/transactions/native", body: body, timestamp: 1_554_208_460,
            nonce: "593BEC0C930BF1AFEB40B4A08C8FB242", credentials: credentials)
        #expect(header.hasPrefix("WECHATPAY2-SHA256-RSA2048 mchid=\"1900000001\",nonce_str=\"593BEC0C930BF1AFEB40B4A08C8FB242\",signature=\""))
        #expect(header.hasSuffix("timestamp=\"1554208460\",serial_no=\"5157F09EFDC096DE15EBE81A47057A7232F1B8E1\""))
        let signature = try #require(header.split(separator: "\"").dropFirst(5).first.map(String.init))
        let message = "POST\n/v3/pay/transactions/native\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\(body)\n"
        #expect(RSAKeys.verify(signature, of: Data(message.utf8), with: merchant.publicKey))
    }
}
