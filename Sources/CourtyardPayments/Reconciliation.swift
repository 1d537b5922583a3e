import CourtyardDomain
import CourtyardStorage
import Foundation
import SQLKit

/// Daily reconciliation (对账) of a channel's statement against what Courtyard recorded: every payment and refund is
/// matched, missing on our side, missing on theirs, or differs in amount.
///
/// Statement formats (both as downloaded, UTF-8):
/// - **WeChat Pay trade bill** (交易账单, `bill_type=ALL`): header `交易时间,公众账号ID,商户号,…,微信订单号,商户订单号,…,交易状态,…,
///   应结订单金额,…,微信退款单号,商户退款单号,退款金额,…`; every field may start with a backtick; the summary after `总交易单数` is skipped.
///   `交易状态` SUCCESS rows are payments (微信订单号, 应结订单金额); REFUND rows are refunds (微信退款单号, 退款金额).
/// - **Alipay transaction detail** (交易明细): `#` comment lines, then a header with `支付宝交易号,商户订单号,业务类型,…,订单金额（元）,…,
///   退款批次号/请求号,…`; `业务类型` 交易 rows are payments, 退款 rows are refunds (by 退款批次号/请求号).
public struct Reconciliation: Sendable {
    public let tenant: TenantSQL

    public init(_ tenant: TenantSQL) {
        self.tenant = tenant
    }

    /// One line of a channel statement, normalized.
    public struct StatementEntry: Sendable, Hashable {
        public enum Kind: String, Codable, Sendable { case payment, refund }
        public var kind: Kind
        /// The channel's transaction id (payments) or refund id (refunds).
        public var reference: String
        public var outTradeNo: String?
        public var amount: Int64

        public init(kind: Kind, reference: String, outTradeNo: String?, amount: Int64) {
            self.kind = kind; self.reference = reference; self.outTradeNo = outTradeNo; self.amount = amount
        }
    }

    public struct Item: Codable, Sendable, Hashable {
        public enum Outcome: String, Codable, Sendable {
            case matched
            case missingOurs = "missing_ours"
            case missingTheirs = "missing_theirs"
            case amountMismatch = "amount_mismatch"
        }

        public var kind: StatementEntry.Kind
        public var outcome: Outcome
        public var channelReference: String
        public var outTradeNo: String?
        public var ourAmount: Money?
        public var theirAmount: Money?

        public init(
            kind: StatementEntry.Kind, outcome: Outcome, channelReference: String, outTradeNo: String?, ourAmount: Money?, theirAmount: Money?
        ) {
            self.kind = kind; self.outcome = outcome; self.channelReference = channelReference; self.outTradeNo = outTradeNo
            self.ourAmount = ourAmount; self.theirAmount = theirAmount
        }
    }

    public struct Report: Codable, Sendable, Hashable {
        public var runId: String
        public var channel: String
        public var date: LocalDate
        public var matched: Int
        public var missingOurs: Int
        public var missingTheirs: Int
        public var amountMismatch: Int
        /// Everything but the matched items.
        public var exceptions: [Item]

        public init(
            runId: String, channel: String, date: LocalDate, matched: Int, missingOurs: Int, missingTheirs: Int, amountMismatch: Int,
            exceptions: [Item]
        ) {
            self.runId = runId; self.channel = channel; self.date = date; self.matched = matched; self.missingOurs = missingOurs
            self.missingTheirs = missingTheirs; self.amountMismatch = amountMismatch; self.exceptions = exceptions
        }
    }

    /// Parses a statement of `channel` (`wechatpay` or `alipay`).
    public static func parse(_ text: String, channel: String) throws(PaymentError) -> [StatementEntry] {
        let records = CSV.records(text).map { ($0.line, $0.fields.map { Self.clean($0) }) }
        func column(_ header: [String], _ name: String) throws(PaymentError) -> Int {
            guard let index = header.firstIndex(of: name) else {
                throw PaymentError(.invalid, code: "csv_missing_column", field: name, "the \(channel) statement has no \(name) column")
            }
            return index
        }
        switch channel {
        case "wechatpay":
            guard let start = records.firstIndex(where: { $0.1.contains("微信订单号") }) else {
                throw PaymentError(.invalid, code: "csv_missing_column", field: "微信订单号", "not a WeChat Pay trade bill")
            }
            let header = records[start].1
            let (transaction, out, state, settled, refundId, refundAmount) = (
                try column(header, "微信订单号"), try column(header, "商户订单号"),
                try column(header, "交易状态"), try column(header, "应结订单金额"),
                try column(header, "微信退款单号"), try column(header, "退款金额")
            )
            var entries: [StatementEntry] = []
            for (line, fields) in records[(start + 1)...] {
                if fields.first?.hasPrefix("总") == true { break }
                guard fields.count > max(transaction, out, state, settled, refundId, refundAmount) else { continue }
                if fields[state] == "SUCCESS" {
                    guard let amount = Alipay.fen(fields[settled]) else { throw Self.badAmount(line) }
                    entries.append(StatementEntry(kind: .payment, reference: fields[transaction], outTradeNo: fields[out], amount: amount))
                } else if fields[state] == "REFUND" {
                    guard let amount = Alipay.fen(fields[refundAmount]) else { throw Self.badAmount(line) }
                    entries.append(StatementEntry(kind: .refund, reference: fields[refundId], outTradeNo: fields[out], amount: amount))
                }
            }
            return entries
        case "alipay":
            let rows = records.filter { !($0.1.first ?? "").hasPrefix("#") }
            guard let start = rows.firstIndex(where: { $0.1.contains("支付宝交易号") }) else {
                throw PaymentError(.invalid, code: "csv_missing_column", field: "支付宝交易号", "not an Alipay transaction detail")
            }
            let header = rows[start].1
            let (trade, out, type, amountColumn, batch) = (
                try column(header, "支付宝交易号"), try column(header, "商户订单号"),
                try column(header, "业务类型"), try column(header, "订单金额（元）"),
                try column(header, "退款批次号/请求号")
            )
            var entries: [StatementEntry] = []
            for (line, fields) in rows[(start + 1)...] where fields.count > max(trade, out, type, amountColumn, batch) {
                guard let amount = Alipay.fen(fields[amountColumn].replacingOccurrences(of: "-", with: "")) else { throw Self.badAmount(line) }
                if fields[type] == "交易" {
                    entries.append(StatementEntry(kind: .payment, reference: fields[trade], outTradeNo: fields[out], amount: amount))
                } else if fields[type] == "退款" {
                    entries.append(
                        StatementEntry(kind: .refund, reference: fields[trade] + ":" + fields[batch], outTradeNo: fields[out], amount: amount))
                }
            }
            return entries
        default:
            throw PaymentError(.invalid, code: "unknown_channel", field: "channel", "statements are reconciled for wechatpay or alipay")
        }
    }

    static func clean(_ field: String) -> String {
        var text = field.trimmingCharacters(in: .whitespaces)
        if text.hasPrefix("`") { text.removeFirst() }
        return text
    }

    static func badAmount(_ line: Int) -> PaymentError {
        PaymentError(.invalid, code: "invalid_amount", field: "line \(line)", "line \(line) has an amount that is not yuan")
    }

    /// Compares `entries` with the payments and refunds of `channel` recorded on `date` (Beijing time, the channels'
    /// day), stores the run and its exceptions, and returns the report.
    public func run(channel: String, date: LocalDate, entries: [StatementEntry], actor: String, now: Date) async throws -> Report {
        let zone = TimeZone(identifier: "Asia/Shanghai")!
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let start = calendar.date(from: DateComponents(year: date.year, month: date.month, day: date.day))!
        let end = start.addingTimeInterval(86_400)
        var ours: [String: (Int64, String?)] = [:]
        for row in try await tenant.select(
            "p.channel_transaction_id, p.amount, o.out_trade_no", from: "payments", as: "p",
            joining: [.left("payment_orders", as: "o", on: "o.id = p.order_id")],
            where: """
                p.channel = \(bind: channel) AND p.status = 'settled'
                AND p.paid_at >= \(bind: start.epochMilliseconds) AND p.paid_at < \(bind: end.epochMilliseconds)
                """
        ).all() {
            let r = RowReader(row, table: "payments")
            ours["payment|" + (try r.string("channel_transaction_id"))] = (try r.int64("amount"), try r.optionalString("out_trade_no"))
        }
        for row in try await tenant.select(
            "f.channel_refund_id, f.amount", from: "refunds", as: "f", joining: [.inner("payments", as: "p", on: "p.id = f.payment_id")],
            where: """
                p.channel = \(bind: channel) AND f.state IN ('processing', 'succeeded') AND f.channel_refund_id IS NOT NULL
                AND f.updated_at >= \(bind: start.epochMilliseconds) AND f.updated_at < \(bind: end.epochMilliseconds)
                """
        ).all() {
            let r = RowReader(row, table: "refunds")
            ours["refund|" + (try r.string("channel_refund_id"))] = (try r.int64("amount"), nil)
        }
        var items: [Item] = []
        var seen: Set<String> = []
        for entry in entries {
            let key = entry.kind.rawValue + "|" + entry.reference
            seen.insert(key)
            if let (amount, out) = ours[key] {
                items.append(
                    Item(
                        kind: entry.kind, outcome: amount == entry.amount ? .matched : .amountMismatch, channelReference: entry.reference,
                        outTradeNo: out ?? entry.outTradeNo, ourAmount: Money(minorUnits: amount), theirAmount: Money(minorUnits: entry.amount)))
            } else {
                items.append(
                    Item(
                        kind: entry.kind, outcome: .missingOurs, channelReference: entry.reference, outTradeNo: entry.outTradeNo,
                        ourAmount: nil, theirAmount: Money(minorUnits: entry.amount)))
            }
        }
        for (key, (amount, out)) in ours.sorted(by: { $0.key < $1.key }) where !seen.contains(key) {
            let parts = key.split(separator: "|", maxSplits: 1).map(String.init)
            items.append(
                Item(
                    kind: parts[0] == "refund" ? .refund : .payment, outcome: .missingTheirs, channelReference: parts[1], outTradeNo: out,
                    ourAmount: Money(minorUnits: amount), theirAmount: nil))
        }
        let runId = Identifier.uuidV7(at: now)
        let report = Report(
            runId: runId, channel: channel, date: date, matched: items.filter { $0.outcome == .matched }.count,
            missingOurs: items.filter { $0.outcome == .missingOurs }.count,
            missingTheirs: items.filter { $0.outcome == .missingTheirs }.count,
            amountMismatch: items.filter { $0.outcome == .amountMismatch }.count,
            exceptions: items.filter { $0.outcome != .matched })
        let summary = [
            "matched": report.matched, "missing_ours": report.missingOurs, "missing_theirs": report.missingTheirs,
            "amount_mismatch": report.amountMismatch,
        ]
        try await tenant.insert(
            into: "reconciliation_runs", columns: ["id", "channel", "statement_date", "summary", "created_by", "created_at"],
            values: [runId, channel, date.description, StoredJSON.encode(summary), actor, now.epochMilliseconds]
        ).run()
        for item in items {
            try await tenant.insert(
                into: "reconciliation_items",
                columns: [
                    "id", "run_id", "kind", "outcome", "channel_reference", "out_trade_no", "our_amount", "their_amount",
                ],
                values: [
                    Identifier.uuidV7(at: now), runId, item.kind.rawValue, item.outcome.rawValue, item.channelReference, item.outTradeNo,
                    item.ourAmount?.minorUnits, item.theirAmount?.minorUnits,
                ]
            ).run()
        }
        return report
    }
}
