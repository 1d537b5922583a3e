import CourtyardDomain
import CourtyardStorage
import Foundation
import SQLKit

/// Bank transfers (银行转账): a statement CSV is imported, each credit is matched to an order by the order's
/// out-trade-no in the transfer's reference and its exact amount, and applied like any callback. The rest waits in an
/// unmatched list for staff, who match it by hand. The file's columns and how each row is read: ``BankStatement``.
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

    /// Imports a statement in the caller's transaction; bad rows are reported and skipped, good rows imported.
    public func importStatement(
        _ text: String, actor: String, order allocation: Settlement.Order, ports: PaymentPorts, now: Date
    ) async throws -> ImportResult {
        let rows = try BankStatement.rows(text)
        let importId = Identifier.uuidV7(at: now)
        var result = ImportResult(importId: importId, matched: 0, unmatched: 0, duplicates: 0, errors: 0, rows: [], commands: [])
        let applier = PaymentApplier(db, companyId: companyId, engine: engine, ports: ports, order: allocation)
        for row in rows {
            let credit: BankStatement.Credit
            switch row {
            case .refused(let refusal):
                result.errors += 1
                result.rows.append(
                    RowResult(
                        row: refusal.line, status: .error, transactionId: refusal.transactionId, outTradeNo: nil,
                        code: refusal.code, field: refusal.field, message: refusal.message))
                continue
            case .credit(let read):
                credit = read
            }
            let (transactionId, amount, reference, payer) = (credit.transactionId, credit.amount, credit.reference, credit.payerName)
            if try await tenant.select("id", from: "bank_statement_lines", where: "bank_transaction_id = \(bind: transactionId)").first() != nil {
                result.duplicates += 1
                result.rows.append(
                    RowResult(
                        row: credit.line, status: .duplicate, transactionId: transactionId, outTradeNo: nil, code: nil, field: nil,
                        message: "imported before"))
                continue
            }
            let lineId = Identifier.uuidV7(at: now)
            var status = "unmatched"
            var matchedOrder: String?
            var paymentId: String?
            var note: String?
            if let outTradeNo = BankStatement.outTradeNo(in: reference),
                let order = try await PaymentStore(tenant).order(outTradeNo: outTradeNo, lock: true),
                order.channel == "bank"
            {
                if order.amount == amount.minorUnits, order.state == .created {
                    let outcome = try await applier.apply(
                        ChannelTransaction(
                            channel: "bank", transactionId: transactionId, outTradeNo: outTradeNo,
                            amount: amount.minorUnits, paidAt: now, payerAccount: payer,
                            recordedBy: actor), payload: credit.fields.joined(separator: ","), now: now)
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
                    lineId, importId, credit.line, transactionId, credit.valueDate.description, amount.minorUnits, String(reference.prefix(500)), payer,
                    status, matchedOrder, paymentId, note, now.epochMilliseconds,
                ]
            ).run()
            if status == "matched" {
                result.matched += 1
                result.rows.append(
                    RowResult(
                        row: credit.line, status: .matched, transactionId: transactionId, outTradeNo: BankStatement.outTradeNo(in: reference),
                        code: nil, field: nil, message: nil))
            } else {
                result.unmatched += 1
                result.rows.append(
                    RowResult(
                        row: credit.line, status: .unmatched, transactionId: transactionId, outTradeNo: BankStatement.outTradeNo(in: reference),
                        code: "no_matching_order", field: "reference", message: note ?? "no open bank order with this reference and amount"))
            }
        }
        return result
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
