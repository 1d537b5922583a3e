import CourtyardDomain
import CourtyardStorage
import Foundation

/// Why a billing action was refused; nothing is written.
public enum BillingActionError: Error, Hashable, Sendable {
    case unknownBill(String)
    case alreadyWaived(billId: String, by: String)
    case billCancelled(String)
    case reasonRequired
}

/// Finance acts on bills that need an approval and leave an audit trail: late-fee waivers and reminders.
public enum BillingActions {
    /// Waives the late fees of a bill. The caller must hold finance approval rights; the waiver is recorded on the bill
    /// and in the audit log (before/after), in the same transaction.
    public static func waiveLateFees(_ store: ScopedStore, billId: String, actor: String, reason: String, now: Date) async throws -> Bill {
        let trimmed = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, trimmed.count <= 500 else { throw BillingActionError.reasonRequired }
        guard var bill = try await store.find(Bill.self, id: billId) else { throw BillingActionError.unknownBill(billId) }
        if let by = bill.lateFeeWaivedBy { throw BillingActionError.alreadyWaived(billId: billId, by: by) }
        guard bill.status != .cancelled else { throw BillingActionError.billCancelled(billId) }
        let before = bill
        bill.lateFeeWaivedBy = actor
        bill.lateFeeWaiverReason = trimmed
        bill.updatedAt = now
        try await store.update(bill)
        try await store.insert(
            AuditEntry(
                id: Identifier.uuidV7(at: now), companyId: bill.companyId, communityId: bill.communityId,
                actor: actor, action: "late_fee_waived", subjectType: "bill", subjectId: bill.id,
                reason: trimmed, beforeState: StoredJSON.encode(before), afterState: StoredJSON.encode(bill),
                createdAt: now))
        return bill
    }

    /// What a reminder pass created.
    public struct ReminderSummary: Codable, Sendable, Hashable {
        public var asOf: LocalDate
        public var dueSoon: Int
        public var overdue: Int

        public init(asOf: LocalDate, dueSoon: Int, overdue: Int) {
            self.asOf = asOf; self.dueSoon = dueSoon; self.overdue = overdue
        }
    }

    /// Records reminders for a community's unpaid bills as of a date: once when a bill is due within `daysBefore` days, and
    /// once a week while it is overdue. Rerunning on the same date creates nothing new.
    public static func remind(
        _ store: ScopedStore, communityId: String, asOf: LocalDate, daysBefore: Int = 3, now: Date
    ) async throws -> ReminderSummary {
        var summary = ReminderSummary(asOf: asOf, dueSoon: 0, overdue: 0)
        for status in [Bill.Status.open, .partiallyPaid] {
            var cursor: String? = nil
            repeat {
                let page = try await store.list(
                    Bill.self, filters: [("community_id", communityId), ("status", status.rawValue)],
                    after: cursor, limit: 1_000)
                cursor = page.nextCursor
                let existing = Set(
                    try await store.all(BillReminder.self, where: "bill_id", in: page.items.map(\.id))
                        .map { "\($0.billId)|\($0.kind.rawValue)|\($0.forDate)" })
                var reminders: [BillReminder] = []
                for bill in page.items {
                    let daysToDue = bill.dueDate.daysSinceEpoch - asOf.daysSinceEpoch
                    var reminder: (BillReminder.Kind, LocalDate)?
                    if (0...daysBefore).contains(daysToDue) {
                        reminder = (.dueSoon, bill.dueDate)
                    } else if daysToDue < 0 {
                        let weeks = (-daysToDue - 1) / 7
                        reminder = (.overdue, bill.dueDate.adding(days: 1 + weeks * 7))
                    }
                    guard let (kind, date) = reminder, !existing.contains("\(bill.id)|\(kind.rawValue)|\(date)") else { continue }
                    reminders.append(
                        BillReminder(
                            id: Identifier.uuidV7(at: now), companyId: bill.companyId, communityId: bill.communityId,
                            billId: bill.id, kind: kind, forDate: date, createdAt: now))
                    if kind == .dueSoon { summary.dueSoon += 1 } else { summary.overdue += 1 }
                }
                try await store.insertAll(reminders)
            } while cursor != nil
        }
        return summary
    }
}
