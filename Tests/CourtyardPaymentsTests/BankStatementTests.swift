import CourtyardDomain
import CourtyardPayments
import Testing

/// The bank statement reader on its own, without a database (it is also a fuzz target: `scripts/fuzz bank-statement`).
@Suite("Bank statement reader")
struct BankStatementTests {
    @Test("credits are read with their lines; debits, bad dates and amounts, and missing ids are refused by row")
    func rows() throws {
        let text = "\u{FEFF}Transaction_ID , value_date,amount,reference,payer_name,extra\r\n"
            + "B1,2026-11-20, 88.88 ,\"CY0123456789abcdef0123456789ABCD, 物业费\",张三,x\r\n"
            + "B2,2026-11-20,-1.00,refund,,\n"
            + ",2026-11-20,1.00,,,\n"
            + "B4,2026-13-01,1.00,,,\n"
            + "B5,2026-11-20,1e3,,,\n"
            + "\"B6\nsplit\",2026-11-21,0.01,\"two\nlines\",,\n"
        let rows = try BankStatement.rows(text)
        guard rows.count == 6, case .credit(let first) = rows[0], case .credit(let last) = rows[5] else {
            Issue.record("expected credits first and last: \(rows)")
            return
        }
        #expect(first.line == 2)
        #expect(first.transactionId == "B1")
        #expect(first.valueDate == LocalDate("2026-11-20"))
        #expect(first.amount.minorUnits == 8_888)
        #expect(first.payerName == "张三")
        #expect(BankStatement.outTradeNo(in: first.reference) == "CY0123456789ABCDEF0123456789ABCD")
        #expect(last.line == 7)
        #expect(last.transactionId == "B6\nsplit")
        #expect(last.amount.minorUnits == 1)
        #expect(last.payerName == nil)
        let refusals: [String] = rows[1...4].map {
            if case .refused(let refusal) = $0 { "\(refusal.line):\(refusal.field):\(refusal.code)" } else { "credit" }
        }
        #expect(refusals == ["3:amount:amount_not_positive", "4:transaction_id:required", "5:value_date:invalid_date", "6:amount:invalid_amount"])
    }

    @Test("a file without a header or a required column is refused as a whole")
    func header() {
        #expect(throws: PaymentError.self) { try BankStatement.rows("") }
        do {
            _ = try BankStatement.rows("transaction_id,value_date,amount\nB1,2026-11-20,1.00\n")
            Issue.record("a statement without reference should be refused")
        } catch {
            #expect(error.code == "csv_missing_column")
            #expect(error.field == "reference")
        }
    }

    @Test("an id longer than 128 characters is refused, 128 is read")
    func longIds() throws {
        let rows = try BankStatement.rows(
            "transaction_id,value_date,amount,reference\n\(String(repeating: "7", count: 128)),2026-11-20,1.00,\n"
                + "\(String(repeating: "7", count: 129)),2026-11-20,1.00,\n")
        #expect(rows.map { if case .credit = $0 { true } else { false } } == [true, false])
    }
}
