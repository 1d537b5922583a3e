import CourtyardDomain
import CourtyardStorage
import Foundation
import Hummingbird

/// A tenant record exposed as a REST collection with list, create, read, update (PATCH) and delete.
///
/// A conformer says where it lives, who may read and write it, which filters
/// it accepts, and how an input becomes a record (``make(_:id:existing:now:store:)``,
/// which validates and resolves references inside the caller's scope). The
/// generic routes in ``ResourceRoutes`` do the rest the same way for every
/// resource.
protocol APIResource: TenantRecord, Codable {
    /// The writable fields, as sent on create and merged on PATCH.
    associatedtype Input: Codable & Sendable

    /// The collection's path segment (`houses`).
    static var path: String { get }
    /// A name for messages and schemas (`House`).
    static var displayName: String { get }
    static var readPermission: Permission { get }
    static var writePermission: Permission { get }
    /// Query parameters accepted as equality filters; each is also the column name.
    static var filters: [String] { get }
    /// Input fields that must be present on create.
    static var requiredInputFields: [String] { get }
    static var example: Self { get }
    /// Text fields whose values take more than one shape, so the document must not declare the example's format for
    /// them (a binding's `target_id` is a house's UUID, or a common-area key such as `lift:<building id>`).
    static var freeFormFields: Set<String> { get }
    static var exampleInput: Input { get }

    /// The record's writable fields, the base onto which a PATCH is merged.
    var input: Input { get }

    /// Validates `input` and builds the record, resolving references through `store` (so only the caller's rows count).
    static func make(_ input: Input, id: String, existing: Self?, now: Date, store: ScopedStore) async throws -> Self

    /// Refuses deleting a row that money depends on (throws a problem); by default anything may be deleted that no row references.
    static func checkDelete(_ record: Self, store: ScopedStore) async throws
}

extension APIResource {
    static func checkDelete(_ record: Self, store: ScopedStore) async throws {}
    static var freeFormFields: Set<String> { [] }
}

/// Collects field issues and throws them together, so a client learns every problem at once.
struct Validator {
    private(set) var issues: [FieldIssue] = []

    mutating func check(_ condition: Bool, _ field: String, _ code: String, _ message: String) {
        if !condition { issues.append(FieldIssue(field: field, code: code, message: message)) }
    }

    /// A trimmed, non-empty text of at most `maxLength` characters.
    mutating func text(_ value: String, _ field: String, maxLength: Int = 120) {
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        check(!trimmed.isEmpty, field, "required", "\(field) must not be empty")
        check(trimmed == value, field, "invalid_format", "\(field) must not start or end with spaces")
        check(value.count <= maxLength, field, "too_long", "\(field) must be at most \(maxLength) characters")
    }

    mutating func optionalText(_ value: String?, _ field: String, maxLength: Int = 120) {
        if let value { text(value, field, maxLength: maxLength) }
    }

    mutating func positive(_ area: Area, _ field: String) {
        check(area.hundredths > 0, field, "must_be_positive", "\(field) must be greater than 0")
    }

    mutating func unchanged<T: Equatable>(_ new: T, _ old: T?, _ field: String) {
        if let old { check(new == old, field, "immutable", "\(field) cannot be changed; create a new record instead") }
    }

    func finish() throws(Problem) {
        if !issues.isEmpty { throw Problem.validation(issues) }
    }
}

extension ScopedStore {
    /// The referenced row, or a 422 naming `field` when it does not exist in the caller's scope.
    func reference<R: TenantRecord>(_ type: R.Type, id: String, field: String) async throws -> R {
        guard let record = try await find(type, id: id) else {
            throw Problem.invalid(field, code: "unknown_reference", "no \(Problem.noun(R.table)) \(id) in your company")
        }
        return record
    }

    /// Like ``reference(_:id:field:)``, and also requires the row to be in `communityId`.
    func reference<R: TenantRecord>(_ type: R.Type, id: String?, field: String, community communityId: String) async throws -> R? {
        guard let id else { return nil }
        let record = try await reference(type, id: id, field: field)
        guard record.communityId == communityId else {
            throw Problem.invalid(field, code: "other_community", "\(field) belongs to another community")
        }
        return record
    }
}
