import CourtyardDomain
import CourtyardSQLite
import Foundation
import SQLKit

/// A bill (账单): one house's charges from one bill run, with its due date and payment status.
///
/// Bills are never edited in place once issued: payments change only
/// `paid_amount` and `status`; corrections add adjustment lines.
public struct Bill: BulkRecord, Codable, Equatable {
    public enum Status: String, Codable, Sendable, CaseIterable {
        case open
        case partiallyPaid = "partially_paid"
        case paid, cancelled
    }

    public var id: String
    public var companyId: String
    public var communityId: String
    public var houseId: String
    public var billRunId: String
    /// The run's month.
    public var period: BillingPeriod
    public var issueDate: LocalDate
    public var dueDate: LocalDate
    public var currency: String
    public var totalAmount: Int64
    public var paidAmount: Int64
    public var status: Status
    /// When its lines were posted to the ledger (receivable ← revenue); `nil` until then.
    public var postedAt: Date?
    public var lateFeeWaivedBy: String?
    public var lateFeeWaiverReason: String?
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String, companyId: String, communityId: String, houseId: String, billRunId: String, period: BillingPeriod,
        issueDate: LocalDate, dueDate: LocalDate, currency: String, totalAmount: Int64, paidAmount: Int64, status: Status,
        postedAt: Date?, lateFeeWaivedBy: String?, lateFeeWaiverReason: String?, createdAt: Date, updatedAt: Date
    ) {
        self.id = id; self.companyId = companyId; self.communityId = communityId; self.houseId = houseId; self.billRunId = billRunId
        self.period = period; self.issueDate = issueDate; self.dueDate = dueDate; self.currency = currency
        self.totalAmount = totalAmount; self.paidAmount = paidAmount; self.status = status; self.postedAt = postedAt
        self.lateFeeWaivedBy = lateFeeWaivedBy; self.lateFeeWaiverReason = lateFeeWaiverReason
        self.createdAt = createdAt; self.updatedAt = updatedAt
    }

    /// The API form: `total_amount` and `paid_amount` as `{amount, currency}` like all money (they were bare fen next to
    /// `amount_due` as an object); dates as `YYYY-MM-DD`, instants as RFC 3339.
    enum CodingKeys: String, CodingKey {
        case id, companyId, communityId, houseId, billRunId, period, issueDate, dueDate, currency, totalAmount, paidAmount, status
        case postedAt, lateFeeWaivedBy, lateFeeWaiverReason, createdAt, updatedAt
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        let money = Currency.supported[currency] ?? Currency(code: currency)
        try c.encode(id, forKey: .id); try c.encode(companyId, forKey: .companyId); try c.encode(communityId, forKey: .communityId)
        try c.encode(houseId, forKey: .houseId); try c.encode(billRunId, forKey: .billRunId); try c.encode(period, forKey: .period)
        try c.encode(issueDate, forKey: .issueDate); try c.encode(dueDate, forKey: .dueDate); try c.encode(currency, forKey: .currency)
        try c.encode(Money(minorUnits: totalAmount, currency: money), forKey: .totalAmount)
        try c.encode(Money(minorUnits: paidAmount, currency: money), forKey: .paidAmount)
        try c.encode(status, forKey: .status); try c.encodeIfPresent(postedAt, forKey: .postedAt)
        try c.encodeIfPresent(lateFeeWaivedBy, forKey: .lateFeeWaivedBy)
        try c.encodeIfPresent(lateFeeWaiverReason, forKey: .lateFeeWaiverReason)
        try c.encode(createdAt, forKey: .createdAt); try c.encode(updatedAt, forKey: .updatedAt)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            id: try c.decode(String.self, forKey: .id), companyId: try c.decode(String.self, forKey: .companyId),
            communityId: try c.decode(String.self, forKey: .communityId), houseId: try c.decode(String.self, forKey: .houseId),
            billRunId: try c.decode(String.self, forKey: .billRunId), period: try c.decode(BillingPeriod.self, forKey: .period),
            issueDate: try c.decode(LocalDate.self, forKey: .issueDate), dueDate: try c.decode(LocalDate.self, forKey: .dueDate),
            currency: try c.decode(String.self, forKey: .currency),
            totalAmount: try c.decode(Money.self, forKey: .totalAmount).minorUnits,
            paidAmount: try c.decode(Money.self, forKey: .paidAmount).minorUnits, status: try c.decode(Status.self, forKey: .status),
            postedAt: try c.decodeIfPresent(Date.self, forKey: .postedAt),
            lateFeeWaivedBy: try c.decodeIfPresent(String.self, forKey: .lateFeeWaivedBy),
            lateFeeWaiverReason: try c.decodeIfPresent(String.self, forKey: .lateFeeWaiverReason),
            createdAt: try c.decode(Date.self, forKey: .createdAt), updatedAt: try c.decode(Date.self, forKey: .updatedAt))
    }

    public static let table = "bills"
    public static let columns = [
        "id", "company_id", "community_id", "house_id", "bill_run_id", "period", "issue_date", "due_date",
        "currency", "total_amount", "paid_amount", "status", "posted_at", "late_fee_waived_by",
        "late_fee_waiver_reason", "created_at", "updated_at",
    ]

    public init(row: RowReader) throws {
        guard let period = BillingPeriod(try row.string("period")) else { throw StorageError.corruptRow(table: Self.table, column: "period") }
        self.init(
            id: try row.string("id"), companyId: try row.string("company_id"), communityId: try row.string("community_id"),
            houseId: try row.string("house_id"), billRunId: try row.string("bill_run_id"), period: period,
            issueDate: try row.date("issue_date"), dueDate: try row.date("due_date"), currency: try row.string("currency"),
            totalAmount: try row.int64("total_amount"), paidAmount: try row.int64("paid_amount"),
            status: try row.value("status", as: Status.self),
            postedAt: try row.optionalInt64("posted_at").map(Date.init(epochMilliseconds:)),
            lateFeeWaivedBy: try row.optionalString("late_fee_waived_by"),
            lateFeeWaiverReason: try row.optionalString("late_fee_waiver_reason"),
            createdAt: try row.instant("created_at"), updatedAt: try row.instant("updated_at"))
    }

    public var storageRow: [StorageValue] {
        [
            .text(id), .text(companyId), .text(communityId), .text(houseId), .text(billRunId), .text(period.description),
            .text(issueDate.description), .text(dueDate.description), .text(currency), .integer(totalAmount), .integer(paidAmount),
            .text(status.rawValue), .integer(postedAt?.epochMilliseconds), .text(lateFeeWaivedBy), .text(lateFeeWaiverReason),
            .integer(createdAt.epochMilliseconds), .integer(updatedAt.epochMilliseconds),
        ]
    }

    /// ``storageRow``'s cells, appended without building it.
    public func appendRow(to buffer: inout RowBuffer) {
        buffer.append(id); buffer.append(companyId); buffer.append(communityId); buffer.append(houseId); buffer.append(billRunId)
        buffer.append(period.description); buffer.append(issueDate.description); buffer.append(dueDate.description)
        buffer.append(currency); buffer.append(totalAmount); buffer.append(paidAmount); buffer.append(status.rawValue)
        buffer.append(postedAt?.epochMilliseconds); buffer.append(lateFeeWaivedBy); buffer.append(lateFeeWaiverReason)
        buffer.append(createdAt.epochMilliseconds); buffer.append(updatedAt.epochMilliseconds)
    }
}

/// One line of a bill: a fee item's charge for a period, or an adjustment of an earlier line, with its full explanation.
public struct BillLine: BulkRecord, Codable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case charge
        /// A supplement (positive) or credit (negative) correcting the line in `adjustsLineId`.
        case adjustment
    }

    public var id: String
    public var companyId: String
    public var communityId: String
    /// The bill the line is on; `nil` for an adjustment waiting for the house's next bill.
    public var billId: String?
    public var houseId: String
    public var feeItemId: String
    public var period: BillingPeriod
    public var kind: Kind
    public var standardId: String
    public var standardVersion: Int
    public var quantity: Quantity?
    public var unit: String?
    public var unitPrice: UnitPrice?
    public var basis: String
    /// The tier / window slices (JSON in storage).
    public var breakdown: [QuoteLine]
    public var exact: ExactAmount
    public var rounding: String
    public var billableDays: Int
    public var periodDays: Int
    public var amount: Int64
    public var adjustsLineId: String?
    public var createdAt: Date

    public init(
        id: String, companyId: String, communityId: String, billId: String?, houseId: String, feeItemId: String,
        period: BillingPeriod, kind: Kind, standardId: String, standardVersion: Int, quantity: Quantity?, unit: String?,
        unitPrice: UnitPrice?, basis: String, breakdown: [QuoteLine], exact: ExactAmount, rounding: String,
        billableDays: Int, periodDays: Int, amount: Int64, adjustsLineId: String?, createdAt: Date
    ) {
        self.id = id; self.companyId = companyId; self.communityId = communityId; self.billId = billId; self.houseId = houseId
        self.feeItemId = feeItemId; self.period = period; self.kind = kind; self.standardId = standardId
        self.standardVersion = standardVersion; self.quantity = quantity; self.unit = unit; self.unitPrice = unitPrice
        self.basis = basis; self.breakdown = breakdown; self.exact = exact; self.rounding = rounding
        self.billableDays = billableDays; self.periodDays = periodDays; self.amount = amount; self.adjustsLineId = adjustsLineId
        self.createdAt = createdAt
    }

    public static let table = "bill_lines"
    public static let columns = [
        "id", "company_id", "community_id", "bill_id", "house_id", "fee_item_id", "period", "kind",
        "standard_id", "standard_version", "quantity_milli", "unit", "unit_price", "basis", "breakdown",
        "exact", "rounding", "billable_days", "period_days", "amount", "adjusts_line_id", "created_at",
    ]

    public init(row: RowReader) throws {
        guard let period = BillingPeriod(try row.string("period")) else { throw StorageError.corruptRow(table: Self.table, column: "period") }
        guard let exact = ExactAmount(decimalText: try row.string("exact")) else { throw StorageError.corruptRow(table: Self.table, column: "exact") }
        let unit = try row.optionalString("unit")
        // Stored slices leave out the unit: it is the line's.
        var breakdown = try StoredJSON.decode([QuoteLine].self, try row.string("breakdown"), table: Self.table, column: "breakdown")
        for index in breakdown.indices { breakdown[index].restoreUnit(unit) }
        self.init(
            id: try row.string("id"), companyId: try row.string("company_id"), communityId: try row.string("community_id"),
            billId: try row.optionalString("bill_id"), houseId: try row.string("house_id"), feeItemId: try row.string("fee_item_id"),
            period: period, kind: try row.value("kind", as: Kind.self), standardId: try row.string("standard_id"),
            standardVersion: try row.optionalInt("standard_version") ?? 0,
            quantity: try row.optionalInt64("quantity_milli").map(Quantity.init(milliUnits:)), unit: unit,
            unitPrice: try row.optionalInt64("unit_price").map(UnitPrice.init(tenThousandths:)), basis: try row.string("basis"),
            breakdown: breakdown,
            exact: exact, rounding: try row.string("rounding"), billableDays: try row.optionalInt("billable_days") ?? 0,
            periodDays: try row.optionalInt("period_days") ?? 0, amount: try row.int64("amount"),
            adjustsLineId: try row.optionalString("adjusts_line_id"), createdAt: try row.instant("created_at"))
    }

    public var storageRow: [StorageValue] {
        [
            .text(id), .text(companyId), .text(communityId), .text(billId), .text(houseId), .text(feeItemId),
            .text(period.description), .text(kind.rawValue), .text(standardId), .integer(Int64(standardVersion)),
            .integer(quantity?.milliUnits), .text(unit), .integer(unitPrice?.tenThousandths), .text(basis),
            .text(CompactJSON.breakdown(breakdown)), .text(exact.decimalText), .text(rounding), .integer(Int64(billableDays)),
            .integer(Int64(periodDays)), .integer(amount), .text(adjustsLineId), .integer(createdAt.epochMilliseconds),
        ]
    }

    /// Seven ids, the basis and the breakdown: about 520 bytes on a simulated month (612 for time-of-use electricity).
    public static var typicalRowBytes: Int { 640 }

    /// ``storageRow``'s cells, appended without building it: the breakdown's JSON is written straight into the buffer.
    public func appendRow(to buffer: inout RowBuffer) {
        buffer.append(id); buffer.append(companyId); buffer.append(communityId); buffer.append(billId); buffer.append(houseId)
        buffer.append(feeItemId); buffer.append(period.description); buffer.append(kind.rawValue); buffer.append(standardId)
        buffer.append(Int64(standardVersion)); buffer.append(quantity?.milliUnits); buffer.append(unit)
        buffer.append(unitPrice?.tenThousandths); buffer.append(basis)
        buffer.appendText { CompactJSON.breakdown(breakdown, into: &$0) }
        buffer.append(exact.decimalText); buffer.append(rounding); buffer.append(Int64(billableDays)); buffer.append(Int64(periodDays))
        buffer.append(amount); buffer.append(adjustsLineId); buffer.append(createdAt.epochMilliseconds)
    }
}
