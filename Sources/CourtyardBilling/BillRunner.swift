import CourtyardDomain
import CourtyardLedger
import CourtyardStorage
import Foundation
import Logging
import SQLKit

/// Why a bill run was refused. Nothing is written when a run is refused.
public enum BillRunError: Error, Hashable, Sendable {
    case unknownCommunity(String)
    /// Bill runs are made for a month ("2026-10").
    case notAMonth(String)
    /// The month has not ended in the community's time zone: only a preview is allowed.
    case periodNotClosed(period: String, closesOn: LocalDate)
    /// A fee item's standard or usage cannot be priced; names the item and house.
    case pricing(feeItem: String, house: String, detail: String)
    case apportionment(feeItem: String, detail: String)
}

extension BillRunError: CustomStringConvertible {
    /// One sentence for a clerk; the CLI prints it and the API puts it in the problem's detail.
    public var description: String {
        switch self {
        case .unknownCommunity(let id): return "no community \(id)"
        case .notAMonth(let text): return "\(text) is not a month; bill runs are monthly (2026-10)"
        case .periodNotClosed(let period, let closesOn):
            return "\(period) has not ended (it closes on \(closesOn) in the community's time zone); only a preview is allowed"
        case .pricing(let item, let house, let detail): return "fee item \(item) could not price house \(house): \(detail)"
        case .apportionment(let item, let detail): return "fee item \(item) could not split its shared meter: \(detail)"
        }
    }
}

/// What a bill run did (or, for a preview, would do).
public struct BillRunSummary: Codable, Sendable, Hashable {
    /// Totals per fee item.
    public struct ItemTotal: Codable, Sendable, Hashable {
        public var feeItemId: String
        public var code: String
        public var period: String
        public var standardVersion: Int
        public var lines: Int
        public var amount: Money
    }

    public var runId: String?
    public var communityId: String
    public var period: String
    public var preview: Bool
    public var housesConsidered: Int
    public var billsCreated: Int
    public var linesCreated: Int
    /// Charges that an earlier run already created (rerun idempotency).
    public var linesAlreadyBilled: Int
    /// Adjustments from corrections of earlier bills, put on this run's bills.
    public var adjustmentsBilled: Int = 0
    public var totalAmount: Money
    public var items: [ItemTotal]
    /// Houses without a line for an item, by "item code: reason" (not owned, missing usage).
    public var skipped: [String: Int]
    /// Fee items billed this month that have no standard version in force (so nothing was charged for them).
    public var itemsWithoutStandard: [String]
    /// Bills whose lines were posted to the ledger by this run (including bills left unposted by an interrupted run).
    public var billsPosted: Int

    public init(
        runId: String?, communityId: String, period: String, preview: Bool, housesConsidered: Int, billsCreated: Int,
        linesCreated: Int, linesAlreadyBilled: Int, totalAmount: Money, items: [ItemTotal], skipped: [String: Int],
        itemsWithoutStandard: [String], billsPosted: Int
    ) {
        self.runId = runId; self.communityId = communityId; self.period = period; self.preview = preview
        self.housesConsidered = housesConsidered; self.billsCreated = billsCreated; self.linesCreated = linesCreated
        self.linesAlreadyBilled = linesAlreadyBilled; self.totalAmount = totalAmount; self.items = items; self.skipped = skipped
        self.itemsWithoutStandard = itemsWithoutStandard; self.billsPosted = billsPosted
    }
}

/// Runs a community's monthly billing: fee standards × houses × usage → bills and lines → ledger postings.
///
/// Houses are streamed in id order in chunks; each chunk's bills and lines
/// commit in one transaction together with their idempotency keys (a unique
/// index on house, fee item and period for charges), so a rerun or a resumed
/// run creates nothing twice. Postings to the ledger use transfer ids derived
/// from line ids and are retried for bills not yet marked posted, so a crash
/// between the two commits is repaired by the next run.
public struct BillRunner: Sendable {
    public let database: Database
    public let ledger: LedgerWriter?
    public let clock: any WallClock
    public let chunkSize: Int
    let logger = Logger(label: "courtyard.billing")

    public init(database: Database, ledger: LedgerWriter?, clock: any WallClock = SystemClock(), chunkSize: Int = 1_000) {
        self.database = database
        self.ledger = ledger
        self.clock = clock
        self.chunkSize = chunkSize
    }

    /// Progress: houses processed so far and the community's house count.
    public typealias Progress = @Sendable (_ done: Int, _ total: Int) -> Void

    public func run(
        companyId: String, communityId: String, period text: String, preview: Bool, actor: String,
        progress: Progress? = nil
    ) async throws -> BillRunSummary {
        let scope = TenantScope(companyId: companyId)
        guard let period = BillingPeriod(text), period.cycle == .monthly else { throw BillRunError.notAMonth(text) }
        let now = clock.now()
        // Each step's time at debug level, and the chunks' waits every ten chunks (`--log-level debug`).
        let trace = logger.logLevel <= .debug
        var lap = ContinuousClock.now
        func traceStep(_ name: String) {
            guard trace else { return }
            let time = ContinuousClock.now
            logger.debug("bill run step", metadata: ["step": "\(name)", "took": "\(time - lap)"])
            lap = time
        }
        // The bulk reads go to the driver directly (same queries and tenant predicate, no SQLKit decoding: about a sixth of
        // a run's CPU on SQLite, and most of the client's on PostgreSQL).
        let rawReader = try bulkReader(database, scope: scope)
        let context = try await database.read { db in
            let store = ScopedStore(db, scope: scope)
            if let rawReader { return try await RunContext.load(store, bulk: rawReader, communityId: communityId, period: period) }
            return try await RunContext.load(store, bulk: store, communityId: communityId, period: period)
        }
        guard let context else { throw BillRunError.unknownCommunity(communityId) }
        let today = LocalDate.of(now, timeZone: context.community.timeZone)
        if !preview, today < period.end { throw BillRunError.periodNotClosed(period: period.description, closesOn: period.end) }

        var summary = BillRunSummary(
            runId: nil, communityId: communityId, period: period.description, preview: preview,
            housesConsidered: 0, billsCreated: 0, linesCreated: 0, linesAlreadyBilled: 0,
            totalAmount: .zero(context.community.currency), items: [], skipped: [:],
            itemsWithoutStandard: context.itemsWithoutStandard.sorted(), billsPosted: 0)
        // Each item's terms, item and attachment index, found once per run (not per house), and its totals, by position.
        let plans = context.terms.map { (terms: $0, item: context.items[$0.feeItemId]!, index: context.index[$0.feeItemId]) }
        var itemTotals = context.terms.map { terms in
            BillRunSummary.ItemTotal(
                feeItemId: terms.feeItemId, code: terms.code, period: terms.period.description,
                standardVersion: terms.version, lines: 0, amount: .zero(context.community.currency))
        }
        let runId = Identifier.uuidV7(at: now)
        if !preview {
            summary.runId = runId
            summary.billsPosted += try await postUnposted(companyId: companyId, communityId: communityId)
            try await database.transaction { [summary] db in
                try await TenantSQL(db, scope: TenantScope(companyId: companyId)).insert(
                    into: "bill_runs",
                    columns: [
                        "id", "community_id", "period", "status", "summary", "created_by", "created_at", "updated_at",
                    ],
                    values: [
                        runId, communityId, period.description, "running", StoredJSON.encode(summary), actor, now.epochMilliseconds,
                        now.epochMilliseconds,
                    ]
                ).run()
            }
        }
        // Houses whose meters ran on prepaid plans in the period: their prepaid usage is never billed again here.
        let prepaid =
            context.usageKinds.isEmpty
            ? [:]
            : try await database.read { db in
                try await PrepaidCoverageLoader.load(db, companyId: companyId, community: context.community, period: period)
            }
        traceStep("context and run record")
        let shares = try await apportionedShares(context, scope: scope, rawReader: rawReader)
        traceStep("shared meters split")
        let writer = preview ? nil : try BulkWriter(database: database, scope: scope)
        let total = try await database.read { db in
            try await ScopedStore(db, scope: scope).count(House.self, filters: [("community_id", communityId)])
        }
        var ids = IdentifierSequence(at: now)
        var cursor: String? = nil
        traceStep("houses counted")
        var phases = (read: Duration.zero, plan: Duration.zero, write: Duration.zero)
        // Chunks being written (and posted), oldest first: two, so that one chunk's rows, posting groups and digests are
        // built while the chunk before is in its transaction.
        var inFlight: [Task<Int, any Error>] = []
        // The next chunk is read while this one is planned (and the one before is written): three stages on two cores.
        // The read never sees the houses being written, which belong to earlier chunks.
        let database = database
        let chunkSize = chunkSize
        @Sendable func read(after cursor: String?) -> Task<ChunkFacts, any Error> {
            Task {
                if let rawReader { return try await ChunkFacts.load(rawReader, context: context, after: cursor, limit: chunkSize) }
                return try await database.read { db in
                    try await ChunkFacts.load(ScopedStore(db, scope: scope), context: context, after: cursor, limit: chunkSize)
                }
            }
        }
        var nextChunk: Task<ChunkFacts, any Error>? = read(after: nil)
        do {
            repeat {
                let readStart = ContinuousClock.now
                let chunk = try await nextChunk!.value
                let planStart = ContinuousClock.now
                phases.read += planStart - readStart
                cursor = chunk.nextCursor
                nextChunk = cursor.map { read(after: $0) }
                var bills: [Bill] = []
                var lines: [BillLine] = []
                /// Pending adjustments put on this chunk's bills (already stored; only their bill changes).
                var attached: [BillLine] = []
                for house in chunk.houses {
                    summary.housesConsidered += 1
                    // The house's charges go straight onto the chunk's lines (no per-house copies of them).
                    let firstLine = lines.count
                    var houseTotal: Int64 = 0
                    var dueDays = Int.max
                    let billId = ids.next()
                    let facts = chunk.facts[house.id]!
                    for (position, plan) in plans.enumerated() where plan.index?.covers(house) ?? false {
                        let terms = plan.terms
                        let item = plan.item
                        if !chunk.billed.isEmpty, chunk.billed.contains(ChunkFacts.key(house.id, terms.feeItemId, terms.period)) {
                            summary.linesAlreadyBilled += 1
                            continue
                        }
                        let planned: PlannedLine
                        if item.category == .commonArea {
                            guard let common = shares.share(item: terms.feeItemId, house: house.id) else {
                                summary.skipped["\(terms.code): no_shared_meter_usage", default: 0] += 1
                                continue
                            }
                            planned = BillPlanner.apportionedLine(terms, share: common.share, cost: common.group.cost, usage: common.group.usage)
                        } else {
                            let usage = item.usageKind.flatMap { chunk.usage(house.id, $0, terms.period) }
                            let coverage = prepaid.isEmpty ? nil : item.usageKind.flatMap { prepaid[house.id]?[$0] }
                            let result: Result<PlannedLine, BillPlanner.Skip>
                            do {
                                result = try BillPlanner.line(terms, house: facts, usage: usage, prepaid: coverage)
                            } catch {
                                throw BillRunError.pricing(feeItem: terms.code, house: house.id, detail: "\(error)")
                            }
                            switch result {
                            case .success(let line): planned = line
                            case .failure(let skip):
                                summary.skipped["\(terms.code): \(skip.rawValue)", default: 0] += 1
                                continue
                            }
                        }
                        guard planned.amount.minorUnits != 0 || planned.informational else { continue }
                        if planned.informational { summary.skipped["\(terms.code): prepaid_all_period", default: 0] += 1 }
                        dueDays = min(dueDays, item.dueDays)
                        itemTotals[position].lines += 1
                        itemTotals[position].amount.minorUnits += planned.amount.minorUnits
                        houseTotal += planned.amount.minorUnits
                        lines.append(
                            BillLine(
                                id: ids.next(), companyId: companyId, communityId: communityId, billId: billId,
                                houseId: house.id, feeItemId: terms.feeItemId, period: planned.period, kind: .charge,
                                standardId: planned.standardId, standardVersion: planned.version, quantity: planned.quantity,
                                unit: planned.unit, unitPrice: planned.unitPrice, basis: planned.basis, breakdown: planned.breakdown,
                                exact: planned.exact, rounding: planned.rounding, billableDays: planned.billableDays,
                                periodDays: planned.periodDays, amount: planned.amount.minorUnits, adjustsLineId: nil, createdAt: now))
                    }
                    let pending = chunk.pendingAdjustments[house.id] ?? []
                    guard lines.count > firstLine || !pending.isEmpty else { continue }
                    if dueDays == Int.max { dueDays = pending.compactMap { context.items[$0.feeItemId]?.dueDays }.min() ?? 15 }
                    for var adjustment in pending {
                        adjustment.billId = billId
                        attached.append(adjustment)
                        houseTotal += adjustment.amount
                    }
                    let issue = period.end
                    let totalAmount = houseTotal
                    bills.append(
                        Bill(
                            id: billId, companyId: companyId, communityId: communityId, houseId: house.id, billRunId: runId,
                            period: period, issueDate: issue, dueDate: issue.adding(days: dueDays),
                            currency: context.community.currency.code, totalAmount: totalAmount, paidAmount: 0, status: .open,
                            postedAt: nil, lateFeeWaivedBy: nil, lateFeeWaiverReason: nil, createdAt: now, updatedAt: now))
                    summary.totalAmount.minorUnits += totalAmount
                }
                let writeStart = ContinuousClock.now
                phases.plan += writeStart - planStart
                summary.billsCreated += bills.count
                summary.linesCreated += lines.count
                summary.adjustmentsBilled += attached.count
                if !preview, !bills.isEmpty {
                    // One chunk's write (and its ledger posting) runs while the next chunk is read and planned: the two use
                    // different connections and touch disjoint houses. At most one write is in flight; its error surfaces here.
                    if inFlight.count >= Self.chunksInFlight {
                        summary.billsPosted += try await inFlight.removeFirst().value
                    }
                    phases.write += ContinuousClock.now - writeStart
                    let items = context.items
                    inFlight.append(
                        Task { [bills, lines, attached, writer] in
                            // Only a still-pending adjustment moves onto a bill; a concurrent run that took it first wins.
                            let moves = attached.map {
                                BulkWriter.Update(
                                    table: BillLine.table, set: "bill_id", to: .text($0.billId), id: $0.id, condition: "bill_id IS NULL")
                            }
                            guard ledger != nil else {
                                try await writer!.write([.init(bills), .init(lines)], updates: moves)
                                return 0
                            }
                            // Bills, lines and their postings in one transaction: a chunk is written posted, or not at all.
                            let attachment = LedgerWriter.Attachment(rows: [.init(bills), .init(lines)], updates: moves)
                            return try await post(
                                bills: bills, lines: attached.isEmpty ? lines : lines + attached, companyId: companyId,
                                items: items, writing: attachment)
                        })
                }
                if trace, summary.housesConsidered % (chunkSize * 10) == 0 {
                    logger.debug(
                        "bill run progress",
                        metadata: [
                            "houses": "\(summary.housesConsidered)", "waiting_for_reads": "\(phases.read)",
                            "planning": "\(phases.plan)", "waiting_for_writes": "\(phases.write)",
                        ])
                }
                progress?(summary.housesConsidered, total)
            } while cursor != nil
        } catch {
            // Never return while a chunk is still being written (or read).
            _ = try? await nextChunk?.value
            for task in inFlight { _ = try? await task.value }
            throw error
        }
        traceStep("chunks planned")
        for task in inFlight { summary.billsPosted += try await task.value }
        traceStep("last write")
        summary.items = itemTotals.sorted { $0.code < $1.code }
        if !preview {
            let finished = clock.now()
            try await database.transaction { [summary] db in
                try await TenantSQL(db, scope: TenantScope(companyId: companyId)).update(
                    "bill_runs",
                    set: """
                        status = 'completed', summary = \(bind: StoredJSON.encode(summary)), updated_at = \(bind: finished.epochMilliseconds)
                        """, where: "id = \(bind: runId)"
                ).run()
            }
        }
        return summary
    }

    // MARK: Apportionment

    /// One shared meter's split: its cost (priced once), its usage, and what the shares are proportional to.
    struct CommonGroup: Sendable {
        var label: String
        var cost: Quote
        var usage: Quantity
        var totalWeight: Int128
        var basis: Apportionment.Basis
    }

    /// One house's part of a group's cost, kept small (a million houses may share lift meters).
    struct CommonShare: Sendable {
        var group: Int32
        var amount: Int64
        var weight: Int64
    }

    /// Every common-area item's groups, and each house's share by item.
    struct CommonShares: Sendable {
        var groups: [CommonGroup] = []
        var byItem: [String: [String: CommonShare]] = [:]

        /// The house's share of the item as the apportioned share the planner turns into a line.
        func share(item: String, house: String) -> (share: Apportionment.Share<Money>, group: CommonGroup)? {
            guard let share = byItem[item]?[house] else { return nil }
            let group = groups[Int(share.group)]
            let value = Money(minorUnits: share.amount, currency: group.cost.amount.currency)
            let explanation = Apportionment.explanation(
                of: group.cost.amount, weight: share.weight, of: group.totalWeight,
                basis: group.basis, label: group.label, share: value)
            return (
                Apportionment.Share(
                    id: house, value: value, explanation: explanation,
                    exact: Apportionment.exactShare(of: group.cost.amount, weight: share.weight, of: group.totalWeight)),
                group
            )
        }
    }

    /// For each common-area item: each attachment's shared meter cost this period, split over the houses of that attachment.
    ///
    /// A house in two groups of the same item is charged by the first (attachments in id order): one line per item and period.
    func apportionedShares(_ context: RunContext, scope: TenantScope, rawReader: (any TenantRowSource)? = nil) async throws -> CommonShares {
        if let rawReader { return try await apportionedShares(context, source: rawReader) }
        return try await database.read { db in try await apportionedShares(context, source: ScopedStore(db, scope: scope)) }
    }

    /// Attachments whose houses are read together: a few hundred lift meters' houses at a time, so a million houses'
    /// shares are found in a few dozen queries without holding every house in memory at once.
    static let attachmentsPerRead = 250

    func apportionedShares(_ context: RunContext, source: some TenantRowSource) async throws -> CommonShares {
        var result = CommonShares()
        for terms in context.terms {
            let item = context.items[terms.feeItemId]!
            guard item.category == .commonArea, let kind = item.usageKind else { continue }
            let basis = item.apportionBasis ?? .builtArea
            let usageFilters = [("usage_kind", kind.rawValue), ("period", terms.period.description)]
            let attachments = (context.attachments[item.id] ?? []).sorted(by: { $0.id < $1.id })
                .filter { $0.sharedMeterId != nil && $0.period.overlaps(terms.period.span) }
            // Every shared meter's usage this period in one read (at most one record per meter, kind and period).
            let meters = Array(Set(attachments.compactMap(\.sharedMeterId))).sorted()
            var meterUsage: [String: UsageRecord] = [:]
            for record in try await source.all(UsageRecord.self, where: "subject_id", in: meters, filters: usageFilters, alsoIn: nil, literal: []) {
                meterUsage[record.subjectId] = record
            }
            let batches = stride(from: 0, to: attachments.count, by: Self.attachmentsPerRead).map {
                Array(attachments[$0..<min(attachments.count, $0 + Self.attachmentsPerRead)])
            }
            let period = terms.period
            @Sendable func read(_ batch: [FeeAttachment]) -> Task<[[Member]], any Error> {
                Task { try await Self.members(covered: batch, source: source, period: period) }
            }
            var byHouse: [String: CommonShare] = [:]
            // The next batch's houses are read while this one is split; never left running past an error (it may be using
            // the caller's connection).
            var next = batches.first.map(read)
            do {
                for (position, batch) in batches.enumerated() {
                    let covered = try await next!.value
                    next = position + 1 < batches.count ? read(batches[position + 1]) : nil
                    var houseUsage: [String: Int64] = [:]
                    if basis == .usage {
                        let ids = Array(Set(covered.joined().map(\.id))).sorted()
                        for record in try await source.all(
                            UsageRecord.self, where: "subject_id", in: ids, filters: usageFilters, alsoIn: nil, literal: [])
                        {
                            houseUsage[record.subjectId] = record.quantity.milliUnits
                        }
                    }
                    for (attachment, allHouses) in zip(batch, covered) {
                        let houses = allHouses.filter { byHouse[$0.id] == nil }
                        guard let usage = meterUsage[attachment.sharedMeterId!], !houses.isEmpty else { continue }
                        let cost: Quote
                        do {
                            cost = try BillPlanner.commonCost(terms, usage: MeteredUsage(quantity: usage.quantity, windows: usage.windows))
                        } catch {
                            throw BillRunError.apportionment(feeItem: terms.code, detail: "\(error)")
                        }
                        let participants = houses.map { house -> Apportionment.Participant in
                            switch basis {
                            case .builtArea: return .init(id: house.id, weight: house.builtArea)
                            case .indoorArea: return .init(id: house.id, weight: house.indoorArea)
                            case .household: return .init(id: house.id, weight: 1)
                            case .usage: return .init(id: house.id, weight: houseUsage[house.id] ?? 0)
                            }
                        }
                        do {
                            // Amounts only: each share's sentence is written once, when its house's line is planned.
                            let split = try Apportionment.amounts(cost.amount, over: participants)
                            let group = Int32(result.groups.count)
                            result.groups.append(
                                CommonGroup(
                                    label: item.name, cost: cost, usage: usage.quantity,
                                    totalWeight: participants.reduce(Int128(0)) { $0 + Int128($1.weight) }, basis: basis))
                            for (amount, participant) in zip(split, participants) {
                                byHouse[participant.id] = CommonShare(group: group, amount: amount.minorUnits, weight: participant.weight)
                            }
                        } catch {
                            throw BillRunError.apportionment(feeItem: terms.code, detail: "\(error)")
                        }
                    }
                }
            } catch {
                _ = try? await next?.value
                throw error
            }
            result.byItem[terms.feeItemId] = byHouse
        }
        return result
    }

    /// What a split needs of a house: its id and areas (in hundredths of m²).
    struct Member: Sendable {
        var id: String
        var builtArea: Int64
        var indoorArea: Int64
    }

    /// The houses each attachment covers during `period`, in id order, for attachments read together: those that target
    /// buildings, units, houses or house types in one query per scope, reading only the columns a split uses; a
    /// whole-community attachment page by page.
    static func members(covered attachments: [FeeAttachment], source: some TenantRowSource, period: BillingPeriod) async throws -> [[Member]] {
        var byTarget: [FeeAttachment.Scope: [String: [Member]]] = [:]
        for (scope, group) in Dictionary(grouping: attachments.filter { $0.scope != .community }, by: \.scope) {
            let column: String
            switch scope {
            case .building: column = "building_id"
            case .unit: column = "unit_id"
            case .house: column = "id"
            case .houseType: column = "house_type"
            case .community: continue
            }
            let targets = Array(Set(group.compactMap(\.target))).sorted()
            for communityId in Set(group.map(\.communityId)) {
                // Only houses whose `column` equals a target come back, so each is covered by the attachments naming it.
                let rows = try await source.rows(
                    ["id", column, "built_area_hundredths", "indoor_area_hundredths"], of: House.self,
                    where: column, in: targets, alsoIn: ("community_id", [communityId]), literal: [])
                for row in rows {
                    let member = Member(
                        id: try row.string("id"), builtArea: try row.int64("built_area_hundredths"),
                        indoorArea: try row.int64("indoor_area_hundredths"))
                    byTarget[scope, default: [:]][communityId + "|" + (try row.string(column)), default: []].append(member)
                }
            }
        }
        var result: [[Member]] = []
        for attachment in attachments {
            if attachment.scope == .community {
                result.append(
                    try await houses(covered: attachment, store: source, period: period)
                        .map { Member(id: $0.id, builtArea: $0.builtArea.hundredths, indoorArea: $0.indoorArea.hundredths) })
                continue
            }
            let members = byTarget[attachment.scope]?[attachment.communityId + "|" + (attachment.target ?? "")] ?? []
            result.append(members.sorted { $0.id < $1.id })
        }
        return result
    }

    /// The houses an attachment covers during `period`, found through the narrowest filter its scope allows.
    static func houses(covered attachment: FeeAttachment, store: some TenantRowSource, period: BillingPeriod) async throws -> [House] {
        var filters = [("community_id", attachment.communityId)]
        switch attachment.scope {
        case .community: break
        case .building: filters.append(("building_id", attachment.target ?? ""))
        case .unit: filters.append(("unit_id", attachment.target ?? ""))
        case .house: filters.append(("id", attachment.target ?? ""))
        case .houseType: filters.append(("house_type", attachment.target ?? ""))
        }
        var houses: [House] = []
        var cursor: String? = nil
        repeat {
            let page = try await store.list(House.self, filters: filters, after: cursor, limit: 10_000)
            houses.append(contentsOf: page.items.filter { attachment.covers(house: $0, during: period) })
            cursor = page.nextCursor
        } while cursor != nil
        return houses
    }

    /// Chunks written at once: one in its transaction, the next getting its rows and postings ready.
    static let chunksInFlight = 2

    // MARK: Ledger posting

    /// What posting needs of a bill and of a line: a few columns, not the whole records (a page of 2,000 bills read as
    /// records decoded every breakdown and basis of 10,000 lines only to throw them away).
    struct PostingBill: Sendable {
        var id: String, communityId: String, houseId: String, currency: String
    }

    struct PostingLine: Sendable {
        var id: String, billId: String?, feeItemId: String, amount: Int64, kind: BillLine.Kind
    }

    /// Posts each bill's lines (receivable of the house ← revenue of the fee item), one linked group per bill, and marks
    /// them posted. With `rows`, the bills and lines are written in the same transaction as their postings (a new chunk
    /// of a run); without, they are stored already.
    public func post(
        bills: [Bill], lines: [BillLine], companyId: String, items: [String: FeeItem],
        writing rows: LedgerWriter.Attachment? = nil
    ) async throws -> Int {
        try await post(
            bills.map { PostingBill(id: $0.id, communityId: $0.communityId, houseId: $0.houseId, currency: $0.currency) },
            lines: lines.map { PostingLine(id: $0.id, billId: $0.billId, feeItemId: $0.feeItemId, amount: $0.amount, kind: $0.kind) },
            companyId: companyId, codes: items.mapValues(\.code), writing: rows)
    }

    func post(
        _ bills: [PostingBill], lines: [PostingLine], companyId: String, codes: [String: String],
        writing rows: LedgerWriter.Attachment? = nil
    ) async throws -> Int {
        guard let ledger, !bills.isEmpty else { return 0 }
        let groups = Self.postingGroups(bills, lines: lines, codes: codes)
        if var rows {
            rows.marking = .init(table: Bill.table, column: "posted_at", ids: groups.map(\.bill))
            let answers = try await ledger.submit(companyId: companyId, linkedGroups: groups.map(\.operations), attaching: rows)
            return Self.posted(groups, answers: answers).count
        }
        let posted = try await withThrowingTaskGroup(of: [String].self) { group in
            for part in stride(from: 0, to: groups.count, by: 1_000).map({ Array(groups[$0..<min($0 + 1_000, groups.count)]) }) {
                group.addTask {
                    Self.posted(part, answers: try await ledger.submit(companyId: companyId, linkedGroups: part.map(\.operations)))
                }
            }
            var ids: [String] = []
            for try await part in group { ids += part }
            return ids
        }
        let now = clock.now()
        try await database.transaction { db in
            for start in stride(from: 0, to: posted.count, by: 1_000) {
                let ids: [any Encodable & Sendable] = Array(posted[start..<min(posted.count, start + 1_000)])
                try await TenantSQL(db, scope: TenantScope(companyId: companyId))
                    .update("bills", set: "posted_at = \(bind: now.epochMilliseconds)", where: "id IN (\(binds: ids))").run()
            }
        }
        return posted.count
    }

    /// The ids of the bills whose groups posted; a refused bill is logged (its neighbours post).
    static func posted(_ groups: [(bill: String, operations: [LedgerOperation])], answers: [[LedgerWriter.Outcome]]) -> [String] {
        var ids: [String] = []
        for (bill, outcomes) in zip(groups, answers) {
            if let failure = outcomes.first(where: { if case .failure = $0 { true } else { false } }) {
                Logger(label: "courtyard.billing").error("bill posting refused", metadata: ["bill": "\(bill.bill)", "error": "\(failure)"])
            } else {
                ids.append(bill.bill)
            }
        }
        return ids
    }

    /// One linked group per bill (all of a bill's lines or none), so a refused bill leaves its neighbours to post.
    static func postingGroups(
        _ bills: [PostingBill], lines: [PostingLine], codes: [String: String]
    )
        -> [(bill: String, operations: [LedgerOperation])]
    {
        let linesByBill = Dictionary(grouping: lines, by: \.billId)
        // Account keys are digests: one receivable per bill and one revenue account per community and item, not two per line.
        var revenue: [String: AccountKey] = [:]
        var groups: [(bill: String, operations: [LedgerOperation])] = []
        groups.reserveCapacity(bills.count)
        for bill in bills {
            let receivable = AccountKey(communityId: bill.communityId, kind: .receivable, owner: bill.houseId, purpose: "fees")
            let operations = (linesByBill[bill.id] ?? []).compactMap { line -> LedgerOperation? in
                let code = codes[line.feeItemId] ?? "custom"
                let key = bill.communityId + "|" + code
                let credit =
                    revenue[key]
                    ?? AccountKey(
                        communityId: bill.communityId, kind: .revenue, owner: AccountKey.communityOwner,
                        purpose: code)
                revenue[key] = credit
                return Self.posting(
                    id: line.id, amount: line.amount, kind: line.kind, billId: bill.id, currency: bill.currency,
                    receivable: receivable, revenue: credit)
            }
            groups.append((bill.id, operations))
        }
        return groups
    }

    /// The ledger transfer of one bill line. Charges debit the house's receivable; credits (negative adjustments) reverse it.
    static func posting(_ line: BillLine, bill: Bill, itemCode: String) -> LedgerOperation? {
        posting(
            id: line.id, amount: line.amount, kind: line.kind, billId: bill.id, currency: bill.currency,
            receivable: AccountKey(communityId: bill.communityId, kind: .receivable, owner: bill.houseId, purpose: "fees"),
            revenue: AccountKey(communityId: bill.communityId, kind: .revenue, owner: AccountKey.communityOwner, purpose: itemCode))
    }

    static func posting(
        id: String, amount: Int64, kind: BillLine.Kind, billId: String, currency: String, receivable: AccountKey,
        revenue: AccountKey
    ) -> LedgerOperation? {
        guard amount != 0 else { return nil }
        let charge = amount > 0
        return .transfer(
            Transfer(
                id: "bill-line:" + id, debit: charge ? receivable : revenue, credit: charge ? revenue : receivable,
                amount: abs(amount), currency: currency, code: kind == .charge ? .billPosting : .adjustment,
                reference: "bill:" + billId, actor: "system:billing"))
    }

    /// Posts bills that an interrupted run committed but did not post; returns how many it posted.
    ///
    /// Pages of bills are read by id and posted with two pages in flight, so
    /// the ledger's writer can apply one page while it commits the other.
    func postUnposted(companyId: String, communityId: String, pageSize: Int = 10_000) async throws -> Int {
        guard ledger != nil else { return 0 }
        let scope = TenantScope(companyId: companyId)
        var count = 0
        var cursor = ""
        var inFlight: Task<(posted: Int, bills: Int), any Error>?
        defer { inFlight?.cancel() }
        while true {
            let (bills, lines, codes) = try await database.read { [cursor] db in
                let store = ScopedStore(db, scope: scope)
                let rows = try await store.sql.select(
                    "id, community_id, house_id, currency", from: Bill.table,
                    where: """
                        community_id = \(bind: communityId) AND posted_at IS NULL AND id > \(bind: cursor)
                        """, then: "ORDER BY id LIMIT \(literal: pageSize)"
                ).all()
                let bills = try rows.map { row in
                    let r = RowReader(row, table: Bill.table)
                    return PostingBill(
                        id: try r.string("id"), communityId: try r.string("community_id"), houseId: try r.string("house_id"),
                        currency: try r.string("currency"))
                }
                let lines = try await store.rows(
                    ["id", "bill_id", "fee_item_id", "amount", "kind"], of: BillLine.self, where: "bill_id",
                    in: bills.map(\.id), alsoIn: nil, literal: []
                ).map { r in
                    PostingLine(
                        id: try r.string("id"), billId: try r.optionalString("bill_id"), feeItemId: try r.string("fee_item_id"),
                        amount: try r.int64("amount"), kind: try r.value("kind", as: BillLine.Kind.self))
                }
                let items = try await store.listAll(FeeItem.self, filters: [("community_id", communityId)])
                return (bills, lines, Dictionary(uniqueKeysWithValues: items.map { ($0.id, $0.code) }))
            }
            let next: Task<(posted: Int, bills: Int), any Error>? =
                bills.isEmpty
                ? nil
                : Task { [self] in
                    (try await post(bills, lines: lines, companyId: companyId, codes: codes), bills.count)
                }
            if let previous = inFlight {
                inFlight = nil
                let (posted, requested) = try await previous.value
                count += posted
                // Refused postings were logged; stop rather than run into them again.
                if posted < requested {
                    if let next { count += try await next.value.posted }
                    return count
                }
            }
            guard let next, let last = bills.last else { return count }
            cursor = last.id
            inFlight = next
        }
    }
}
