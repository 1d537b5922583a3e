import CourtyardDomain
import Foundation
import SQLKit

/// JSON columns (rules, policies, window usage, breakdowns) are stored in the API's snake_case form.
/// JSON with the API's conventions: snake_case keys, sorted so the same value always has the same bytes. One place for
/// the device payloads, stored plan configurations and outbox payloads.
public enum SnakeCaseJSON {
    public static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }

    public static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }
}

public enum StoredJSON {
    public static func encode<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.userInfo[.storedQuoteLine] = true
        return String(decoding: (try? encoder.encode(value)) ?? Data("null".utf8), as: UTF8.self)
    }

    public static func decode<T: Decodable>(_ type: T.Type, _ text: String, table: String, column: String) throws -> T {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do { return try decoder.decode(T.self, from: Data(text.utf8)) } catch { throw StorageError.corruptRow(table: table, column: column) }
    }
}

/// A fee item (收费项): what is charged, how often, when it is due, and what happens when it is late.
///
/// The price lives in its versioned ``FeeStandard``s; the houses it applies to
/// in its ``FeeAttachment``s (the "house fee standard" association).
public struct FeeItem: TenantRecord, Codable, Equatable {
    public var id: String
    public var companyId: String
    public var communityId: String
    /// Unique in the community; also the purpose of its revenue account.
    public var code: String
    public var name: String
    public var category: FeeCategory
    public var billingCycle: BillingPeriod.Cycle
    /// For metered items: which usage prices it.
    public var usageKind: UsageKind?
    /// Days after the bill's issue date (the first day after the run's month) that it is due.
    public var dueDays: Int
    public var lateFeePolicy: LateFeePolicy?
    public var largeHousehold: LargeHouseholdQuota?
    /// For common-area items: how a shared meter's cost is split (the meter is named per attachment).
    public var apportionBasis: Apportionment.Basis?
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String, companyId: String, communityId: String, code: String, name: String, category: FeeCategory,
        billingCycle: BillingPeriod.Cycle, usageKind: UsageKind?, dueDays: Int, lateFeePolicy: LateFeePolicy?,
        largeHousehold: LargeHouseholdQuota?, apportionBasis: Apportionment.Basis?,
        createdAt: Date, updatedAt: Date
    ) {
        self.id = id; self.companyId = companyId; self.communityId = communityId; self.code = code; self.name = name
        self.category = category; self.billingCycle = billingCycle; self.usageKind = usageKind; self.dueDays = dueDays
        self.lateFeePolicy = lateFeePolicy; self.largeHousehold = largeHousehold
        self.apportionBasis = apportionBasis; self.createdAt = createdAt; self.updatedAt = updatedAt
    }

    public static let table = "fee_items"
    public static let columns = [
        "id", "company_id", "community_id", "code", "name", "category", "billing_cycle", "usage_kind",
        "due_days", "late_fee_policy", "large_household", "apportion_basis",
        "created_at", "updated_at",
    ]

    public init(row: RowReader) throws {
        let policy = try row.optionalString("late_fee_policy")
        let quota = try row.optionalString("large_household")
        self.init(
            id: try row.string("id"), companyId: try row.string("company_id"), communityId: try row.string("community_id"),
            code: try row.string("code"), name: try row.string("name"), category: try row.value("category", as: FeeCategory.self),
            billingCycle: try row.value("billing_cycle", as: BillingPeriod.Cycle.self),
            usageKind: try row.optionalString("usage_kind").map { text in
                guard let kind = UsageKind(rawValue: text) else { throw StorageError.corruptRow(table: Self.table, column: "usage_kind") }
                return kind
            },
            dueDays: try row.optionalInt("due_days") ?? 0,
            lateFeePolicy: try policy.map { try StoredJSON.decode(LateFeePolicy.self, $0, table: Self.table, column: "late_fee_policy") },
            largeHousehold: try quota.map { try StoredJSON.decode(LargeHouseholdQuota.self, $0, table: Self.table, column: "large_household") },
            apportionBasis: try row.optionalString("apportion_basis").map { text in
                guard let basis = Apportionment.Basis(rawValue: text) else {
                    throw StorageError.corruptRow(table: Self.table, column: "apportion_basis")
                }
                return basis
            },
            createdAt: try row.instant("created_at"), updatedAt: try row.instant("updated_at"))
    }

    public var storageValues: [any SQLExpression] {
        [
            SQLBind(id), SQLBind(companyId), SQLBind(communityId), SQLBind(code), SQLBind(name), SQLBind(category.rawValue),
            SQLBind(billingCycle.rawValue), sqlValue(usageKind?.rawValue), SQLBind(dueDays),
            sqlValue(lateFeePolicy.map(StoredJSON.encode)), sqlValue(largeHousehold.map(StoredJSON.encode)),
            sqlValue(apportionBasis?.rawValue),
            SQLBind(createdAt.epochMilliseconds), SQLBind(updatedAt.epochMilliseconds),
        ]
    }
}

/// One version of a fee item's price (收费标准): a pricing rule in force from a date.
///
/// Versions of one item never overlap; a bill line records the version it used,
/// so a price change never rewrites history.
public struct FeeStandard: TenantRecord, Codable, Equatable {
    public var id: String
    public var companyId: String
    public var communityId: String
    public var feeItemId: String
    public var version: Int
    /// The first day of a month: versions take effect from a period start.
    public var effectiveFrom: LocalDate
    public var effectiveUntil: LocalDate?
    public var rule: PricingRule
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String, companyId: String, communityId: String, feeItemId: String, version: Int, effectiveFrom: LocalDate,
        effectiveUntil: LocalDate?, rule: PricingRule, createdAt: Date, updatedAt: Date
    ) {
        self.id = id; self.companyId = companyId; self.communityId = communityId; self.feeItemId = feeItemId
        self.version = version; self.effectiveFrom = effectiveFrom; self.effectiveUntil = effectiveUntil; self.rule = rule
        self.createdAt = createdAt; self.updatedAt = updatedAt
    }

    public var period: EffectivePeriod { EffectivePeriod(from: effectiveFrom, until: effectiveUntil) }

    public static let table = "fee_standards"
    public static let columns = [
        "id", "company_id", "community_id", "fee_item_id", "version", "effective_from", "effective_until",
        "rule", "created_at", "updated_at",
    ]

    public init(row: RowReader) throws {
        self.init(
            id: try row.string("id"), companyId: try row.string("company_id"), communityId: try row.string("community_id"),
            feeItemId: try row.string("fee_item_id"), version: try row.optionalInt("version") ?? 0,
            effectiveFrom: try row.date("effective_from"), effectiveUntil: try row.optionalDate("effective_until"),
            rule: try StoredJSON.decode(PricingRule.self, try row.string("rule"), table: Self.table, column: "rule"),
            createdAt: try row.instant("created_at"), updatedAt: try row.instant("updated_at"))
    }

    public var storageValues: [any SQLExpression] {
        [
            SQLBind(id), SQLBind(companyId), SQLBind(communityId), SQLBind(feeItemId), SQLBind(version),
            SQLBind(effectiveFrom.description), sqlValue(effectiveUntil?.description), SQLBind(StoredJSON.encode(rule)),
            SQLBind(createdAt.epochMilliseconds), SQLBind(updatedAt.epochMilliseconds),
        ]
    }
}

/// Which houses a fee item applies to, and when: the whole community, a building, a unit, one house, or a house type.
public struct FeeAttachment: TenantRecord, Codable, Equatable {
    public enum Scope: String, Codable, Sendable, CaseIterable {
        case community, building, unit, house
        case houseType = "house_type"
    }

    public var id: String
    public var companyId: String
    public var communityId: String
    public var feeItemId: String
    public var scope: Scope
    /// The building, unit or house id, or the house type; `nil` for the community.
    public var target: String?
    /// For common-area items: the shared meter (device id) whose cost the houses of this attachment split.
    public var sharedMeterId: String?
    public var validFrom: LocalDate
    public var validUntil: LocalDate?
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String, companyId: String, communityId: String, feeItemId: String, scope: Scope, target: String?,
        sharedMeterId: String? = nil, validFrom: LocalDate, validUntil: LocalDate?, createdAt: Date, updatedAt: Date
    ) {
        self.id = id; self.companyId = companyId; self.communityId = communityId; self.feeItemId = feeItemId
        self.scope = scope; self.target = target; self.sharedMeterId = sharedMeterId; self.validFrom = validFrom; self.validUntil = validUntil
        self.createdAt = createdAt; self.updatedAt = updatedAt
    }

    public var period: EffectivePeriod { EffectivePeriod(from: validFrom, until: validUntil) }

    /// Whether the attachment covers a house (on some day of `period`).
    public func covers(house: House, during period: BillingPeriod) -> Bool {
        guard self.period.overlaps(period.span) else { return false }
        switch scope {
        case .community: return house.communityId == communityId
        case .building: return house.buildingId == target
        case .unit: return house.unitId != nil && house.unitId == target
        case .house: return house.id == target
        case .houseType: return house.houseType.rawValue == target
        }
    }

    public static let table = "fee_attachments"
    public static let columns = [
        "id", "company_id", "community_id", "fee_item_id", "scope", "target", "shared_meter_id",
        "valid_from", "valid_until", "created_at", "updated_at",
    ]

    public init(row: RowReader) throws {
        self.init(
            id: try row.string("id"), companyId: try row.string("company_id"), communityId: try row.string("community_id"),
            feeItemId: try row.string("fee_item_id"), scope: try row.value("scope", as: Scope.self),
            target: try row.optionalString("target"), sharedMeterId: try row.optionalString("shared_meter_id"), validFrom: try row.date("valid_from"),
            validUntil: try row.optionalDate("valid_until"), createdAt: try row.instant("created_at"),
            updatedAt: try row.instant("updated_at"))
    }

    public var storageValues: [any SQLExpression] {
        [
            SQLBind(id), SQLBind(companyId), SQLBind(communityId), SQLBind(feeItemId), SQLBind(scope.rawValue), sqlValue(target),
            sqlValue(sharedMeterId), SQLBind(validFrom.description), sqlValue(validUntil?.description), SQLBind(createdAt.epochMilliseconds),
            SQLBind(updatedAt.epochMilliseconds),
        ]
    }
}

/// Usage of one kind for one period, of a house or of a shared (common-area) meter.
///
/// Until ingestion derives it from readings, the simulator, CSV import and
/// manual entry write it; ingestion will write the same rows.
public struct UsageRecord: TenantRecord, Codable, Equatable {
    public enum SubjectKind: String, Codable, Sendable, CaseIterable {
        case house
        /// A common-area meter (a device id), whose usage is apportioned.
        case device
    }

    public enum Source: String, Codable, Sendable, CaseIterable {
        case manual, csv, simulator, ingestion
    }

    public var id: String
    public var companyId: String
    public var communityId: String
    public var subjectKind: SubjectKind
    public var subjectId: String
    public var usageKind: UsageKind
    /// A month ("2026-10").
    public var period: BillingPeriod
    public var quantity: Quantity
    public var windows: [String: Quantity]?
    public var estimated: Bool
    public var source: Source
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String, companyId: String, communityId: String, subjectKind: SubjectKind, subjectId: String, usageKind: UsageKind,
        period: BillingPeriod, quantity: Quantity, windows: [String: Quantity]?, estimated: Bool, source: Source,
        createdAt: Date, updatedAt: Date
    ) {
        self.id = id; self.companyId = companyId; self.communityId = communityId; self.subjectKind = subjectKind
        self.subjectId = subjectId; self.usageKind = usageKind; self.period = period; self.quantity = quantity
        self.windows = windows; self.estimated = estimated; self.source = source; self.createdAt = createdAt; self.updatedAt = updatedAt
    }

    public static let table = "usage_records"
    public static let columns = [
        "id", "company_id", "community_id", "subject_kind", "subject_id", "usage_kind", "period",
        "quantity_milli", "windows", "estimated", "source", "created_at", "updated_at",
    ]

    public init(row: RowReader) throws {
        guard let period = BillingPeriod(try row.string("period")) else { throw StorageError.corruptRow(table: Self.table, column: "period") }
        let windows = try row.optionalString("windows")
        self.init(
            id: try row.string("id"), companyId: try row.string("company_id"), communityId: try row.string("community_id"),
            subjectKind: try row.value("subject_kind", as: SubjectKind.self), subjectId: try row.string("subject_id"),
            usageKind: try row.value("usage_kind", as: UsageKind.self), period: period,
            quantity: Quantity(milliUnits: try row.int64("quantity_milli")),
            windows: try windows.map(Self.windows(stored:)),
            estimated: try row.int64("estimated") != 0, source: try row.value("source", as: Source.self),
            createdAt: try row.instant("created_at"), updatedAt: try row.instant("updated_at"))
    }

    /// Window usage as stored in the `windows` column.
    public static func windows(stored text: String) throws -> [String: Quantity] {
        try CompactJSON.parseQuantities(text) ?? StoredJSON.decode([String: Quantity].self, text, table: table, column: "windows")
    }

    public var storageValues: [any SQLExpression] {
        [
            SQLBind(id), SQLBind(companyId), SQLBind(communityId), SQLBind(subjectKind.rawValue), SQLBind(subjectId),
            SQLBind(usageKind.rawValue), SQLBind(period.description), SQLBind(quantity.milliUnits),
            sqlValue(windows.map(CompactJSON.quantities)), SQLBind(estimated ? 1 : 0), SQLBind(source.rawValue),
            SQLBind(createdAt.epochMilliseconds), SQLBind(updatedAt.epochMilliseconds),
        ]
    }
}
