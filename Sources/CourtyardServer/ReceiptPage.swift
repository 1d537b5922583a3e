import CourtyardDomain
import CourtyardPayments
import CourtyardQR
import Foundation
import Hummingbird

/// QR drawings for pages: an SVG at a size that prints legibly.
enum QRCodeDrawing {
    static func svg(_ text: String) throws -> String {
        try QRCode.encode(text, errorCorrection: .medium).svg(moduleSize: 4, border: 4)
    }
}

/// A receipt as a printable HTML page (A5-friendly print CSS) with its verification QR code.
enum ReceiptPage {
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func html(_ receipt: Receipt, publicURL: String, voided: Bool, verification: Bool) -> String {
        let link = publicURL + "/r/" + receipt.token
        let qr = (try? QRCodeDrawing.svg(link)) ?? ""
        // Local time of the community, as people read it: "2026-11-22 10:05:31 (UTC+08:00)".
        let zone = receipt.timeZone.flatMap(TimeZone.init(identifier:)) ?? TimeZone(identifier: "Asia/Shanghai") ?? .gmt
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = zone
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss '(UTC'xxx')'"
        let title = receipt.kind == .payment ? "Receipt 收据" : receipt.kind == .refund ? "Refund voucher 退款凭证" : "Deposit release voucher 押金退还凭证"
        let rows = receipt.lines.map { "<tr><td>\(escape($0.description))</td><td class=\"amount\">\($0.amount.decimalText)</td></tr>" }.joined()
        return """
            <!doctype html>
            <html lang="zh-CN"><head><meta charset="utf-8"><title>\(receipt.displayNumber)</title>
            <style>
            body{font-family:system-ui,"PingFang SC","Noto Sans CJK SC",sans-serif;margin:2rem;color:#111}
            .receipt{max-width:40rem;border:1px solid #999;padding:1.5rem}
            h1{font-size:1.3rem;margin:0 0 .5rem} table{width:100%;border-collapse:collapse;margin:1rem 0}
            td,th{border-bottom:1px solid #ddd;padding:.3rem;text-align:left} .amount{text-align:right;font-variant-numeric:tabular-nums}
            .total td{font-weight:bold;border-top:2px solid #111} .meta{display:grid;grid-template-columns:8rem 1fr;gap:.2rem .8rem}
            .qr{float:right;width:9rem} .void{color:#b00;font-weight:bold;font-size:1.2rem} .verified{color:#060}
            @media print{body{margin:0} .noprint{display:none} .receipt{border:none}}
            @page{size:A5;margin:10mm}
            </style></head><body><div class="receipt">
            <div class="qr">\(qr)</div>
            <h1>\(escape(receipt.companyName)) · \(title)</h1>
            \(voided ? "<p class=\"void\">VOIDED 已作废</p>" : "")
            \(verification ? "<p class=\"verified\">This receipt is on record at \(escape(receipt.companyName)). 此收据真实有效。</p>" : "")
            <div class="meta">
            <span>No. 编号</span><span>\(receipt.displayNumber)</span>
            <span>Community 小区</span><span>\(escape(receipt.communityName))</span>
            <span>House 房屋</span><span>\(escape(receipt.house))</span>
            <span>Payer 付款人</span><span>\(escape(receipt.payer ?? "—"))</span>
            <span>Channel 渠道</span><span>\(escape(receipt.channel))</span>
            <span>Reference 流水号</span><span>\(escape(receipt.channelReference))</span>
            <span>Issued 开具时间</span><span>\(formatter.string(from: receipt.issuedAt))</span>
            </div>
            <table><thead><tr><th>Item 项目</th><th class="amount">Amount 金额 (\(receipt.total.currency.code))</th></tr></thead>
            <tbody>\(rows)<tr class="total"><td>Total 合计</td><td class="amount">\(receipt.total.decimalText)</td></tr></tbody></table>
            <p class="noprint">Verify: <a href="\(escape(link))">\(escape(link))</a></p>
            </div></body></html>
            """
    }

    /// What someone who scanned a receipt's QR code sees when the code is not one of ours: a page, not JSON.
    static func notFound() -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        let page = """
            <!doctype html>
            <html lang="zh-CN"><head><meta charset="utf-8"><title>Receipt not found 未找到收据</title>
            <style>body{font-family:system-ui,"PingFang SC","Noto Sans CJK SC",sans-serif;margin:2rem;color:#111;max-width:36rem}</style>
            </head><body><h1>Receipt not found 未找到收据</h1>
            <p>No receipt has this code. Check that the whole QR code was scanned, or ask the property office to look the receipt up
            by its number.</p><p>此二维码不对应任何收据。请确认完整扫描，或凭收据编号向物业服务中心查询。</p></body></html>
            """
        return Response(status: .notFound, headers: headers, body: .init(byteBuffer: ByteBuffer(string: page)))
    }

    static func response(_ receipt: Receipt, publicURL: String, voided: Bool, verification: Bool = false) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        return Response(
            status: .ok, headers: headers,
            body: .init(byteBuffer: ByteBuffer(string: html(receipt, publicURL: publicURL, voided: voided, verification: verification))))
    }
}
