import Crypto
import Foundation
import _CryptoExtras

/// Channel credentials per company, read once at start from a JSON file (`COURTYARD_PAYMENTS_CONFIG`), keyed by
/// company id or code (``resolvingCompanyCodes(_:)``).
///
/// Secret values may be given inline, as `env:NAME` (read from the environment) or `file:/path` (read from a file), so
/// the file itself can be kept free of secrets. Nothing here is ever logged or returned by the API:
/// ``description`` names only which channels are configured.
///
/// ```json
/// {"companies": {"<company id>": {
///    "wechatpay": {"mch_id": "1900000001", "app_id": "wx…", "merchant_serial": "5157F0…", "merchant_private_key": "file:/etc/courtyard/apiclient_key.pem",
///                  "api_v3_key": "env:WECHATPAY_APIV3_KEY", "platform_public_keys": {"PUB_KEY_ID_01…": "file:/etc/courtyard/wechatpay_pub.pem"},
///                  "notify_url": "https://pay.example.com/api/v1/payments/notify/wechatpay"},
///    "alipay": {"app_id": "2021…", "seller_id": "2088…", "app_private_key": "env:ALIPAY_APP_KEY", "alipay_public_key": "file:/etc/courtyard/alipay_pub.txt",
///               "notify_url": "https://pay.example.com/api/v1/payments/notify/alipay"}}}}
/// ```
public struct ChannelConfiguration: Sendable, CustomStringConvertible {
    /// One company's online channels.
    public struct Company: Sendable {
        public var wechatPay: WeChatPayV3.Credentials?
        public var alipay: Alipay.Credentials?

        public init(wechatPay: WeChatPayV3.Credentials? = nil, alipay: Alipay.Credentials? = nil) {
            self.wechatPay = wechatPay
            self.alipay = alipay
        }
    }

    public var companies: [String: Company]

    public init(companies: [String: Company] = [:]) {
        self.companies = companies
    }

    /// Which company owns a WeChat Pay notification signed under `serial` (several merchants may share a serial; the
    /// APIv3 key that opens the resource decides).
    public func wechatPayMerchants(serial: String) -> [(companyId: String, credentials: WeChatPayV3.Credentials)] {
        companies.compactMap { id, company in
            guard let wechat = company.wechatPay, wechat.platformKeys[serial] != nil else { return nil }
            return (id, wechat)
        }.sorted { $0.companyId < $1.companyId }
    }

    public func alipayApps() -> [(companyId: String, credentials: Alipay.Credentials)] {
        companies.compactMap { id, company in company.alipay.map { (id, $0) } }.sorted { $0.companyId < $1.companyId }
    }

    public var description: String {
        let parts = companies.keys.sorted().map { id -> String in
            let company = companies[id]!
            return id + ": "
                + ([company.wechatPay.map { _ in "wechatpay" }, company.alipay.map { _ in "alipay" }].compactMap { $0 }.joined(separator: ", "))
        }
        return "ChannelConfiguration(" + parts.joined(separator: "; ") + ")"
    }

    /// The configuration with each company named by its id. A file may name a company by its code (`"demo"`) as well:
    /// operators know codes, and a code is known before the company's id is (a demo or test installation seeds its
    /// company at start). `idForCode` looks a code up; a key that is no code is kept as an id.
    public func resolvingCompanyCodes(_ idForCode: (String) async throws -> String?) async rethrows -> ChannelConfiguration {
        var resolved = ChannelConfiguration()
        for (key, company) in companies {
            resolved.companies[try await idForCode(key) ?? key] = company
        }
        return resolved
    }

    /// Why a configuration file was refused (names the setting, never its value).
    public struct LoadError: Error, CustomStringConvertible, Sendable {
        public var setting: String
        public var reason: String
        public var description: String { "payments configuration: \(setting): \(reason)" }
    }

    /// Reads a configuration file.
    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ChannelConfiguration {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard let root = try JSONSerialization.jsonObject(with: data) as? [String: Any],
            let companies = root["companies"] as? [String: Any]
        else {
            throw LoadError(setting: "companies", reason: "the file must be {\"companies\": {…}}")
        }
        var result = ChannelConfiguration()
        for (companyId, value) in companies {
            guard let entry = value as? [String: Any] else { throw LoadError(setting: companyId, reason: "must be an object") }
            var company = Company()
            if let wechat = entry["wechatpay"] as? [String: Any] {
                company.wechatPay = try wechatCredentials(wechat, prefix: "\(companyId).wechatpay", environment: environment)
            }
            if let alipay = entry["alipay"] as? [String: Any] {
                company.alipay = try alipayCredentials(alipay, prefix: "\(companyId).alipay", environment: environment)
            }
            result.companies[companyId] = company
        }
        return result
    }

    static func secret(_ object: [String: Any], _ key: String, prefix: String, environment: [String: String]) throws -> String {
        guard let raw = object[key] as? String, !raw.isEmpty else { throw LoadError(setting: "\(prefix).\(key)", reason: "is required") }
        if raw.hasPrefix("env:") {
            guard let value = environment[String(raw.dropFirst(4))], !value.isEmpty else {
                throw LoadError(setting: "\(prefix).\(key)", reason: "environment variable \(raw.dropFirst(4)) is not set")
            }
            return value
        }
        if raw.hasPrefix("file:") {
            guard let value = try? String(contentsOfFile: String(raw.dropFirst(5)), encoding: .utf8) else {
                throw LoadError(setting: "\(prefix).\(key)", reason: "file \(raw.dropFirst(5)) cannot be read")
            }
            return value.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return raw
    }

    static func wechatCredentials(_ object: [String: Any], prefix: String, environment: [String: String]) throws -> WeChatPayV3.Credentials {
        let apiKey = try secret(object, "api_v3_key", prefix: prefix, environment: environment)
        guard apiKey.utf8.count == 32 else { throw LoadError(setting: "\(prefix).api_v3_key", reason: "must be 32 characters") }
        guard let keys = object["platform_public_keys"] as? [String: Any], !keys.isEmpty else {
            throw LoadError(setting: "\(prefix).platform_public_keys", reason: "at least one serial → public key is required")
        }
        var platform: [String: _RSA.Signing.PublicKey] = [:]
        for serial in keys.keys {
            do {
                platform[serial] = try RSAKeys.publicKey(try secret(keys, serial, prefix: "\(prefix).platform_public_keys", environment: environment))
            } catch is PaymentError {
                throw LoadError(setting: "\(prefix).platform_public_keys.\(serial)", reason: "is not an RSA public key")
            }
        }
        let merchantKey: _RSA.Signing.PrivateKey
        do {
            merchantKey = try RSAKeys.privateKey(try secret(object, "merchant_private_key", prefix: prefix, environment: environment))
        } catch is PaymentError {
            throw LoadError(setting: "\(prefix).merchant_private_key", reason: "is not an RSA private key")
        }
        return WeChatPayV3.Credentials(
            merchantId: try secret(object, "mch_id", prefix: prefix, environment: environment),
            appId: try secret(object, "app_id", prefix: prefix, environment: environment),
            merchantSerial: try secret(object, "merchant_serial", prefix: prefix, environment: environment),
            merchantKey: merchantKey, apiV3Key: SymmetricKey(data: Data(apiKey.utf8)), platformKeys: platform,
            notifyURL: try secret(object, "notify_url", prefix: prefix, environment: environment),
            baseURL: (object["base_url"] as? String) ?? "https://api.mch.weixin.qq.com")
    }

    static func alipayCredentials(_ object: [String: Any], prefix: String, environment: [String: String]) throws -> Alipay.Credentials {
        let privateKey: _RSA.Signing.PrivateKey
        let publicKey: _RSA.Signing.PublicKey
        do {
            privateKey = try RSAKeys.privateKey(try secret(object, "app_private_key", prefix: prefix, environment: environment))
        } catch is PaymentError {
            throw LoadError(setting: "\(prefix).app_private_key", reason: "is not an RSA private key")
        }
        do {
            publicKey = try RSAKeys.publicKey(try secret(object, "alipay_public_key", prefix: prefix, environment: environment))
        } catch is PaymentError {
            throw LoadError(setting: "\(prefix).alipay_public_key", reason: "is not an RSA public key")
        }
        return Alipay.Credentials(
            appId: try secret(object, "app_id", prefix: prefix, environment: environment),
            sellerId: try secret(object, "seller_id", prefix: prefix, environment: environment),
            appPrivateKey: privateKey, alipayPublicKey: publicKey,
            gateway: (object["gateway"] as? String) ?? "https://openapi.alipay.com/gateway.do",
            notifyURL: try secret(object, "notify_url", prefix: prefix, environment: environment))
    }
}
