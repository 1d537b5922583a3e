import CourtyardPayments
import Foundation
import Testing
import _CryptoExtras

/// Channel credentials come from a file whose secrets may live in the environment or in files of their own, and are
/// never printed.
@Suite("Channel configuration")
struct ChannelConfigurationTests {
    static func write(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cy-\(UUID().uuidString)").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("a configuration with env: and file: secrets loads, and its description names channels, never secrets")
    func loads() throws {
        let merchant = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let platform = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let keyFile = try Self.write(merchant.pemRepresentation)
        let platformFile = try Self.write(platform.publicKey.pemRepresentation)
        // Alipay's console shows bare base64 DER keys.
        let alipayPublic = platform.publicKey.derRepresentation.base64EncodedString()
        let config = """
            {"companies": {"co-1": {
              "wechatpay": {"mch_id": "1900000109", "app_id": "wx1", "merchant_serial": "ABC", "merchant_private_key": "file:\(keyFile)",
                            "api_v3_key": "env:TEST_APIV3", "platform_public_keys": {"PUB_KEY_ID_1": "file:\(platformFile)"},
                            "notify_url": "https://pay.example.com/api/v1/payments/notify/wechatpay"},
              "alipay": {"app_id": "2021", "seller_id": "2088", "app_private_key": "file:\(keyFile)", "alipay_public_key": "\(alipayPublic)",
                         "notify_url": "https://pay.example.com/api/v1/payments/notify/alipay"}}}}
            """
        let loaded = try ChannelConfiguration.load(path: try Self.write(config), environment: ["TEST_APIV3": "0123456789abcdef0123456789abcdef"])
        #expect(loaded.companies["co-1"]?.wechatPay?.merchantId == "1900000109")
        #expect(loaded.wechatPayMerchants(serial: "PUB_KEY_ID_1").map(\.companyId) == ["co-1"])
        #expect(loaded.alipayApps().first?.credentials.sellerId == "2088")
        #expect(loaded.description == "ChannelConfiguration(co-1: wechatpay, alipay)")
        #expect(!loaded.description.contains("0123456789abcdef"))
    }

    @Test("a missing secret or a bad key is named by its setting, without its value")
    func refusals() throws {
        let config = """
            {"companies": {"co-1": {"wechatpay": {"mch_id": "1", "app_id": "wx1", "merchant_serial": "A", "merchant_private_key": "not a key",
              "api_v3_key": "env:MISSING_KEY", "platform_public_keys": {"S": "x"}, "notify_url": "https://x"}}}}
            """
        do {
            _ = try ChannelConfiguration.load(path: try Self.write(config), environment: [:])
            Issue.record("loaded")
        } catch let error as ChannelConfiguration.LoadError {
            #expect(error.setting == "co-1.wechatpay.api_v3_key")
            #expect(error.description.contains("MISSING_KEY"))
        }
        let badKey = config.replacingOccurrences(of: "env:MISSING_KEY", with: "0123456789abcdef0123456789abcdef")
            .replacingOccurrences(
                of: "\"S\": \"x\"",
                with:
                    "\"S\": \"\(try _RSA.Signing.PrivateKey(keySize: .bits2048).publicKey.pemRepresentation.replacingOccurrences(of: "\n", with: "\\n"))\""
            )
        do {
            _ = try ChannelConfiguration.load(path: try Self.write(badKey), environment: [:])
            Issue.record("loaded")
        } catch let error as ChannelConfiguration.LoadError {
            #expect(error.setting == "co-1.wechatpay.merchant_private_key")
            #expect(!error.description.contains("not a key"))
        }
    }
}
