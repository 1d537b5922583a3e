import CourtyardDomain
import CourtyardStorage
import Foundation

/// Imports monthly usage from CSV: all rows or none.
///
/// Columns (a header row is required, in any order):
/// `subject_kind` (`house` or `device`), `subject_id`, `usage_kind`
/// (`electricity`, `water`, `gas`, `heat`), `period` (`2026-10`), `quantity`
/// (up to 3 decimals), and optionally `windows` (`peak=120;valley=133.4`, adding
/// up to the quantity) and `estimated` (`true`/`false`). Every row is checked
/// first; any error names its line and column and nothing is written. A row
/// identical to the stored one is skipped (re-importing a file is harmless); a
/// different figure for a stored (subject, kind, month) is an error — that is a
/// correction, which adjusts bills.
public struct UsageImport: Sendable {
    public struct Problem: Error, Hashable, Sendable, CustomStringConvertible {
        public var line: Int
        public var column: String
        public var message: String
        public var description: String { "line \(line), \(column): \(message)" }
    }

    public struct Summary: Codable, Sendable, Hashable {
        public var imported: Int
        public var unchanged: Int

        public init(imported: Int, unchanged: Int) {
            self.imported = imported
            self.unchanged = unchanged
        }
    }

    public enum Failure: Error, Sendable {
        case problems([Problem])
    }

    let store: ScopedStore
    let communityId: String
    let now: Date

    public init(store: ScopedStore, communityId: String, now: Date) {
        self.store = store
        self.communityId = communityId
        self.now = now
    }

    /// The rows of a usage file, read and checked without the database: the records it holds, each with its line, and
    /// every problem found. Pure, so the reader is fuzzed on its own (`Fuzz/`, target `usage-csv`); ``run(csv:)``
    /// then checks the subjects and what is stored. A record's `id` is empty until it is written.
    public static func parse(
        csv text: String, companyId: String, communityId: String, now: Date
    ) -> (records: [(line: Int, record: UsageRecord)], problems: [Problem]) {
        // RFC 4180 with quoted commas and line breaks, a byte-order mark skipped (the shared reader); lines of blanks only are no rows.
        let rows = CSV.records(text).filter { !$0.fields.allSatisfy { $0.trimmingCharacters(in: .whitespaces).isEmpty } }
        guard let header = rows.first else { return ([], [Problem(line: 1, column: "header", message: "the file is empty")]) }
        let names = header.fields.map { $0.trimmingCharacters(in: .whitespaces) }
        var problems: [Problem] = []
        for required in ["subject_kind", "subject_id", "usage_kind", "period", "quantity"] where !names.contains(required) {
            problems.append(Problem(line: header.line, column: required, message: "missing column"))
        }
        guard problems.isEmpty else { return ([], problems) }
        var records: [(line: Int, record: UsageRecord)] = []
        var seen: Set<String> = []
        for (number, values) in rows.dropFirst() {
            func value(_ name: String) -> String? {
                guard let index = names.firstIndex(of: name), index < values.count else { return nil }
                let text = values[index].trimmingCharacters(in: .whitespaces)
                return text.isEmpty ? nil : text
            }
            func fail(_ column: String, _ message: String) { problems.append(Problem(line: number, column: column, message: message)) }
            guard let kindText = value("subject_kind"), let kind = UsageRecord.SubjectKind(rawValue: kindText) else {
                fail("subject_kind", "must be house or device"); continue
            }
            guard let subject = value("subject_id") else { fail("subject_id", "required"); continue }
            guard let usageText = value("usage_kind"), let usageKind = UsageKind(rawValue: usageText) else {
                fail("usage_kind", "must be one of " + UsageKind.allCases.map(\.rawValue).joined(separator: ", ")); continue
            }
            guard let periodText = value("period"), let period = BillingPeriod(periodText), period.cycle == .monthly else {
                fail("period", "must be a month like 2026-10"); continue
            }
            guard let quantityText = value("quantity"), let quantity = try? Quantity(parsing: quantityText), quantity.milliUnits >= 0 else {
                fail("quantity", "must be a number ≥ 0 with at most 3 decimals"); continue
            }
            var windows: [String: Quantity]? = nil
            if let text = value("windows") {
                var parsed: [String: Quantity] = [:]
                for part in text.split(separator: ";") {
                    let pair = part.split(separator: "=", maxSplits: 1)
                    guard pair.count == 2, let amount = try? Quantity(parsing: pair[1].trimmingCharacters(in: .whitespaces)),
                        amount.milliUnits >= 0
                    else { fail("windows", "write windows as peak=120;valley=133.4"); break }
                    parsed[pair[0].trimmingCharacters(in: .whitespaces)] = amount
                }
                // Checked: a file's figures are not trusted to fit when added up.
                let total = parsed.values.reduce(Int64?(0)) { sum, part in
                    sum.flatMap { let (next, overflow) = $0.addingReportingOverflow(part.milliUnits); return overflow ? nil : next }
                }
                if total != quantity.milliUnits {
                    fail("windows", "window usages must add up to quantity")
                }
                windows = parsed
            }
            let estimated = value("estimated").map { ["true", "1", "yes"].contains($0.lowercased()) } ?? false
            guard seen.insert("\(subject)|\(usageKind.rawValue)|\(period)").inserted else {
                fail("subject_id", "the file has this subject, kind and month twice"); continue
            }
            records.append(
                (
                    number,
                    UsageRecord(
                        id: "", companyId: companyId, communityId: communityId, subjectKind: kind,
                        subjectId: subject, usageKind: usageKind, period: period, quantity: quantity, windows: windows,
                        estimated: estimated, source: .csv, createdAt: now, updatedAt: now)
                ))
        }
        return (records, problems)
    }

    /// Reads the file, checks its subjects against this community and its figures against what is stored, and writes
    /// the new records in the caller's transaction; throws every problem at once and then writes nothing.
    public func run(csv text: String) async throws -> Summary {
        let (parsed, found) = Self.parse(csv: text, companyId: store.scope.companyId, communityId: communityId, now: now)
        var problems = found
        if parsed.isEmpty, !problems.isEmpty { throw Failure.problems(problems) }
        let records = parsed.map(\.record)
        // Subjects must exist in this community.
        let houses = Set(
            try await store.all(
                House.self, where: "id", in: Array(Set(records.filter { $0.subjectKind == .house }.map(\.subjectId))),
                filters: [("community_id", communityId)]
            ).map(\.id))
        let devices = Set(
            try await store.all(
                Device.self, where: "id", in: Array(Set(records.filter { $0.subjectKind == .device }.map(\.subjectId))),
                filters: [("community_id", communityId)]
            ).map(\.id))
        var existing: [String: UsageRecord] = [:]
        for record in try await store.all(UsageRecord.self, where: "subject_id", in: Array(Set(records.map(\.subjectId)))) {
            existing["\(record.subjectId)|\(record.usageKind.rawValue)|\(record.period)"] = record
        }
        var fresh: [UsageRecord] = []
        var unchanged = 0
        var ids = IdentifierSequence(at: now)
        for (line, var record) in parsed {
            let known = record.subjectKind == .house ? houses.contains(record.subjectId) : devices.contains(record.subjectId)
            guard known else {
                problems.append(
                    Problem(line: line, column: "subject_id", message: "no \(record.subjectKind.rawValue) \(record.subjectId) in this community"))
                continue
            }
            if let stored = existing["\(record.subjectId)|\(record.usageKind.rawValue)|\(record.period)"] {
                if stored.quantity == record.quantity && stored.windows == record.windows {
                    unchanged += 1
                } else {
                    problems.append(
                        Problem(
                            line: line, column: "quantity",
                            message: "\(stored.quantity.decimalText) is already recorded for this month; use a correction"))
                }
                continue
            }
            record.id = ids.next()
            fresh.append(record)
        }
        guard problems.isEmpty else { throw Failure.problems(problems.sorted { ($0.line, $0.column) < ($1.line, $1.column) }) }
        try await store.insertAll(fresh)
        return Summary(imported: fresh.count, unchanged: unchanged)
    }
}
