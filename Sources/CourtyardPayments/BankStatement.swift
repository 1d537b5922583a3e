import CourtyardDomain
import Foundation

/// A bank statement's rows read and checked without the database: each row is a credit to match or a refusal to
/// report. Pure, so the reader is fuzzed on its own (`Fuzz/`, target `bank-statement`) and tested without storage;
/// ``BankStatements/importStatement(_:actor:order:ports:now:)`` matches and stores what it returns.
///
/// Columns (header row required, any order, extra columns ignored): `transaction_id` (the bank's unique id, at most
/// 128 characters), `value_date` (YYYY-MM-DD), `amount` (yuan, "1234.56"; credits only, a debit row is refused),
/// `reference` (the payer's remark, carrying the `CY…` out-trade-no), `payer_name` (optional).
public enum BankStatement {
    public static let requiredColumns = ["transaction_id", "value_date", "amount", "reference"]

    /// A credit the statement reports.
    public struct Credit: Sendable, Hashable {
        /// The row's first line in the file (1-based; the header is line 1).
        public var line: Int
        public var transactionId: String
        public var valueDate: LocalDate
        /// Strictly positive.
        public var amount: Money
        public var reference: String
        public var payerName: String?
        /// The row as read, for the stored payload.
        public var fields: [String]
    }

    /// A row that cannot be imported, and why.
    public struct Refusal: Sendable, Hashable {
        public var line: Int
        public var transactionId: String?
        public var code: String
        public var field: String
        public var message: String
    }

    public enum Row: Sendable, Hashable {
        case credit(Credit)
        case refused(Refusal)
    }

    /// Every data row of `text`, in order. Throws only when the file as a whole cannot be read: no header row, or a
    /// required column missing from it.
    public static func rows(_ text: String) throws(PaymentError) -> [Row] {
        let records = CSV.records(text)
        guard let header = records.first else {
            throw PaymentError(.invalid, code: "csv_empty", field: "body", "the statement has no header row")
        }
        var index: [String: Int] = [:]
        for (position, name) in header.fields.enumerated() {
            let column = name.trimmingCharacters(in: .whitespaces).lowercased()
            if index[column] == nil { index[column] = position }
        }
        if let missing = requiredColumns.first(where: { index[$0] == nil }) {
            throw PaymentError(.invalid, code: "csv_missing_column", field: missing, "the header has no \(missing) column")
        }
        return records.dropFirst().map { record in
            func value(_ name: String) -> String {
                guard let position = index[name], position < record.fields.count else { return "" }
                return record.fields[position].trimmingCharacters(in: .whitespaces)
            }
            func refused(_ code: String, _ field: String, _ message: String) -> Row {
                .refused(Refusal(line: record.line, transactionId: value("transaction_id").nilIfEmpty, code: code, field: field, message: message))
            }
            let transactionId = value("transaction_id")
            guard !transactionId.isEmpty, transactionId.count <= 128 else {
                return refused("required", "transaction_id", "transaction_id is required, at most 128 characters")
            }
            guard let valueDate = LocalDate(value("value_date")) else { return refused("invalid_date", "value_date", "value_date is YYYY-MM-DD") }
            guard let amount = try? Money(parsing: value("amount")) else { return refused("invalid_amount", "amount", "amount is yuan like 1234.56") }
            guard amount.minorUnits > 0 else { return refused("amount_not_positive", "amount", "only credits are imported") }
            return .credit(
                Credit(
                    line: record.line, transactionId: transactionId, valueDate: valueDate, amount: amount, reference: value("reference"),
                    payerName: value("payer_name").nilIfEmpty, fields: record.fields))
        }
    }

    /// The first `CY` + 30 hex characters in a remark (banks keep remarks as typed; case is forgiven).
    public static func outTradeNo(in reference: String) -> String? {
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
}
