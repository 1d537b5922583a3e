import Foundation

/// What a channel is asked to collect.
public struct ChannelOrder: Sendable, Hashable {
    public var outTradeNo: String
    public var description: String
    public var amount: Int64
    public var expiresAt: Date
    /// The payer's openid in the merchant's app: given, WeChat Pay makes a JSAPI (mini program / official account) order.
    public var payerOpenId: String?

    public init(outTradeNo: String, description: String, amount: Int64, expiresAt: Date, payerOpenId: String? = nil) {
        self.outTradeNo = outTradeNo; self.description = description; self.amount = amount; self.expiresAt = expiresAt
        self.payerOpenId = payerOpenId
    }
}

/// What the payer needs to pay: for the QR channels, the content of the QR code to show; for a WeChat JSAPI order,
/// the signed parameters the payer's app passes to `wx.requestPayment`.
public struct ChannelOrderRequest: Codable, Sendable, Hashable {
    public var kind: String
    public var codeUrl: String
    /// `appId`, `timeStamp`, `nonceStr`, `package`, `signType`, `paySign` (JSAPI only).
    public var parameters: [String: String]?

    public init(kind: String, codeUrl: String, parameters: [String: String]? = nil) {
        self.kind = kind
        self.codeUrl = codeUrl
        self.parameters = parameters
    }
}

/// A refund to send back through the channel that took the money.
public struct ChannelRefund: Sendable, Hashable {
    public var outRefundNo: String
    public var channelTransactionId: String
    public var amount: Int64
    /// The original payment's amount.
    public var total: Int64
    public var reason: String

    public init(outRefundNo: String, channelTransactionId: String, amount: Int64, total: Int64, reason: String) {
        self.outRefundNo = outRefundNo; self.channelTransactionId = channelTransactionId; self.amount = amount; self.total = total;
        self.reason = reason
    }
}

/// The channel's answer to a refund.
public struct ChannelRefundResult: Sendable, Hashable {
    public enum Status: String, Sendable { case succeeded, processing }
    public var channelRefundId: String
    public var status: Status

    public init(channelRefundId: String, status: Status) {
        self.channelRefundId = channelRefundId
        self.status = status
    }
}

/// A channel that takes money online: it creates a payable order and sends refunds back.
public protocol OnlineChannel: Sendable {
    var name: String { get }
    func createOrder(_ order: ChannelOrder) async throws(PaymentError) -> ChannelOrderRequest
    func refund(_ refund: ChannelRefund) async throws(PaymentError) -> ChannelRefundResult
    /// Closes an unpaid order at the channel, so the payer can no longer pay it.
    func close(outTradeNo: String) async throws(PaymentError)
}

extension PaymentError {
    static func channel(_ name: String, _ message: String) -> PaymentError {
        PaymentError(.channelFailed, code: "channel_failed", field: "channel", "\(name): \(message)")
    }
}

/// WeChat Pay v3 Native orders (a `code_url` for the payer to scan) and domestic refunds, answers verified.
public struct WeChatPayChannel: OnlineChannel {
    public let name = "wechatpay"
    let credentials: WeChatPayV3.Credentials
    let http: any ChannelHTTPClient
    let clock: @Sendable () -> Date

    public init(credentials: WeChatPayV3.Credentials, http: any ChannelHTTPClient, clock: @escaping @Sendable () -> Date = Date.init) {
        self.credentials = credentials
        self.http = http
        self.clock = clock
    }

    func call(_ path: String, body: String, expectBody: Bool = true) async throws(PaymentError) -> [String: Any] {
        let now = clock()
        let timestamp = Int64(now.timeIntervalSince1970)
        let nonce = UUID().uuidString.replacingOccurrences(of: "-", with: "")
        let authorization: String
        do {
            authorization = try WeChatPayV3.authorization(
                method: "POST", pathAndQuery: path, body: body, timestamp: timestamp, nonce: nonce,
                credentials: credentials)
        } catch {
            throw .channel(name, "the request cannot be signed")
        }
        let response: ChannelHTTPResponse
        do {
            response = try await http.send(
                ChannelHTTPRequest(
                    method: "POST", url: credentials.baseURL + path,
                    headers: [
                        "Authorization": authorization, "Content-Type": "application/json",
                        "Accept": "application/json", "User-Agent": "Courtyard",
                    ],
                    body: Array(body.utf8)))
        } catch {
            throw .channel(name, "no answer (\(type(of: error)))")
        }
        guard (200..<300).contains(response.status) else {
            let code = (try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])?["code"] as? String
            throw .channel(name, "refused with HTTP \(response.status)" + (code.map { " (\($0))" } ?? ""))
        }
        // Answers are signed like notifications; an unsigned or forged answer is not trusted.
        do {
            try WeChatPayV3.verify(
                .init(
                    timestamp: response.headers["wechatpay-timestamp"], nonce: response.headers["wechatpay-nonce"],
                    signature: response.headers["wechatpay-signature"], serial: response.headers["wechatpay-serial"]),
                body: response.body, now: clock(), keys: credentials.platformKeys)
        } catch {
            throw .channel(name, "the answer's signature does not verify (\(error.code))")
        }
        if !expectBody && response.body.isEmpty { return [:] }
        guard let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any] else {
            throw .channel(name, "the answer is not JSON")
        }
        return object
    }

    public func close(outTradeNo: String) async throws(PaymentError) {
        let body = String(decoding: (try? JSONSerialization.data(withJSONObject: ["mchid": credentials.merchantId])) ?? Data(), as: UTF8.self)
        _ = try await call("/v3/pay/transactions/out-trade-no/\(outTradeNo)/close", body: body, expectBody: false)
    }

    public func createOrder(_ order: ChannelOrder) async throws(PaymentError) -> ChannelOrderRequest {
        let expires = ISO8601DateFormatter.string(
            from: order.expiresAt, timeZone: TimeZone(identifier: "Asia/Shanghai")!,
            formatOptions: [.withInternetDateTime])
        if let openid = order.payerOpenId {
            let body = WeChatPayV3.nativeOrderBody(
                outTradeNo: order.outTradeNo, description: order.description, total: order.amount,
                expiresAt: expires, credentials: credentials, payerOpenId: openid)
            let answer = try await call("/v3/pay/transactions/jsapi", body: body)
            guard let prepayId = answer["prepay_id"] as? String, !prepayId.isEmpty else { throw .channel(name, "the answer has no prepay_id") }
            let parameters: [String: String]
            do {
                parameters = try WeChatPayV3.jsapiParameters(
                    prepayId: prepayId, timestamp: Int64(clock().timeIntervalSince1970),
                    nonce: UUID().uuidString.replacingOccurrences(of: "-", with: ""), credentials: credentials)
            } catch {
                throw .channel(name, "the payment parameters cannot be signed")
            }
            return ChannelOrderRequest(kind: "wechatpay_jsapi", codeUrl: "", parameters: parameters)
        }
        let body = WeChatPayV3.nativeOrderBody(
            outTradeNo: order.outTradeNo, description: order.description, total: order.amount,
            expiresAt: expires, credentials: credentials)
        let answer = try await call("/v3/pay/transactions/native", body: body)
        guard let url = answer["code_url"] as? String, !url.isEmpty else { throw .channel(name, "the answer has no code_url") }
        return ChannelOrderRequest(kind: "wechatpay_native", codeUrl: url)
    }

    public func refund(_ refund: ChannelRefund) async throws(PaymentError) -> ChannelRefundResult {
        let body = WeChatPayV3.refundBody(
            transactionId: refund.channelTransactionId, outRefundNo: refund.outRefundNo, reason: refund.reason,
            refund: refund.amount, total: refund.total)
        let answer = try await call("/v3/refund/domestic/refunds", body: body)
        guard let id = answer["refund_id"] as? String else { throw .channel(name, "the answer has no refund_id") }
        let status = answer["status"] as? String
        guard status == "SUCCESS" || status == "PROCESSING" else { throw .channel(name, "refund status \(status ?? "missing")") }
        return ChannelRefundResult(channelRefundId: id, status: status == "SUCCESS" ? .succeeded : .processing)
    }
}

/// Alipay precreate orders (a QR code) and refunds, answers verified with the Alipay public key.
public struct AlipayChannel: OnlineChannel {
    public let name = "alipay"
    let credentials: Alipay.Credentials
    let http: any ChannelHTTPClient
    let clock: @Sendable () -> Date

    public init(credentials: Alipay.Credentials, http: any ChannelHTTPClient, clock: @escaping @Sendable () -> Date = Date.init) {
        self.credentials = credentials
        self.http = http
        self.clock = clock
    }

    var timestamp: String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "Asia/Shanghai")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.string(from: clock())
    }

    func call(_ parameters: [(name: String, value: String)], node: String) async throws(PaymentError) -> [String: Any] {
        let response: ChannelHTTPResponse
        do {
            response = try await http.send(
                ChannelHTTPRequest(
                    method: "POST", url: credentials.gateway,
                    headers: ["Content-Type": "application/x-www-form-urlencoded;charset=utf-8"],
                    body: Array(FormEncoding.encode(parameters).utf8)))
        } catch {
            throw .channel(name, "no answer (\(type(of: error)))")
        }
        guard (200..<300).contains(response.status) else { throw .channel(name, "refused with HTTP \(response.status)") }
        guard let answer = Alipay.verifyResponse(String(decoding: response.body, as: UTF8.self), node: node, key: credentials.alipayPublicKey) else {
            throw .channel(name, "the answer's signature does not verify")
        }
        guard answer["code"] as? String == "10000" else {
            throw .channel(name, "refused: \(answer["sub_code"] as? String ?? answer["code"] as? String ?? "unknown")")
        }
        return answer
    }

    public func createOrder(_ order: ChannelOrder) async throws(PaymentError) -> ChannelOrderRequest {
        let minutes = max(1, Int(order.expiresAt.timeIntervalSince(clock()) / 60))
        let parameters: [(name: String, value: String)]
        do {
            parameters = try Alipay.precreateParameters(
                outTradeNo: order.outTradeNo, subject: order.description, total: order.amount,
                timeoutExpress: "\(minutes)m", timestamp: timestamp, credentials: credentials)
        } catch {
            throw .channel(name, "the request cannot be signed")
        }
        let answer = try await call(parameters, node: "alipay_trade_precreate_response")
        guard let url = answer["qr_code"] as? String, !url.isEmpty else { throw .channel(name, "the answer has no qr_code") }
        return ChannelOrderRequest(kind: "alipay_qr", codeUrl: url)
    }

    public func refund(_ refund: ChannelRefund) async throws(PaymentError) -> ChannelRefundResult {
        let parameters: [(name: String, value: String)]
        do {
            parameters = try Alipay.refundParameters(
                tradeNo: refund.channelTransactionId, outRequestNo: refund.outRefundNo, amount: refund.amount,
                reason: refund.reason, timestamp: timestamp, credentials: credentials)
        } catch {
            throw .channel(name, "the request cannot be signed")
        }
        let answer = try await call(parameters, node: "alipay_trade_refund_response")
        return ChannelRefundResult(
            channelRefundId: (answer["trade_no"] as? String ?? refund.channelTransactionId) + ":" + refund.outRefundNo,
            status: .succeeded)
    }

    public func close(outTradeNo: String) async throws(PaymentError) {
        let parameters: [(name: String, value: String)]
        do {
            parameters = try Alipay.signed(
                [
                    ("app_id", credentials.appId), ("method", "alipay.trade.close"), ("format", "JSON"), ("charset", "utf-8"),
                    ("sign_type", "RSA2"), ("timestamp", timestamp), ("version", "1.0"),
                    ("biz_content", #"{"out_trade_no":""# + outTradeNo + #""}"#),
                ], with: credentials.appPrivateKey)
        } catch {
            throw .channel(name, "the request cannot be signed")
        }
        do {
            _ = try await call(parameters, node: "alipay_trade_close_response")
        } catch  where error.message.contains("ACQ.TRADE_NOT_EXIST") {
            // The payer never scanned the code: Alipay has no trade to close.
        }
    }
}
