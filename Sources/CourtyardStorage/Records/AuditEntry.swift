import CourtyardDomain
import Foundation
import SQLKit

/// One recorded change to money-relevant data: who, when, why, and the state before and after (JSON).
///
/// Written in the same transaction as the change it describes; never updated or deleted.
public struct AuditEntry: TenantRecord, Codable, Equatable {
    public var id: String
    public var companyId: String
    public var communityId: String
    /// The user id, or `system:<component>`.
    public var actor: String
    /// What was done (`late_fee_waived`, `usage_corrected`, …).
    public var action: String
    public var subjectType: String
    public var subjectId: String
    public var reason: String?
    public var beforeState: String?
    public var afterState: String?
    public var createdAt: Date

    public init(
        id: String, companyId: String, communityId: String, actor: String, action: String, subjectType: String,
        subjectId: String, reason: String?, beforeState: String?, afterState: String?, createdAt: Date
    ) {
        self.id = id; self.companyId = companyId; self.communityId = communityId; self.actor = actor; self.action = action
        self.subjectType = subjectType; self.subjectId = subjectId; self.reason = reason; self.beforeState = beforeState
        self.afterState = afterState; self.createdAt = createdAt
    }

    public static let table = "audit_log"
    public static let columns = [
        "id", "company_id", "community_id", "actor", "action", "subject_type", "subject_id", "reason",
        "before_state", "after_state", "created_at",
    ]

    public init(row: RowReader) throws {
        self.init(
            id: try row.string("id"), companyId: try row.string("company_id"), communityId: try row.string("community_id"),
            actor: try row.string("actor"), action: try row.string("action"), subjectType: try row.string("subject_type"),
            subjectId: try row.string("subject_id"), reason: try row.optionalString("reason"),
            beforeState: try row.optionalString("before_state"), afterState: try row.optionalString("after_state"),
            createdAt: try row.instant("created_at"))
    }

    public var storageValues: [any SQLExpression] {
        [
            SQLBind(id), SQLBind(companyId), SQLBind(communityId), SQLBind(actor), SQLBind(action), SQLBind(subjectType),
            SQLBind(subjectId), sqlValue(reason), sqlValue(beforeState), sqlValue(afterState), SQLBind(createdAt.epochMilliseconds),
        ]
    }
}

/// A reminder that a bill is due soon or overdue; delivery (SMS, WeChat, app) comes with the notifications module.
public struct BillReminder: TenantRecord, Codable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case dueSoon = "due_soon"
        case overdue
    }

    public var id: String
    public var companyId: String
    public var communityId: String
    public var billId: String
    public var kind: Kind
    /// The date the reminder is for; one reminder per bill, kind and date.
    public var forDate: LocalDate
    public var createdAt: Date

    public init(id: String, companyId: String, communityId: String, billId: String, kind: Kind, forDate: LocalDate, createdAt: Date) {
        self.id = id; self.companyId = companyId; self.communityId = communityId; self.billId = billId; self.kind = kind
        self.forDate = forDate; self.createdAt = createdAt
    }

    public static let table = "bill_reminders"
    public static let columns = ["id", "company_id", "community_id", "bill_id", "kind", "for_date", "created_at"]

    public init(row: RowReader) throws {
        self.init(
            id: try row.string("id"), companyId: try row.string("company_id"), communityId: try row.string("community_id"),
            billId: try row.string("bill_id"), kind: try row.value("kind", as: Kind.self), forDate: try row.date("for_date"),
            createdAt: try row.instant("created_at"))
    }

    public var storageValues: [any SQLExpression] {
        [
            SQLBind(id), SQLBind(companyId), SQLBind(communityId), SQLBind(billId), SQLBind(kind.rawValue), SQLBind(forDate.description),
            SQLBind(createdAt.epochMilliseconds),
        ]
    }
}
