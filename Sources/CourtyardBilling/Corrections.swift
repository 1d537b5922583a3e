import CourtyardDomain
import CourtyardStorage
import Foundation

/// Why a correction was refused; nothing is written.
public enum CorrectionError: Error, Hashable, Sendable {
    case unknownUsage(String)
    case unknownStandard(String)
    case reasonRequired
    case negativeQuantity
    case windowsDoNotAddUp
    case invalidRule([RuleIssue])
    /// Shared (common-area) meters are split across many bills; correct them before the run, or by a manual adjustment.
    case sharedMeterAfterBilling(String)
}

/// Corrections after billing: a usage figure or a standard version changes, and every line it priced is recomputed.
///
/// A line is never edited. The difference between what was billed (the line
/// plus its earlier adjustments) and the recomputed amount becomes an
/// **adjustment line** that references the original: on the same bill while it
/// is open and unpaid, otherwise waiting for the house's next bill run. Each
/// correction writes an audit entry with who, when, why, before and after, in
/// the same transaction. Annual tiers are followed forward: correcting March
/// re-prices April onwards of the same year.
public struct Corrections: Sendable {
    /// What a correction produced: adjustment lines, and the bills (open, unpaid) they were put on at once.
    public struct Result: Sendable {
        public var adjustments: [BillLine]
        public var billsChanged: [Bill]
    }

    let store: ScopedStore
    let actor: String
    let now: Date

    public init(store: ScopedStore, actor: String, now: Date) {
        self.store = store
        self.actor = actor
        self.now = now
    }

    /// Corrects a house's usage figure and re-prices the lines it (and, for annual tiers, later months) priced.
    public func correctUsage(id: String, quantity: Quantity, windows: [String: Quantity]?, reason: String) async throws -> Result {
        let reason = try Self.checked(reason)
        guard quantity.milliUnits >= 0 else { throw CorrectionError.negativeQuantity }
        if let windows, windows.values.reduce(0, { $0 + $1.milliUnits }) != quantity.milliUnits { throw CorrectionError.windowsDoNotAddUp }
        guard var usage = try await store.find(UsageRecord.self, id: id) else { throw CorrectionError.unknownUsage(id) }
        let before = usage
        usage.quantity = quantity
        usage.windows = windows
        usage.updatedAt = now
        let items = try await store.listAll(FeeItem.self, filters: [("community_id", usage.communityId)])
            .filter { $0.usageKind == usage.usageKind }
        let later = usage.period.monthsToYearEnd.map(\.description)
        let lines =
            usage.subjectKind == .house
            ? try await store.all(
                BillLine.self, where: "house_id", in: [usage.subjectId], filters: [("kind", "charge")],
                alsoIn: ("period", later)
            ).filter { line in items.contains { $0.id == line.feeItemId } }
            : []
        if usage.subjectKind == .device,
            try await store.count(BillLine.self, filters: [("kind", "charge"), ("period", usage.period.description)]) > 0,
            items.contains(where: { $0.category == .commonArea })
        {
            throw CorrectionError.sharedMeterAfterBilling(id)
        }
        try await store.update(usage)
        try await audit(
            "usage_corrected", subjectType: "usage", subjectId: usage.id, communityId: usage.communityId, reason: reason,
            before: StoredJSON.encode(before), after: StoredJSON.encode(usage))
        return try await adjust(lines.sorted { $0.period < $1.period }, reason: reason)
    }

    /// Corrects the rule of a standard version that was wrong from the start, and re-prices every line priced with it.
    ///
    /// (A price that changes from a date is a new version, not a correction.)
    public func correctStandard(id: String, rule: PricingRule, reason: String) async throws -> Result {
        let reason = try Self.checked(reason)
        let issues = rule.validate()
        guard issues.isEmpty else { throw CorrectionError.invalidRule(issues) }
        guard var standard = try await store.find(FeeStandard.self, id: id) else { throw CorrectionError.unknownStandard(id) }
        let before = standard
        standard.rule = rule
        standard.updatedAt = now
        try await store.update(standard)
        try await audit(
            "standard_corrected", subjectType: "fee_standard", subjectId: id, communityId: standard.communityId, reason: reason,
            before: StoredJSON.encode(before), after: StoredJSON.encode(standard))
        let lines = try await store.all(BillLine.self, where: "standard_id", in: [id], filters: [("kind", "charge")])
        return try await adjust(lines, reason: reason)
    }

    /// Re-prices each line with today's data and records the differences.
    func adjust(_ lines: [BillLine], reason: String) async throws -> Result {
        var result = Result(adjustments: [], billsChanged: [])
        var bills: [String: Bill] = [:]
        // One community context per billed month, however many lines a correction re-prices.
        var contexts: [String: RunContext] = [:]
        for line in lines {
            guard let planned = try await reprice(line, contexts: &contexts) else { continue }
            let earlier = try await store.all(BillLine.self, where: "adjusts_line_id", in: [line.id])
            let billed = line.amount + earlier.reduce(0) { $0 + $1.amount }
            let delta = planned.amount.minorUnits - billed
            guard delta != 0 else { continue }
            var bill: Bill? = nil
            if let billId = line.billId {
                if let known = bills[billId] { bill = known } else { bill = try await store.find(Bill.self, id: billId) }
            }
            let onSameBill = bill.map { $0.status == .open && $0.paidAmount == 0 } ?? false
            let adjustment = BillLine(
                id: Identifier.uuidV7(at: now), companyId: line.companyId, communityId: line.communityId,
                billId: onSameBill ? bill!.id : nil, houseId: line.houseId, feeItemId: line.feeItemId, period: line.period, kind: .adjustment,
                standardId: planned.standardId, standardVersion: planned.version, quantity: planned.quantity, unit: planned.unit,
                unitPrice: planned.unitPrice,
                basis:
                    "correction of \(line.period): billed \(FixedPoint.format(billed, scale: 2)), now \(planned.amount.decimalText) (\(planned.basis)); \(reason)",
                breakdown: planned.breakdown, exact: planned.exact, rounding: planned.rounding, billableDays: planned.billableDays,
                periodDays: planned.periodDays, amount: delta, adjustsLineId: line.id, createdAt: now)
            try await store.insert(adjustment)
            if onSameBill, var changed = bill {
                changed.totalAmount += delta
                changed.updatedAt = now
                try await store.update(changed)
                bills[changed.id] = changed
            }
            result.adjustments.append(adjustment)
        }
        result.billsChanged = Array(bills.values)
        return result
    }

    /// The line priced again with the current usage, standard rule and house facts; `nil` for lines that cannot be re-priced alone.
    func reprice(_ line: BillLine, contexts: inout [String: RunContext]) async throws -> PlannedLine? {
        guard let item = try await store.find(FeeItem.self, id: line.feeItemId), item.category != .commonArea,
            let standard = try await store.find(FeeStandard.self, id: line.standardId),
            let house = try await store.find(House.self, id: line.houseId)
        else { return nil }
        let month = line.period.firstMonthPeriod
        let key = line.communityId + "|" + month.description
        if contexts[key] == nil {
            contexts[key] = try await RunContext.load(store, bulk: store, communityId: line.communityId, period: month)
        }
        guard let context = contexts[key] else { return nil }
        let facts = try await ChunkFacts.load(store, context: context, houses: [house], nextCursor: nil)
        let terms = ChargeTerms(
            feeItemId: item.id, code: item.code, name: item.name, category: item.category, period: line.period,
            standardId: standard.id, version: standard.version, rule: standard.rule, usageKind: item.usageKind,
            largeHousehold: item.largeHousehold)
        let usage = item.usageKind.flatMap { facts.usage(house.id, $0, line.period) }
        // Priced as the bill run priced it: usage a prepaid plan charged is left out here too.
        var coverage: PrepaidCoverage? = nil
        if let kind = item.usageKind {
            coverage = try await PrepaidCoverageLoader.load(
                store.db, companyId: store.scope.companyId, community: context.community,
                period: line.period)[house.id]?[kind]
        }
        guard let houseFacts = facts.facts[house.id] else { return nil }
        switch try BillPlanner.line(terms, house: houseFacts, usage: usage, prepaid: coverage) {
        case .success(let planned): return planned
        case .failure(.missingUsage):
            // The usage was removed: the whole charge is credited.
            return PlannedLine(
                feeItemId: item.id, period: line.period, standardId: standard.id, version: standard.version, quantity: .zero,
                unit: standard.rule.unit, unitPrice: nil, breakdown: [], basis: "no usage on record",
                exact: ExactAmount(tenMillionths: 0), rounding: standard.rule.rounding.rawValue,
                billableDays: line.billableDays, periodDays: line.periodDays, amount: .zero(.cny))
        case .failure(.notOwned):
            return PlannedLine(
                feeItemId: item.id, period: line.period, standardId: standard.id, version: standard.version, quantity: nil,
                unit: nil, unitPrice: nil, breakdown: [], basis: "not owned during the period",
                exact: ExactAmount(tenMillionths: 0), rounding: standard.rule.rounding.rawValue,
                billableDays: 0, periodDays: line.periodDays, amount: .zero(.cny))
        }
    }

    func audit(
        _ action: String, subjectType: String, subjectId: String, communityId: String, reason: String, before: String,
        after: String
    ) async throws {
        try await store.insert(
            AuditEntry(
                id: Identifier.uuidV7(at: now), companyId: store.scope.companyId, communityId: communityId,
                actor: actor, action: action, subjectType: subjectType, subjectId: subjectId, reason: reason,
                beforeState: before, afterState: after, createdAt: now))
    }

    static func checked(_ reason: String) throws -> String {
        let trimmed = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, trimmed.count <= 500 else { throw CorrectionError.reasonRequired }
        return trimmed
    }
}
