import CourtyardPayments
import Foundation
import Testing
import _CryptoExtras

/// Alipay RSA2 checked against an implementation that is not ours: every expected value below was made with OpenSSL
/// 3 (`openssl dgst -sha256 -sign key.pem`, SHA256withRSA with PKCS#1 v1.5 padding) over a canonical string written by
/// hand from Alipay's rule (parameters sorted by name, `sign`, `sign_type` and empty values left out), and the
/// notification body was form-encoded by Python's `urllib.parse.urlencode`. The key is a throwaway made for this test.
@Suite("Alipay RSA2 against OpenSSL")
struct AlipayKnownAnswerTests {
    static let keyPEM = """
        -----BEGIN PRIVATE KEY-----
        MIIEvwIBADANBgkqhkiG9w0BAQEFAASCBKkwggSlAgEAAoIBAQCoIQIzvZONk/UQ
        v7nioZKtGW2amnEr3WLacBPZ71swBoqAVs2ra/59H7k4rk9IWqFqCcljLmwrxXWS
        tDhsVxLd8BS5UN8B22fxKmV9UalAxRFrh8Hr/CIM/0PfEFTsPqDxEu/JnCn3ifRY
        4BOqtb9YvcYkr98QWFjSftA4qmJTOHscnIgoPlaBGeZT6vEicC8suEBENo5zBdJg
        hPKSvUnNOfSru2tU2mCizWfl9L/AxLwpVRYw8rHWN13/By/GXXNm0b0QDbF3U9PF
        D4FIIQuMHynHAMXeht9edfaj6XIzcxBMMaq/bUAyhB0rOMzuZIHrbF7Ojzi+wsx0
        /4AA/q93AgMBAAECggEAAw240tEmVtBxbepYvHKCmpOj9EZkBTY72OU0BX9kHX7i
        hH4CT0Y8J/A4qeLHyUC7V/sxUq4hqp8NllDUPR3mirkuqMaWV+jKiv+u1AD0yed3
        L25J43jZWRLiNZdzPpuZyoPoogJ5l3R3rfOOUXy3XhIlGqTgSfvPMfq52mwE/1qE
        OVTlnIPr2EMrX2l/Z1E7P8H7STbV2t2U/WkNRZg0/sBDzFgv/3rQUJxTw2G3n5lF
        7yxDXUN5T013saG8BfZ+9jA9QK8JxV38vJPY2TD9Qof3q/xO6QjLnH8dEtZHFkAl
        m0ZDZ6JglHyzguy3v4urFg9KdjnJUiHfIYdBsFs9fQKBgQDR29x0u6VTQaP+BFqj
        yaKHgo21R4WHym/7m+TWLVbiOsL6ojvL5qXaq+vTfnCoF7T9+g6tvl7NKe8NOWSo
        RFVfHWCKBpfkHEOIPcVvh1zuROSHYK3x/0mOUlJdYsy3Vvi6AH7HxhQTam9tZ/TA
        OZ9HwwlDWlt5KCaVhQsRvO1uBQKBgQDNGFV0nM9OLrQTwmAZ5gMQg7nsAcM6TA2v
        wXR0hcXbDZ+dXFNlFqsddKrqAEOiYNdSjYUi7jxdYFhyWElIwCPh/CUpoiRBtVwb
        Zyk+akcPgl4vY661Cwbkwq/J9Q1C2FdaqDUo+vya3OzgiRUl9qSzlM9OJIz4wBlk
        8PJiQxfkSwKBgQCxuN1ZKnSXLnbAL1XHcYIn+oMh62EFH4Z4cYx5aUo0KolnEi9L
        vZfluUTtBh5H7FPF5pe5wges/f9JlrpM2hnmhA12tqC5eMokPhPPILatvkA++bw1
        vfnAAq1oErzF42yesL6tVm04CCI3aBtZEzN15ZEZrhLbZwpOA67dJb95NQKBgQC/
        CZyH24yJ4ZzhDtwfI43VMy3aNKYZxj+1Z3hHFVf/u8fidt5DOgM3k7Wj840MUjIe
        9i1+JPTbcWPRVoUkm7yQwiIHjr1A62KZL9VOCwaX3rJGaA6TGmtYaDP/5R9uFUAA
        9M9Xlbn3sjN+zpGBZCV0FPeobQlWpvDAgmLzvlUh0wKBgQC2DcZY7VG8wN7aap6e
        aJ/IVRlbXJvPIBCmnMJiEKV0onDiX4fAHr/kNuI/iasgMxUCyFGfn1Fvzw28gpdQ
        hH2XqshkrF1GB90EAeKc9F4ONBCYKH+ChAxvA9cX1kRB2/9469zojO9Z24uqf07P
        WLU4y9feJyIMo3oVpRAF+tutxw==
        -----END PRIVATE KEY-----
        """

    /// The canonical string of the notification below, by hand: 14 parameters in byte order, `seller_email` (empty),
    /// `sign` and `sign_type` left out, values URL-decoded (the space and the Chinese characters as they are).
    static let notificationContent =
        "app_id=2021000000000001&buyer_id=2088102177846880&charset=utf-8&gmt_create=2026-11-20 10:00:00"
        + "&gmt_payment=2026-11-20 10:00:05&notify_id=ac05099524730693a8b330c5ecf72da9786&notify_type=trade_status_sync"
        + "&out_trade_no=CY0123456789ABCDEF0123456789ABCD&seller_id=2088000000000001&subject=物业费 2026-10&total_amount=88.88"
        + "&trade_no=2026112022001446881412345678&trade_status=TRADE_SUCCESS&version=1.0"

    /// `printf '%s' "$content" | openssl dgst -sha256 -sign key.pem | base64 -w0`
    static let notificationSignature =
        "X+v/k8adMicoMTO6jEWpvhIg16M4Pe7LYL+q6W/Knyg5TNA69MXFMtpJ3UjLZlN4XoG0NzSJ+GDCCY7KIzKnsNxf7DuM+67XnqHeZoDQ2IYQhwrwUvZgDgWWTWUJoVBuztHK5gtk3bPo3APu3wWVysJlrXVqtzhWT+X7LEGwSVHUEXEyRW4Ll5vKDZbvnPqrWJZD1SBCAyVmoSWUUCrHOnd5MS3t6x/rFybYa+6PwzP/xHDz11xDZZwJNyzNNyyRK6m7SVSytizL1ZnSPiejQfwAquFDjyTh+q64H5CS5k+bUuxRyP3N/ZQysTLI2waQ3mK/IFdTz1YX8O7IIRC7Lg=="

    /// The notification as Alipay would POST it, form-encoded by Python (`+` for spaces, UTF-8 percent escapes).
    static let notificationBody = [
            "gmt_create=2026-11-20+10%3A00%3A00&charset=utf-8&seller_email=&subject=%E7%89%A9%E4%B8%9A%E8%B4%B9+2",
            "026-10&buyer_id=2088102177846880&notify_type=trade_status_sync&total_amount=88.88&trade_no=202611202",
            "2001446881412345678&notify_id=ac05099524730693a8b330c5ecf72da9786&app_id=2021000000000001&out_trade_",
            "no=CY0123456789ABCDEF0123456789ABCD&trade_status=TRADE_SUCCESS&seller_id=2088000000000001&gmt_paymen",
            "t=2026-11-20+10%3A00%3A05&version=1.0&sign=X%2Bv%2Fk8adMicoMTO6jEWpvhIg16M4Pe7LYL%2Bq6W%2FKnyg5TNA69",
            "MXFMtpJ3UjLZlN4XoG0NzSJ%2BGDCCY7KIzKnsNxf7DuM%2B67XnqHeZoDQ2IYQhwrwUvZgDgWWTWUJoVBuztHK5gtk3bPo3APu3",
            "wWVysJlrXVqtzhWT%2BX7LEGwSVHUEXEyRW4Ll5vKDZbvnPqrWJZD1SBCAyVmoSWUUCrHOnd5MS3t6x%2FrFybYa%2B6PwzP%2Fx",
            "HDz11xDZZwJNyzNNyyRK6m7SVSytizL1ZnSPiejQfwAquFDjyTh%2Bq64H5CS5k%2BbUuxRyP3N%2FZQysTLI2waQ3mK%2FIFdTz",
            "1YX8O7IIRC7Lg%3D%3D&sign_type=RSA2",
    ].joined()

    /// A gateway request's canonical string (its `sign_type` stays in for requests) and OpenSSL's signature of it.
    static let requestContent =
        #"app_id=2021000000000001&biz_content={"out_trade_no":"CY1","total_amount":"88.88","subject":"物业费"}"#
        + "&charset=utf-8&method=alipay.trade.precreate&sign_type=RSA2&timestamp=2026-11-20 10:00:00&version=1.0"
    static let requestSignature =
        "Uhn49VPdYKMACfupYmV+WL1n+C4OcyEfd+k5nQ19iiCsz46HwPXd5O7mPMn9/tcRUzQw+gMDWcHSatZZhnkNoRPrAfHDKKT85dEPSLLn26ph3HrMvqe3H3v7zRx9rnWHaGMZS9BY7kED7UKPThL7g609w9rqjIf9JnWbjQlXOGATCOEm8DEHpDTD6GmCbTW1Oc5M56b7vFKe9cjvZcBhE4mF967+pzsV35ipioZTaGcCc4iFmvUYaOPEfb9Cr0101D66I2LUGpCPjs1pdLSFI5YVXYKsYAQwRuhsSoUmWzJpz0dC8fWxSDXeXpl+Fnng08PPINehVnwsxRnPYW6TUg=="

    static var key: _RSA.Signing.PrivateKey { get throws { try RSAKeys.privateKey(keyPEM) } }

    @Test("our canonical string of the notification is the one written by hand")
    func canonicalString() throws {
        let fields = try #require(FormEncoding.decode(Array(Self.notificationBody.utf8)))
        #expect(Alipay.signContent(fields, excluding: ["sign", "sign_type"]) == Self.notificationContent)
    }

    @Test("a notification signed by OpenSSL and encoded by Python verifies, and yields 88.88 yuan as 8,888 fen")
    func opensslNotificationVerifies() throws {
        let credentials = Alipay.Credentials(
            appId: "2021000000000001", sellerId: "2088000000000001", appPrivateKey: try Self.key,
            alipayPublicKey: try Self.key.publicKey, notifyURL: "https://pay.example.com/api/v1/payments/notify/alipay")
        let (notification, _) = try Alipay.verifyNotification(Array(Self.notificationBody.utf8), credentials: [credentials])
        #expect(notification.totalAmount == 8_888)
        #expect(notification.outTradeNo == "CY0123456789ABCDEF0123456789ABCD")
        // One changed byte in a signed value is refused.
        let changed = Self.notificationBody.replacingOccurrences(of: "total_amount=88.88", with: "total_amount=88.89")
        #expect(throws: PaymentError.self) { try Alipay.verifyNotification(Array(changed.utf8), credentials: [credentials]) }
    }

    @Test("our signatures are byte for byte OpenSSL's (PKCS#1 v1.5 is deterministic)")
    func signaturesMatchOpenSSL() throws {
        #expect(try RSAKeys.sign(Data(Self.notificationContent.utf8), with: Self.key) == Self.notificationSignature)
        #expect(try RSAKeys.sign(Data(Self.requestContent.utf8), with: Self.key) == Self.requestSignature)
    }

    @Test("a signed gateway request carries OpenSSL's signature of the hand-written canonical string")
    func signedRequest() throws {
        let parameters: [(name: String, value: String)] = [
            ("method", "alipay.trade.precreate"), ("app_id", "2021000000000001"), ("charset", "utf-8"), ("sign_type", "RSA2"),
            ("timestamp", "2026-11-20 10:00:00"), ("version", "1.0"), ("notify_url", ""),
            ("biz_content", #"{"out_trade_no":"CY1","total_amount":"88.88","subject":"物业费"}"#),
        ]
        let signed = try Alipay.signed(parameters, with: Self.key)
        #expect(signed.last?.name == "sign")
        #expect(signed.last?.value == Self.requestSignature)
    }
}
