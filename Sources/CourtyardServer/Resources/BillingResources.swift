import CourtyardDomain
import CourtyardStorage
import Foundation
import HTTPTypes

extension Example {
    static let feeItem = "0194f3a0-0000-7000-8000-000000000010"
    static let feeStandard = "0194f3a0-0000-7000-8000-000000000011"
    static let feeAttachment = "0194f3a0-0000-7000-8000-000000000012"
    static let usage = "0194f3a0-0000-7000-8000-000000000013"
    static let propertyFeeRule = PricingRule(kind: .perArea, pricePerSquareMetre: UnitPrice(tenThousandths: 25_000), areaBasis: .built)
}

extension FeeItem: APIResource {
    /// Writable fields of a fee item. The code names the item's revenue account, so it cannot change.
    struct Input: Codable, Sendable {
        var communityId: String
        var code: String
        var name: String
        var category: FeeCategory
        var billingCycle: BillingPeriod.Cycle?
        var usageKind: UsageKind?
        var dueDays: Int?
        var lateFeePolicy: LateFeePolicy?
        var largeHousehold: LargeHouseholdQuota?
        var apportionBasis: Apportionment.Basis?
    }

    static let path = "fee-items"
    static let displayName = "FeeItem"
    static let readPermission = Permission.readFinance
    static let writePermission = Permission.manageFinance
    static let filters = ["community_id", "category", "code"]
    static let requiredInputFields = ["community_id", "code", "name", "category"]
    static var example: FeeItem {
        FeeItem(
            id: Example.feeItem, companyId: Example.company, communityId: Example.community, code: "property_fee",
            name: "Property management fee", category: .propertyFee, billingCycle: .monthly, usageKind: nil, dueDays: 15,
            lateFeePolicy: LateFeePolicy(graceDays: 5, dailyRatePerMillion: 500), largeHousehold: nil, apportionBasis: nil,
            createdAt: Example.date, updatedAt: Example.date)
    }
    static var exampleInput: Input { example.input }

    var input: Input {
        Input(
            communityId: communityId, code: code, name: name, category: category, billingCycle: billingCycle, usageKind: usageKind,
            dueDays: dueDays, lateFeePolicy: lateFeePolicy, largeHousehold: largeHousehold, apportionBasis: apportionBasis)
    }

    static func make(_ input: Input, id: String, existing: FeeItem?, now: Date, store: ScopedStore) async throws -> FeeItem {
        var check = Validator()
        check.check(
            input.code.range(of: "^[a-z][a-z0-9_]{0,39}$", options: .regularExpression) != nil, "code", "invalid_format",
            "code must be 1 to 40 lower-case letters, digits or underscores, starting with a letter")
        check.text(input.name, "name")
        check.unchanged(input.code, existing?.code, "code")
        check.unchanged(input.communityId, existing?.communityId, "community_id")
        let cycle = input.billingCycle ?? .monthly
        let metered = [.water, .electricity, .gas, .heating, .commonArea].contains(input.category)
        if metered || input.usageKind != nil {
            check.check(input.usageKind != nil, "usage_kind", "required", "usage_kind is required for \(input.category.rawValue) items")
            check.check(cycle == .monthly, "billing_cycle", "metered_monthly", "metered items are billed monthly")
        }
        if let due = input.dueDays { check.check((0...365).contains(due), "due_days", "out_of_range", "due_days must be 0 to 365") }
        for issue in input.lateFeePolicy?.problems ?? [] {
            check.check(false, "late_fee_policy." + issue.path, issue.code, issue.message)
        }
        if let quota = input.largeHousehold {
            check.check(quota.minResidents >= 2, "large_household.min_residents", "out_of_range", "min_residents must be at least 2")
            check.check(
                (1_000...10_000).contains(quota.quotaScaleThousandths), "large_household.quota_scale_thousandths", "out_of_range",
                "the quota scale must be 1000 to 10000 thousandths")
        }
        check.check(
            input.apportionBasis == nil || input.category == .commonArea, "apportion_basis", "not_common_area",
            "only common_area items are apportioned")
        try check.finish()
        _ = try await store.reference(Community.self, id: input.communityId, field: "community_id")
        return FeeItem(
            id: id, companyId: store.scope.companyId, communityId: input.communityId, code: input.code, name: input.name,
            category: input.category, billingCycle: cycle, usageKind: input.usageKind, dueDays: input.dueDays ?? 15,
            lateFeePolicy: input.lateFeePolicy, largeHousehold: input.largeHousehold,
            apportionBasis: input.category == .commonArea ? (input.apportionBasis ?? .builtArea) : nil,
            createdAt: existing?.createdAt ?? now, updatedAt: now)
    }
}

extension FeeStandard: APIResource {
    /// Writable fields of a standard version. Only `effective_until` may change later (to close it); a new price is a new version.
    struct Input: Codable, Sendable {
        var feeItemId: String
        var effectiveFrom: LocalDate
        var effectiveUntil: LocalDate?
        var rule: PricingRule
    }

    static let path = "fee-standards"
    static let displayName = "FeeStandard"
    static let readPermission = Permission.readFinance
    static let writePermission = Permission.manageFinance
    static let filters = ["community_id", "fee_item_id"]
    static let requiredInputFields = ["fee_item_id", "effective_from", "rule"]
    static var example: FeeStandard {
        FeeStandard(
            id: Example.feeStandard, companyId: Example.company, communityId: Example.community, feeItemId: Example.feeItem,
            version: 1, effectiveFrom: Example.day, effectiveUntil: nil, rule: Example.propertyFeeRule,
            createdAt: Example.date, updatedAt: Example.date)
    }
    static var exampleInput: Input { example.input }

    var input: Input { Input(feeItemId: feeItemId, effectiveFrom: effectiveFrom, effectiveUntil: effectiveUntil, rule: rule) }

    static func make(_ input: Input, id: String, existing: FeeStandard?, now: Date, store: ScopedStore) async throws -> FeeStandard {
        var check = Validator()
        let period = EffectivePeriod(from: input.effectiveFrom, until: input.effectiveUntil)
        check.check(
            input.effectiveFrom.day == 1, "effective_from", "not_period_start",
            "a standard takes effect on the first day of a month (bills are monthly)")
        if let until = input.effectiveUntil {
            check.check(until.day == 1, "effective_until", "not_period_start", "a standard ends on the first day of a month")
            check.check(period.isValid, "effective_until", "before_start", "effective_until must be after effective_from")
        }
        check.unchanged(input.feeItemId, existing?.feeItemId, "fee_item_id")
        check.unchanged(input.effectiveFrom, existing?.effectiveFrom, "effective_from")
        check.unchanged(input.rule, existing?.rule, "rule")
        for issue in input.rule.validate() {
            check.check(false, "rule." + issue.path, issue.code, issue.message)
        }
        check.check(
            input.rule.kind != .perDuration, "rule.kind", "unsupported_rule_kind",
            "per_duration rules price sessions (parking, facilities), not periodic fees")
        try check.finish()
        let item = try await store.reference(FeeItem.self, id: input.feeItemId, field: "fee_item_id")
        let needsUsage = item.usageKind != nil
        if needsUsage != (input.rule.kind == .metered) {
            throw Problem.invalid(
                "rule.kind", code: "rule_does_not_fit_item",
                needsUsage
                    ? "\(item.code) is metered: its rule must be metered"
                    : "\(item.code) has no usage: its rule must be fixed or per_area")
        }
        let others = try await store.listAll(FeeStandard.self, filters: [("fee_item_id", item.id)]).filter { $0.id != id }
        if let clash = others.first(where: { $0.period.overlaps(period) }) {
            throw Problem(
                .conflict, code: "standard_overlap", title: "Another version of this fee item is in force during these dates",
                detail:
                    "version \(clash.version) runs from \(clash.effectiveFrom) to \(clash.effectiveUntil?.description ?? "open end"); close it first",
                errors: [FieldIssue(field: "effective_from", code: "standard_overlap", message: "overlaps version \(clash.version)")])
        }
        return FeeStandard(
            id: id, companyId: store.scope.companyId, communityId: item.communityId, feeItemId: item.id,
            version: existing?.version ?? ((others.map(\.version).max() ?? 0) + 1), effectiveFrom: input.effectiveFrom,
            effectiveUntil: input.effectiveUntil, rule: input.rule, createdAt: existing?.createdAt ?? now, updatedAt: now)
    }
}

extension FeeAttachment: APIResource {
    /// Writable fields of an attachment (the house fee standard association).
    struct Input: Codable, Sendable {
        var feeItemId: String
        var scope: Scope
        var target: String?
        var sharedMeterId: String?
        var validFrom: LocalDate
        var validUntil: LocalDate?
    }

    static let path = "fee-attachments"
    static let displayName = "FeeAttachment"
    static let readPermission = Permission.readFinance
    static let writePermission = Permission.manageFinance
    static let filters = ["community_id", "fee_item_id", "scope", "target"]
    static let requiredInputFields = ["fee_item_id", "scope", "valid_from"]
    static var example: FeeAttachment {
        FeeAttachment(
            id: Example.feeAttachment, companyId: Example.company, communityId: Example.community, feeItemId: Example.feeItem,
            scope: .building, target: Example.building, validFrom: Example.day, validUntil: nil,
            createdAt: Example.date, updatedAt: Example.date)
    }
    static var exampleInput: Input { example.input }

    var input: Input {
        Input(feeItemId: feeItemId, scope: scope, target: target, sharedMeterId: sharedMeterId, validFrom: validFrom, validUntil: validUntil)
    }

    static func make(_ input: Input, id: String, existing: FeeAttachment?, now: Date, store: ScopedStore) async throws -> FeeAttachment {
        var check = Validator()
        check.check(
            EffectivePeriod(from: input.validFrom, until: input.validUntil).isValid, "valid_until", "before_start",
            "valid_until must be after valid_from")
        check.check(
            (input.scope == .community) == (input.target == nil), "target", input.scope == .community ? "not_allowed" : "required",
            input.scope == .community ? "a community attachment has no target" : "target is required for scope \(input.scope.rawValue)")
        check.unchanged(input.feeItemId, existing?.feeItemId, "fee_item_id")
        try check.finish()
        let item = try await store.reference(FeeItem.self, id: input.feeItemId, field: "fee_item_id")
        let community = item.communityId
        switch input.scope {
        case .community: break
        case .building: _ = try await store.reference(Building.self, id: input.target, field: "target", community: community)
        case .unit: _ = try await store.reference(BuildingUnit.self, id: input.target, field: "target", community: community)
        case .house: _ = try await store.reference(House.self, id: input.target, field: "target", community: community)
        case .houseType:
            guard let target = input.target, House.Kind(rawValue: target) != nil else {
                throw Problem.invalid(
                    "target", code: "invalid_value",
                    "target must be a house type: " + House.Kind.allCases.map(\.rawValue).joined(separator: ", "))
            }
        }
        if item.category == .commonArea {
            guard input.sharedMeterId != nil else {
                throw Problem.invalid("shared_meter_id", code: "required", "a common_area item's attachment names the shared meter it splits")
            }
            _ = try await store.reference(Device.self, id: input.sharedMeterId, field: "shared_meter_id", community: community)
        } else if input.sharedMeterId != nil {
            throw Problem.invalid("shared_meter_id", code: "not_common_area", "only common_area items split a shared meter")
        }
        return FeeAttachment(
            id: id, companyId: store.scope.companyId, communityId: community, feeItemId: item.id, scope: input.scope,
            target: input.target, sharedMeterId: input.sharedMeterId, validFrom: input.validFrom,
            validUntil: input.validUntil, createdAt: existing?.createdAt ?? now, updatedAt: now)
    }
}

extension UsageRecord: APIResource {
    /// Writable fields of a usage figure (manual entry; CSV import and ingestion write the same rows).
    struct Input: Codable, Sendable {
        var subjectKind: SubjectKind
        var subjectId: String
        var usageKind: UsageKind
        var period: BillingPeriod
        var quantity: Quantity
        var windows: [String: Quantity]?
        var estimated: Bool?
        var source: Source?
    }

    static let path = "usage"
    static let displayName = "Usage"
    static let readPermission = Permission.readDevices
    static let writePermission = Permission.recordUsage
    static let filters = ["community_id", "subject_id", "usage_kind", "period"]
    static let requiredInputFields = ["subject_kind", "subject_id", "usage_kind", "period", "quantity"]
    static var example: UsageRecord {
        UsageRecord(
            id: Example.usage, companyId: Example.company, communityId: Example.community, subjectKind: .house,
            subjectId: Example.house, usageKind: .electricity, period: BillingPeriod("2026-10")!,
            quantity: Quantity(milliUnits: 253_400), windows: ["peak": Quantity(milliUnits: 120_000), "valley": Quantity(milliUnits: 133_400)],
            estimated: false, source: .manual, createdAt: Example.date, updatedAt: Example.date)
    }
    static var exampleInput: Input { example.input }

    var input: Input {
        Input(
            subjectKind: subjectKind, subjectId: subjectId, usageKind: usageKind, period: period, quantity: quantity, windows: windows,
            estimated: estimated, source: source)
    }

    static func make(_ input: Input, id: String, existing: UsageRecord?, now: Date, store: ScopedStore) async throws -> UsageRecord {
        var check = Validator()
        check.check(input.period.cycle == .monthly, "period", "not_a_month", "usage is recorded per month (2026-10)")
        check.check(input.quantity.milliUnits >= 0, "quantity", "must_not_be_negative", "quantity must not be negative")
        if let windows = input.windows {
            check.check(windows.values.allSatisfy { $0.milliUnits >= 0 }, "windows", "must_not_be_negative", "window usage must not be negative")
            check.check(
                windows.values.reduce(0) { $0 + $1.milliUnits } == input.quantity.milliUnits, "windows", "does_not_add_up",
                "window usages must add up to quantity")
        }
        check.unchanged(input.subjectId, existing?.subjectId, "subject_id")
        check.unchanged(input.period, existing?.period, "period")
        check.unchanged(input.usageKind, existing?.usageKind, "usage_kind")
        try check.finish()
        if let existing { try await refuseIfBilled(existing, store: store) }
        let community: String
        switch input.subjectKind {
        case .house: community = try await store.reference(House.self, id: input.subjectId, field: "subject_id").communityId
        case .device: community = try await store.reference(Device.self, id: input.subjectId, field: "subject_id").communityId
        }
        return UsageRecord(
            id: id, companyId: store.scope.companyId, communityId: community, subjectKind: input.subjectKind,
            subjectId: input.subjectId, usageKind: input.usageKind, period: input.period, quantity: input.quantity,
            windows: input.windows, estimated: input.estimated ?? false, source: input.source ?? .manual,
            createdAt: existing?.createdAt ?? now, updatedAt: now)
    }
}

extension UsageRecord {
    /// Billed usage changes only through a correction, which leaves adjustment lines and an audit entry.
    static func refuseIfBilled(_ record: UsageRecord, store: ScopedStore) async throws {
        // A house's own usage: its lines of that month; a shared meter's: any line of the community that month.
        let subject = record.subjectKind == .house ? ("house_id", record.subjectId) : ("community_id", record.communityId)
        let billed = try await store.count(BillLine.self, filters: [("period", record.period.description), ("kind", "charge"), subject]) > 0
        if billed {
            throw Problem(
                .conflict, code: "already_billed", title: "This usage has been billed",
                detail: "correct it with POST /api/v1/usage/\(record.id)/corrections, which adjusts the bills it priced",
                errors: [FieldIssue(field: "quantity", code: "already_billed", message: "use a correction")])
        }
    }

    static func checkDelete(_ record: UsageRecord, store: ScopedStore) async throws {
        try await refuseIfBilled(record, store: store)
    }
}

extension FeeStandard {
    /// A version that priced bill lines stays: close it with `effective_until` instead.
    static func checkDelete(_ record: FeeStandard, store: ScopedStore) async throws {
        if try await store.count(BillLine.self, filters: [("standard_id", record.id)]) > 0 {
            throw Problem(
                .conflict, code: "standard_in_use", title: "Bills were priced with this version",
                detail: "set effective_until to end it; correct a wrong rule with POST /api/v1/fee-standards/\(record.id)/corrections")
        }
    }
}
