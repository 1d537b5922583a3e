import CourtyardDomain
import CourtyardStorage
import Foundation
import SQLKit

/// A community's billing configuration for one run: its fee items, the standard version in force for each, and attachments.
struct RunContext: Sendable {
    var community: Community
    var period: BillingPeriod
    var items: [String: FeeItem]
    /// Items billed in this run with their standard in force, ordered by code.
    var terms: [ChargeTerms]
    var attachments: [String: [FeeAttachment]]
    var itemsWithoutStandard: [String]
    /// Attachments per item, keyed by what they target, so matching a house is a few lookups, not a scan.
    var index: [String: AttachmentIndex] = [:]

    /// The community's configuration; its attachments (one per parking card: hundreds of thousands in a large community)
    /// come from `bulk`, which a bill run points at its raw reader.
    static func load(_ store: ScopedStore, bulk: some TenantRowSource, communityId: String, period: BillingPeriod) async throws -> RunContext? {
        guard let community = try await store.find(Community.self, id: communityId) else { return nil }
        let filter = [("community_id", communityId)]
        let items = try await store.listAll(FeeItem.self, filters: filter)
        let standards = try await store.listAll(FeeStandard.self, filters: filter)
        let attachments = try await bulk.listAll(FeeAttachment.self, filters: filter)
        var terms: [ChargeTerms] = []
        var missing: [String] = []
        for item in items.sorted(by: { $0.code < $1.code }) {
            guard let itemPeriod = period.billed(item.billingCycle) else { continue }
            guard let standard = standards.first(where: { $0.feeItemId == item.id && $0.period.contains(itemPeriod.start) }) else {
                if attachments.contains(where: { $0.feeItemId == item.id }) { missing.append(item.code) }
                continue
            }
            terms.append(
                ChargeTerms(
                    feeItemId: item.id, code: item.code, name: item.name, category: item.category, period: itemPeriod,
                    standardId: standard.id, version: standard.version, rule: standard.rule,
                    usageKind: item.usageKind, largeHousehold: item.largeHousehold))
        }
        let byItem = Dictionary(grouping: attachments, by: \.feeItemId)
        // Common-area items keep their attachments (each names a shared meter); the others only need the index.
        let common = Set(items.filter { $0.category == .commonArea }.map(\.id))
        var context = RunContext(
            community: community, period: period, items: Dictionary(uniqueKeysWithValues: items.map { ($0.id, $0) }),
            terms: terms, attachments: byItem.filter { common.contains($0.key) }, itemsWithoutStandard: missing)
        for terms in context.terms {
            context.index[terms.feeItemId] = AttachmentIndex(byItem[terms.feeItemId] ?? [], period: terms.period)
        }
        return context
    }

    /// Whether the item is attached to the house during the item's period.
    func applies(_ feeItemId: String, to house: House) -> Bool {
        index[feeItemId]?.covers(house) ?? false
    }

    /// The usage kinds any metered item of this run prices.
    var usageKinds: Set<UsageKind> {
        Set(terms.compactMap { items[$0.feeItemId]?.category == .commonArea ? nil : $0.usageKind })
    }
}

/// One chunk of houses and everything the planner needs about them, loaded with a few batch queries.
struct ChunkFacts: Sendable {
    var houses: [House]
    var nextCursor: String?
    var facts: [String: HouseFacts]
    /// Each house's monthly usage of this year up to the period (all kinds: a few dozen at most).
    var monthly: [String: [MonthlyUsage]]
    /// Charges already billed, as "house|item|period".
    var billed: Set<String>
    /// Adjustments waiting for each house's next bill.
    var pendingAdjustments: [String: [BillLine]]

    static func key(_ house: String, _ item: String, _ period: BillingPeriod) -> String { house + "|" + item + "|" + period.description }

    static func load(_ store: some TenantRowSource, context: RunContext, after cursor: String?, limit: Int) async throws -> ChunkFacts {
        let page = try await store.list(House.self, filters: [("community_id", context.community.id)], after: cursor, limit: limit)
        return try await load(store, context: context, houses: page.items, nextCursor: page.nextCursor)
    }

    static func load(_ store: some TenantRowSource, context: RunContext, houses: [House], nextCursor: String?) async throws -> ChunkFacts {
        let page = (items: houses, nextCursor: nextCursor)
        let ids = page.items.map(\.id)
        let occupancies = try await store.all(Occupancy.self, where: "house_id", in: ids, filters: [], alsoIn: nil, literal: [])
        let periodStart = context.period.start
        var facts: [String: HouseFacts] = [:]
        let byHouse = Dictionary(grouping: occupancies, by: \.houseId)
        for house in page.items {
            let links = byHouse[house.id] ?? []
            let owners = links.filter { $0.role == .owner }.map(\.period)
            let residents = Set(links.filter { $0.period.contains(periodStart) }.map(\.personId)).count
            facts[house.id] = HouseFacts(
                id: house.id, builtArea: house.builtArea, indoorArea: house.indoorArea, residents: residents,
                ownership: owners.isEmpty ? nil : owners)
        }
        var monthly: [String: [MonthlyUsage]] = [:]
        let kinds = context.usageKinds
        if !kinds.isEmpty {
            let months = (context.period.earlierMonthsOfYear + [context.period]).map(\.description)
            // Only the columns the planner uses (full records decoded thirteen columns each, a sixth of a run's CPU).
            var periods: [String: BillingPeriod] = [:]
            for reader in try await store.rows(
                ["subject_id", "usage_kind", "period", "quantity_milli", "windows", "estimated"],
                of: UsageRecord.self, where: "subject_id", in: ids, alsoIn: ("period", months), literal: [])
            {
                guard let kind = UsageKind(rawValue: try reader.string("usage_kind")) else {
                    throw StorageError.corruptRow(table: UsageRecord.table, column: "usage_kind")
                }
                guard kinds.contains(kind) else { continue }
                let text = try reader.string("period")
                guard let period = periods[text] ?? BillingPeriod(text) else {
                    throw StorageError.corruptRow(table: UsageRecord.table, column: "period")
                }
                periods[text] = period
                monthly[try reader.string("subject_id"), default: []].append(
                    MonthlyUsage(
                        kind: kind, period: period, quantity: Quantity(milliUnits: try reader.int64("quantity_milli")),
                        windows: try reader.optionalString("windows").map(UsageRecord.windows(stored:)),
                        estimated: try reader.int64("estimated") != 0))
            }
        }
        var billed: Set<String> = []
        let periods = Set(context.terms.map(\.period.description))
        for reader in try await store.rows(
            ["house_id", "fee_item_id", "period"], of: BillLine.self, where: "house_id", in: ids,
            alsoIn: ("period", periods.sorted()), literal: ["kind = 'charge'"])
        {
            billed.insert(try reader.string("house_id") + "|" + reader.string("fee_item_id") + "|" + reader.string("period"))
        }
        let pending = try await store.all(BillLine.self, where: "house_id", in: ids, filters: [], alsoIn: nil, literal: ["bill_id IS NULL"])
        return ChunkFacts(
            houses: page.items, nextCursor: page.nextCursor, facts: facts, monthly: monthly, billed: billed,
            pendingAdjustments: Dictionary(grouping: pending, by: \.houseId))
    }

    /// The house's metered usage of `kind` for a monthly `period`, with the year-to-date position; `nil` when not recorded.
    func usage(_ house: String, _ kind: UsageKind, _ period: BillingPeriod) -> MeteredUsage? {
        // One lookup per house and a scan of its records: no key text built per month (this ran for every metered line).
        guard let records = monthly[house], let record = records.first(where: { $0.kind == kind && $0.period == period }) else { return nil }
        var yearToDate: Int64 = 0
        for earlier in records
        where earlier.kind == kind && earlier.period.cycle == .monthly && earlier.period.year == period.year
            && earlier.period.firstMonth < period.firstMonth
        {
            yearToDate += earlier.quantity.milliUnits
        }
        return MeteredUsage(
            quantity: record.quantity, windows: record.windows, yearToDate: Quantity(milliUnits: yearToDate),
            estimated: record.estimated)
    }
}

/// A house's usage of one kind in one month, as the planner reads it.
struct MonthlyUsage: Sendable {
    var kind: UsageKind
    var period: BillingPeriod
    var quantity: Quantity
    var windows: [String: Quantity]?
    var estimated: Bool
}

/// One item's attachments in force during a period, by target.
struct AttachmentIndex: Sendable {
    var community = false
    /// Targets by scope (one set each, so a lookup builds no key text).
    var targets: [FeeAttachment.Scope: Set<String>] = [:]

    init(_ attachments: [FeeAttachment], period: BillingPeriod) {
        for attachment in attachments where attachment.period.overlaps(period.span) {
            if attachment.scope == .community {
                community = true
            } else if let target = attachment.target {
                targets[attachment.scope, default: []].insert(target)
            }
        }
    }

    func covers(_ house: House) -> Bool {
        if community { return true }
        func has(_ scope: FeeAttachment.Scope, _ target: String?) -> Bool {
            guard let target, let set = targets[scope] else { return false }
            return set.contains(target)
        }
        return has(.house, house.id) || has(.building, house.buildingId) || has(.houseType, house.houseType.rawValue) || has(.unit, house.unitId)
    }
}
