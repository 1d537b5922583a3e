import CourtyardDomain
import CourtyardStorage
import Foundation
import SQLKit

/// Bank transfers (银行转账): a statement CSV is imported, each credit is matched to an order by the order's
/// out-trade-no in the transfer's reference and its exact amount, and applied like any callback. The rest waits in an
/// unmatched list for staff, who match it by hand.
///
/// Columns (header row required, any order, extra columns ignored):
/// `transaction_id` (the bank's unique id), `value_date` (YYYY-MM-DD), `amount` (yuan, "1234.56"; credits only, a
/// debit row is reported), `reference` (the payer's remark, carrying the `CY…` out-trade-no), `payer_name` (optional).
public struct BankStatements: TenantStore {
    public let tenant: TenantSQL

    public init(_ tenant: TenantSQL) {
        self.tenant = tenant
    }

    /// One row's outcome.
    public struct RowResult: Codable, Sendable, Hashable {
        public enum Status: String, Codable, Sendable {
            case matched, unmatched, duplicate, error
        }

        public var row: Int
        public var status: Status
        public var transactionId: String?
        public var outTradeNo: String?
        public var code: String?
        public var field: String?
        public var message: String?

        public init(row: Int, status: Status, transactionId: String?, outTradeNo: String?, code: String?, field: String?, message: String?) {
            self.row = row; self.status = status; self.transactionId = transactionId; self.outTradeNo = outTradeNo; self.code = code
            self.field = field; self.message = message
        }
    }

    public struct ImportResult: Codable, Sendable, Hashable {
        public var importId: String
        public var matched: Int
        public var unmatched: Int
        public var duplicates: Int
        public var errors: Int
        public var rows: [RowResult]
        /// Restore commands queued by matched top-ups.
        public var commands: [String]

        public init(importId: String, matched: Int, unmatched: Int, duplicates: Int, errors: Int, rows: [RowResult], commands: [String]) {
            self.importId = importId; self.matched = matched; self.unmatched = unmatched; self.duplicates = duplicates; self.errors = errors
            self.rows = rows; self.commands = commands
        }
    }

    static let required = ["transaction_id", "value_date", "amount", "reference"]

    /// Imports a statement in the caller's transaction; bad rows are reported and skipped, good rows imported.
    public func importStatement(
        _ text: String, actor: String, order allocation: Settlement.Order, ports: PaymentPorts, now: Date
    ) async throws -> ImportResult {
        let records = CSV.records(text)
        guard let header = records.first else {
            throw PaymentError(.invalid, code: "csv_empty", field: "body", "the statement has no header row")
        }
        let names = header.fields.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        var index: [String: Int] = [:]
        for (position, name) in names.enumerated() where index[name] == nil { index[name] = position }
        if let missing = Self.required.first(where: { index[$0] == nil }) {
            throw PaymentError(.invalid, code: "csv_missing_column", field: missing, "the header has no \(missing) column")
        }
        let importId = Identifier.uuidV7(at: now)
        var result = ImportResult(importId: importId, matched: 0, unmatched: 0, duplicates: 0, errors: 0, rows: [], commands: [])
        let applier = PaymentApplier(db, companyId: companyId, engine: engine, ports: ports, order: allocation)
        for record in records.dropFirst() {
            func value(_ name: String) -> String {
                guard let position = index[name], position < record.fields.count else { return "" }
                return record.fields[position].trimmingCharacters(in: .whitespaces)
            }
            func fail(_ code: String, _ field: String, _ message: String) {
                result.errors += 1
                result.rows.append(
                    RowResult(
                        row: record.line, status: .error, transactionId: value("transaction_id").nilIfEmpty, outTradeNo: nil,
                        code: code, field: field, message: message))
            }
            let transactionId = value("transaction_id")
            guard !transactionId.isEmpty, transactionId.count <= 128 else {
                fail("required", "transaction_id", "transaction_id is required"); continue
            }
            guard let valueDate = LocalDate(value("value_date")) else { fail("invalid_date", "value_date", "value_date is YYYY-MM-DD"); continue }
            guard let amount = try? Money(parsing: value("amount")) else { fail("invalid_amount", "amount", "amount is yuan like 1234.56"); continue }
            guard amount.minorUnits > 0 else { fail("amount_not_positive", "amount", "only credits are imported"); continue }
            let reference = value("reference")
            let payer = value("payer_name").nilIfEmpty
            if try await tenant.select("id", from: "bank_statement_lines", where: "bank_transaction_id = \(bind: transactionId)").first() != nil {
                result.duplicates += 1
                result.rows.append(
                    RowResult(
                        row: record.line, status: .duplicate, transactionId: transactionId, outTradeNo: nil, code: nil, field: nil,
                        message: "imported before"))
                continue
            }
            let lineId = Identifier.uuidV7(at: now)
            var status = "unmatched"
            var matchedOrder: String?
            var paymentId: String?
            var note: String?
            if let outTradeNo = Self.outTradeNo(in: reference),
                let order = try await PaymentStore(tenant).order(outTradeNo: outTradeNo, lock: true),
                order.channel == "bank"
            {
                if order.amount == amount.minorUnits, order.state == .created {
                    let outcome = try await applier.apply(
                        ChannelTransaction(
                            channel: "bank", transactionId: transactionId, outTradeNo: outTradeNo,
                            amount: amount.minorUnits, paidAt: now, payerAccount: payer,
                            recordedBy: actor), payload: record.fields.joined(separator: ","), now: now)
                    if outcome.status == .applied {
                        status = "matched"
                        matchedOrder = order.id
                        paymentId = outcome.paymentId
                        result.commands += outcome.commands
                    }
                } else {
                    note =
                        order.amount == amount.minorUnits
                        ? "order \(outTradeNo) is \(order.state.rawValue)"
                        : "order \(outTradeNo) is for \(Money(minorUnits: order.amount).decimalText)"
                }
            }
            try await tenant.insert(
                into: "bank_statement_lines",
                columns: [
                    "id", "import_id", "row_number", "bank_transaction_id", "value_date", "amount", "reference", "payer_name", "status", "order_id",
                    "payment_id", "note", "created_at",
                ],
                values: [
                    lineId, importId, record.line, transactionId, valueDate.description, amount.minorUnits, String(reference.prefix(500)), payer,
                    status, matchedOrder, paymentId, note, now.epochMilliseconds,
                ]
            ).run()
            if status == "matched" {
                result.matched += 1
                result.rows.append(
                    RowResult(
                        row: record.line, status: .matched, transactionId: transactionId, outTradeNo: Self.outTradeNo(in: reference),
                        code: nil, field: nil, message: nil))
            } else {
                result.unmatched += 1
                result.rows.append(
                    RowResult(
                        row: record.line, status: .unmatched, transactionId: transactionId, outTradeNo: Self.outTradeNo(in: reference),
                        code: "no_matching_order", field: "reference", message: note ?? "no open bank order with this reference and amount"))
            }
        }
        return result
    }

    /// The first `CY` + 30 hex characters in a remark (banks keep remarks as typed; case is forgiven).
    static func outTradeNo(in reference: String) -> String? {
        let upper = Array(reference.uppercased().utf8)
        guard upper.count >= 32 else { return nil }
        for start in 0...(upper.count - 32) where upper[start] == UInt8(ascii: "C") && upper[start + 1] == UInt8(ascii: "Y") {
            let candidate = upper[(start + 2)..<(start + 32)]
            if candidate.allSatisfy({ (0x30...0x39).contains($0) || (0x41...0x46).contains($0) }) {
                return String(decoding: upper[start..<(start + 32)], as: UTF8.self)
            }
        }
        return nil
    }

    /// An unmatched statement line.
    public struct Line: Codable, Sendable, Hashable {
        public var id: String
        public var bankTransactionId: String
        public var valueDate: String
        public var amount: Money
        public var reference: String
        public var payerName: String?
        public var status: String
        public var note: String?
    }

    public func unmatched(limit: Int = 200) async throws -> [Line] {
        try await tenant.select(
            "id, bank_transaction_id, value_date, amount, reference, payer_name, status, note", from: "bank_statement_lines",
            where: "status = 'unmatched'", then: "ORDER BY id LIMIT \(literal: limit)"
        ).all().map { row in
            let r = RowReader(row, table: "bank_statement_lines")
            return Line(
                id: try r.string("id"), bankTransactionId: try r.string("bank_transaction_id"), valueDate: try r.string("value_date"),
                amount: Money(minorUnits: try r.int64("amount")), reference: try r.string("reference"), payerName: try r.optionalString("payer_name"),
                status: try r.string("status"), note: try r.optionalString("note"))
        }
    }

    /// Staff match an unmatched line to an open bank order by hand; the amount must still be the order's.
    public func match(
        lineId: String, outTradeNo: String, actor: String, order allocation: Settlement.Order, ports: PaymentPorts,
        now: Date
    ) async throws -> PaymentOutcome {
        guard
            let row = try await tenant.select(
                "bank_transaction_id, amount, status, payer_name", from: "bank_statement_lines",
                where: "id = \(bind: lineId)"
            ).first()
        else { throw PaymentError(.notFound, code: "not_found", field: "line_id", "no statement line \(lineId)") }
        let r = RowReader(row, table: "bank_statement_lines")
        guard try r.string("status") == "unmatched" else {
            throw PaymentError(.conflict, code: "line_matched", field: "line_id", "the line is matched")
        }
        guard let order = try await PaymentStore(tenant).order(outTradeNo: outTradeNo, lock: true) else {
            throw PaymentError(.notFound, code: "unknown_order", field: "out_trade_no", "no order \(outTradeNo)")
        }
        let amount = try r.int64("amount")
        guard order.amount == amount else {
            throw PaymentError(
                .invalid, code: "amount_mismatch", field: "out_trade_no", "the order is for \(Money(minorUnits: order.amount).decimalText)")
        }
        guard order.channel == "bank" else {
            throw PaymentError(.invalid, code: "channel_mismatch", field: "out_trade_no", "the order is paid through \(order.channel)")
        }
        let transaction = ChannelTransaction(
            channel: "bank", transactionId: try r.string("bank_transaction_id"), outTradeNo: outTradeNo, amount: amount,
            paidAt: now, payerAccount: try r.optionalString("payer_name"), recordedBy: actor)
        let applier = PaymentApplier(db, companyId: companyId, engine: engine, ports: ports, order: allocation)
        let outcome =
            order.state == .created
            ? try await applier.apply(transaction, payload: "manual match by \(actor)", now: now)
            : try await applier.applyHeld(transaction, payload: "manual match by \(actor)", now: now)
        guard outcome.status == .applied else {
            throw PaymentError(.conflict, code: outcome.review ?? "not_applied", field: "out_trade_no", "the order could not take this payment")
        }
        try await tenant.update(
            "bank_statement_lines",
            set: """
                status = 'resolved', order_id = \(bind: order.id), payment_id = \(bind: outcome.paymentId), note = \(bind: "matched by " + actor)
                """, where: "id = \(bind: lineId)"
        ).run()
        return outcome
    }
}

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
